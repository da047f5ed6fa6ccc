"""Every process calls ``mcqs.wiring.connect()`` first; after it, every foreign key of
every table must resolve, whatever else the process imported (the worker imports few of
the domains' models, and once could not write an application: staff_accounts unknown)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from mcqs.wiring import connect
connect()
from mcqs.db import Base
for table in Base.metadata.tables.values():
    for key in table.foreign_keys:
        key.column  # raises NoReferencedTableError when the table is not mapped
print(len(Base.metadata.tables))
"""


def test_after_connect_every_foreign_key_resolves_in_a_fresh_process() -> None:
    # A fresh interpreter: this test process has imported every model already.
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 30
