"""What the PostgreSQL import asks besides the rows: which of a file's IMEIs need a first
sighting (the look-up against eir_imeis), and how many triplet-months the file holds."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from eir_support import DAY0, imei
from sqlalchemy import text

from mcqs.db import Database
from mcqs.eir import network_import
from mcqs.eir.models import BlacklistReason, EirImei
from mcqs.eir.network_rows import ActivityRows

# The look-up as it was asked before the partial index of the never seen (one join that
# reads each known IMEI's row): the new one must find the same.
JOINED_LOOK_UP = """
SELECT f.imei_norm, e.imei_norm IS NOT NULL AS known
FROM unnest(CAST(:imeis AS text[])) AS f(imei_norm)
LEFT JOIN eir_imeis AS e ON e.imei_norm = f.imei_norm
WHERE e.imei_norm IS NULL OR (e.first_seen_at IS NULL AND NOT e.registered
    AND e.grace_until IS NULL AND e.blacklist_reason IS NULL)
"""


@pytest.mark.postgres_only
def test_the_look_up_finds_exactly_the_unknown_and_the_never_seen_unregistered(
    catalogue: Database,
) -> None:
    later = DAY0 + dt.timedelta(days=30)
    kinds = {
        "registered": {"registered": True},
        "withdrawn": {},  # known, unregistered, never seen: its grace period starts
        "clone_never_seen": {"clone": True},
        "in_grace": {"first_seen_at": DAY0, "grace_until": later},
        "seen_by_a_check": {"first_seen_at": DAY0},
        "grace_expired": {
            "first_seen_at": DAY0,
            "grace_until": DAY0,
            "blacklist_reason": BlacklistReason.GRACE_EXPIRED,
        },
        "stolen": {"blacklist_reason": BlacklistReason.STOLEN},
        "registered_stolen": {"registered": True, "blacklist_reason": BlacklistReason.STOLEN},
        "grace_only": {"grace_until": later},
    }
    keys = {kind: imei(500 + n)[:14] for n, kind in enumerate(kinds)}
    # Leading zeros are part of the key (a TAC may begin with 0).
    keys["withdrawn_leading_zero"] = imei(7, tac="01194800")[:14]
    kinds["withdrawn_leading_zero"] = {}
    unknown = [imei(600)[:14], imei(8, tac="01203000")[:14]]
    with catalogue.transaction() as session:
        for kind, values in kinds.items():
            session.add(EirImei(imei_norm=keys[kind], updated_at=DAY0, **values))
    expected = sorted(
        [(keys["withdrawn"], True), (keys["clone_never_seen"], True)]
        + [(keys["withdrawn_leading_zero"], True)]
        + [(key, False) for key in unknown]
    )
    asked = sorted([*keys.values(), *unknown])

    lookup = network_import._FirstSightingLookup(catalogue)
    try:
        # In blocks, with IMEIs met again: each is looked up once, after the last block
        # (asked in statements of two keys: the statements' results are gathered).
        lookup._KEYS_AT_ONCE = 2
        lookup.add(np.array([int(key) for key in asked[:5]] * 2, dtype=np.int64))
        lookup.add(np.array([int(key) for key in asked[3:]], dtype=np.int64))
        lookup.ask()
        distinct, found = lookup.result()
    finally:
        lookup.close()
    assert distinct == len(asked)
    assert sorted(found) == expected

    with catalogue.engine.connect() as connection:
        joined = connection.execute(text(JOINED_LOOK_UP), {"imeis": asked}).all()
        assert sorted((key, bool(known)) for key, known in joined) == expected
        # PostgreSQL proves the query may read the partial index (the same condition's
        # text): the never seen are not looked for among all the IMEIs' rows.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = connection.exec_driver_sql(
            "EXPLAIN " + network_import._FIRST_SIGHTINGS, {"imeis": asked}
        ).all()
        assert "ix_eir_imeis_never_seen_unregistered" in "\n".join(row[0] for row in plan)


def _rows(triplet_days: list[tuple[int, int, int, int]]) -> ActivityRows:
    epoch = dt.date(1970, 1, 1)
    return ActivityRows(
        day=np.array([(dt.date(2026, 11, 1) - epoch).days + d for *_, d in triplet_days]),
        imei=np.array([i for i, *_ in triplet_days]),
        imsi=np.array([s for _, s, _, _ in triplet_days]),
        imsi_digits=np.full(len(triplet_days), 15),
        msisdn=np.array([m for _, _, m, _ in triplet_days]),
        msisdn_digits=np.full(len(triplet_days), 12),
        rats=np.full(len(triplet_days), 4),
    )


def test_triplet_months_are_counted_in_full_even_when_hashes_collide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draw = random.Random(8)
    rows = [
        (
            35332506000000 + draw.randrange(40),
            400011111100000 + draw.randrange(3),
            994501000000 + draw.randrange(2),
            draw.choice((-40, -1, 0, 3, 29, 30, 31)),  # October, November, December
        )
        for _ in range(2000)
    ]
    months = {
        (i, s, m, (dt.date(2026, 11, 1) + dt.timedelta(days=d)).replace(day=1))
        for i, s, m, d in rows
    }

    def counted(*parts: list[tuple[int, int, int, int]]) -> int:
        blocks = [_rows(part) for part in parts]
        hashes = [network_import._triplet_hashes(block) for block in blocks]
        return network_import._triplet_months(blocks, hashes)

    assert counted(rows[:700], rows[700:]) == len(months)
    assert counted(rows[:1] * 5) == 1
    # Every row the same hash: the neighbours differ, so the count is made by the keys.
    monkeypatch.setattr(network_import, "_HASH_FACTORS", (np.uint64(0),) * 3)
    assert counted(rows[:700], rows[700:]) == len(months)
    assert counted(rows[:1] * 5) == 1
    assert counted() == 0


def test_the_look_ups_keys_go_as_the_text_of_one_array() -> None:
    # 14 digits each, leading zeros kept (a TAC may begin with 0), PostgreSQL's array syntax.
    keys = np.array([1194800000007, 35332506000001, 99999999999999], dtype=np.int64)
    assert network_import._text_array(keys) == "{01194800000007,35332506000001,99999999999999}"
    assert network_import._text_array(keys[:0]) == "{}"
