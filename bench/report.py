"""What the bench scripts share: the machine's description and docs/benchmarks.md, where
each script owns one ``## `` section and leaves the others as they are."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` gives it (/proc/cpuinfo where there is no lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Model name:\s*(.+)$", out, re.MULTILINE)
        if found:
            return found.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"model name\s*:\s*(.*)", cpuinfo.read_text())
        if names:
            return names[0]
    return "unknown CPU"


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}"
    )


def write_section(path: Path, heading: str, body: str) -> None:
    """Put ``## heading`` with ``body`` into the page at ``path``: replace that section if
    it is there, add it at the end if not, keep every other section."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    head, *sections = re.split(r"(?m)^(?=## )", text)
    new = f"## {heading}\n\n{body.strip()}\n"
    kept = [s.strip() + "\n" for s in sections]
    for n, section in enumerate(kept):
        if section.startswith(f"## {heading}\n"):
            kept[n] = new
            break
    else:
        kept.append(new)
    path.write_text(head.strip() + "\n\n" + "\n".join(kept), encoding="utf-8")
