"""The import's reading of a file over its bytes (``network_rows``) against the rules'
one place (``network_import._parse_row``): every line gets the same verdict and the same
values, whichever way it was read."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from mcqs.eir.network_import import RAT_BITS, _parse_row
from mcqs.eir.network_rows import EPOCH, read_rows

LATEST = dt.date(2026, 11, 30)
PREFIXES = ("40001", "40002")


def _line(chance: random.Random) -> str:
    """A line as a network writes it, now and then spoilt the ways real files are."""
    day = LATEST - dt.timedelta(days=chance.randrange(-3, 400))
    date = day.isoformat()
    imei = "".join(chance.choice("0123456789") for _ in range(chance.choice((15, 15, 14, 16))))
    imsi = chance.choice(PREFIXES) + "".join(chance.choice("0123456789") for _ in range(10))
    msisdn = chance.choice(("", "+", "0")) + "99450" + f"{chance.randrange(10**7):07d}"
    rat = chance.choice(("4G", "3G", "LTE", "5G", "NR", "GSM", "WCDMA", "UMTS", "2G"))
    cells = [date, imei, imsi, msisdn, rat]
    spoil = chance.randrange(40)
    if spoil == 0:
        cells[1] = cells[1][:5] + chance.choice("ABCDEF*# ") + cells[1][6:]
    elif spoil == 1:
        cells[1] = cells[1][: chance.randrange(0, 14)]
    elif spoil == 2:
        cells[1] += "12"
    elif spoil == 3:
        cells[2] = "31001" + cells[2][5:]
    elif spoil == 4:
        cells[2] = "40099" + cells[2][5:]
    elif spoil == 5:
        cells[3] = cells[3][:6]
    elif spoil == 6:
        cells[4] = chance.choice(("lte", "4g", "6G", "", "WiFi", "4X", "LTX", "NX", "UMTX"))
    elif spoil == 7:
        cells[0] = chance.choice(
            ("2026-02-30", "2026-13-01", "2026-00-10", "2026-11-00", "20261101", "2026/11/01", "")
        )
    elif spoil == 8:
        cells.append("extra")
    elif spoil == 9:
        cells = cells[:4]
    elif spoil == 10:
        cells[chance.randrange(5)] = " " + cells[chance.randrange(5)] + " "
    elif spoil == 11:
        return chance.choice(("", "   ", "\t"))
    elif spoil == 12:
        cells[0] = (LATEST + dt.timedelta(days=2)).isoformat()
    elif spoil == 13:
        cells[3] = chance.choice(("+", "")) + "9" * chance.choice((7, 16))
    return ",".join(cells) + ("\r" if spoil == 14 else "")


def _expected(lines: list[str]) -> tuple[list[tuple[int, str]], list[tuple[int, ...]]]:
    verdicts, accepted = [], []
    for number, line in enumerate(lines, start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parsed = _parse_row(line, prefixes=PREFIXES, home_mcc="400", latest=LATEST)
        if isinstance(parsed, str):
            verdicts.append((number, parsed))
        else:
            day, imei, imsi, msisdn, rat = parsed
            accepted.append(
                ((day - EPOCH).days, int(imei), int(imsi), len(imsi), int(msisdn), len(msisdn), rat)
            )
    return verdicts, accepted


def _read(body: bytes) -> tuple[list[tuple[int, str]], list[tuple[int, ...]], int]:
    verdicts: list[tuple[int, str]] = []
    accepted: list[tuple[int, ...]] = []
    plain_rows = 0

    def slow_line(number: int, line: str) -> tuple[dt.date, str, str, str, int] | None:
        line = line.rstrip("\r")
        if not line.strip():
            return None
        parsed = _parse_row(line, prefixes=PREFIXES, home_mcc="400", latest=LATEST)
        if isinstance(parsed, str):
            verdicts.append((number, parsed))
            return None
        return parsed

    for rows, plain in read_rows(
        body,
        first_line=2,
        latest=LATEST,
        home_mcc="400",
        prefixes=PREFIXES,
        rat_bits=RAT_BITS,
        slow_line=slow_line,
    ):
        plain_rows += plain
        columns = (
            rows.day,
            rows.imei,
            rows.imsi,
            rows.imsi_digits,
            rows.msisdn,
            rows.msisdn_digits,
            rows.rats,
        )
        accepted += [tuple(int(v) for v in row) for row in zip(*columns, strict=True)]
    return verdicts, accepted, plain_rows


def test_every_line_gets_the_verdict_and_values_of_the_rules() -> None:
    chance = random.Random(8)
    lines = [_line(chance) for _ in range(30_000)]
    # A run of plain lines of one layout (the fast way), then the mixture (grouped by layout).
    lines[:2000] = [
        f"2026-11-01,35332506000{n:04d},400011234{n:06d},994501234567,4G" for n in range(2000)
    ]
    body = "\n".join(lines).encode() + b"\n"
    verdicts, accepted, plain = _read(body)
    expected_verdicts, expected_accepted = _expected(lines)
    assert sorted(verdicts) == expected_verdicts
    assert sorted(accepted) == sorted(expected_accepted)
    assert plain > len(lines) // 2  # most lines were read the fast way
    assert len({reason for _, reason in verdicts}) >= 10


def test_a_file_of_one_layout_is_read_without_a_line_by_line_look() -> None:
    lines = [
        f"2026-11-0{1 + n % 9},3533250600{n:05d},40001{n:010d},+99450{n:07d},LTE\r"
        for n in range(500)
    ]
    body = "\n".join(lines).encode()  # the last line unterminated
    verdicts, accepted, plain = _read(body)
    assert (verdicts, plain) == ([], 500)
    assert sorted(accepted) == sorted(_expected(lines)[1])
    assert np.unique([row[5] for row in accepted]).tolist() == [12]  # the '+' is not a digit


@pytest.mark.parametrize(
    "date", ["2026-11-01", "2026-11-30", "2026-12-01", "2026-02-30", "1899-12-31", "2026-W48-1"]
)
def test_a_days_file_has_its_one_date_read_once_and_judged_as_the_rules_do(date: str) -> None:
    lines = [f"{date},3533250600{n:05d},40001{n:010d},99450{n:07d},4G" for n in range(300)]
    verdicts, accepted, _plain = _read(("\n".join(lines) + "\n").encode())
    expected_verdicts, expected_accepted = _expected(lines)
    assert (verdicts, sorted(accepted)) == (expected_verdicts, sorted(expected_accepted))
