"""An activity file's rows checked many at a time over its bytes (numpy), for PostgreSQL's
import (``network_import``): a million rows in a fraction of a second, where a Python
object per row took seconds.

The rules stay in one place, ``network_import._parse_row``. What is done here only
*recognises* the plain row, one that rule for rule is certainly accepted: ``YYYY-MM-DD``
(a real day, not after ``latest``), an IMEI of 14–16 digits, an IMSI of 6–15 digits that
starts with the home MCC and an operator's prefix, an MSISDN of 8–15 digits after an
optional ``+``, a radio technology of :data:`RAT_BITS`, no spaces; and it reads its values.
Every other line — blank, a space, a lower-case or unknown radio technology, a wrong
field count, anything malformed — goes to ``_parse_row`` as it always did, which accepts
it or says why not. A real network's file is almost all plain rows.

How: the lines of a block that share a layout (the places of their four commas and their
length) are one matrix of bytes, a view of the file when they follow each other, so each
field is a range of its columns; digits are tested and read eight columns at a time as one
64-bit word. The values are numbers: the IMEI's first 14 digits, the IMSI and MSISDN with
their count of digits (a national MSISDN may begin with 0), the day as days since
1970-01-01, the radio technology's bit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
_Scalar = TypeVar("_Scalar", bound=np.generic)

EPOCH = dt.date(1970, 1, 1)
_LINES_AT_ONCE = 100_000
_DIGIT, _COMMA, _NEWLINE, _DASH, _PLUS, _CR = 48, 44, 10, 45, 43, 13


@dataclass
class ActivityRows:
    """Accepted rows, one array entry per row."""

    day: Ints  # days since 1970-01-01
    imei: Ints  # the first 14 digits, as a number
    imsi: Ints
    imsi_digits: Ints
    msisdn: Ints  # without its '+'
    msisdn_digits: Ints
    rats: Ints

    def __len__(self) -> int:
        return len(self.day)

    @staticmethod
    def of(
        rows: list[tuple[dt.date, str, str, str, int]],
    ) -> ActivityRows:
        """From rows as ``_parse_row`` returns them (the lines that were not plain)."""

        def ints(values: list[int]) -> Ints:
            return np.array(values, dtype=np.int64)

        return ActivityRows(
            day=ints([(day - EPOCH).days for day, *_ in rows]),
            imei=ints([int(imei) for _, imei, _, _, _ in rows]),
            imsi=ints([int(imsi) for _, _, imsi, _, _ in rows]),
            imsi_digits=ints([len(imsi) for _, _, imsi, _, _ in rows]),
            msisdn=ints([int(msisdn) for _, _, _, msisdn, _ in rows]),
            msisdn_digits=ints([len(msisdn) for _, _, _, msisdn, _ in rows]),
            rats=ints([rat for *_, rat in rows]),
        )

    @staticmethod
    def joined(parts: list[ActivityRows]) -> ActivityRows:
        if len(parts) == 1:
            return parts[0]
        return ActivityRows(
            **{
                name: np.concatenate([getattr(part, name) for part in parts])
                if parts
                else np.zeros(0, dtype=np.int64)
                for name in ActivityRows.__dataclass_fields__
            }
        )

    def subset(self, keep: npt.NDArray[np.bool_]) -> ActivityRows:
        return ActivityRows(
            **{name: getattr(self, name)[keep] for name in ActivityRows.__dataclass_fields__}
        )


# What the caller does with a line that is not plain: its number in the file and its text
# -> its values, or None (rejected, or blank: the caller has counted it).
SlowLine = Callable[[int, str], tuple[dt.date, str, str, str, int] | None]


def read_rows(
    body: bytes,
    *,
    first_line: int,
    latest: dt.date,
    home_mcc: str,
    prefixes: tuple[str, ...],
    rat_bits: dict[str, int],
    slow_line: SlowLine,
) -> Iterator[tuple[ActivityRows, int]]:
    """The accepted rows of ``body`` (the lines after the header, numbered from
    ``first_line``), a block of lines at a time, each with the number of plain rows in it
    (the caller counts the others as ``slow_line`` sees them). Lines that are not plain
    go to ``slow_line`` in their order."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == _NEWLINE)
    if len(body) and body[-1:] != b"\n":
        ends = np.append(ends, len(body))  # the last line, unterminated
    rules = _Rules(
        latest_day=(latest - EPOCH).days,
        home_mcc=home_mcc,
        prefixes=prefixes,
        rat_bits=rat_bits,
    )
    for first in range(0, len(ends), _LINES_AT_ONCE):
        block_ends = ends[first : first + _LINES_AT_ONCE]
        starts = np.empty_like(block_ends)
        starts[0] = ends[first - 1] + 1 if first else 0
        starts[1:] = block_ends[:-1] + 1
        plain = np.zeros(len(starts), dtype=bool)
        parts = []
        for lines, layout in _layouts(buf, starts, block_ends):
            matrix = _lines_matrix(buf, starts, lines, layout.length)
            accepted, rows = _plain_rows(matrix, layout, rules)
            plain[lines[accepted]] = True
            parts.append(rows)
        others = []
        for index in np.flatnonzero(~plain).tolist():
            start, end = int(starts[index]), int(block_ends[index])
            values = slow_line(first_line + first + index, body[start:end].decode("utf-8"))
            if values is not None:
                others.append(values)
        if others:
            parts.append(ActivityRows.of(others))
        yield ActivityRows.joined(parts), int(plain.sum())


@dataclass(frozen=True)
class _Rules:
    latest_day: int
    home_mcc: str
    prefixes: tuple[str, ...]
    rat_bits: dict[str, int]


@dataclass(frozen=True)
class _Layout:
    """Where a line's four commas are and how long it is (a "\r" before its newline
    included): lines of one layout are a matrix, each field a range of its columns."""

    commas: tuple[int, int, int, int]
    length: int
    cr: bool

    def field(self, number: int) -> tuple[int, int]:
        """Columns of field ``number`` (0: date … 4: radio technology)."""
        begin = 0 if number == 0 else self.commas[number - 1] + 1
        end = self.commas[number] if number < 4 else self.length - self.cr
        return begin, end


# Longer lines, and layouts of fewer lines than this in a block, go the slow way.
_MOST_LINE = 127
_FEWEST_LINES = 32


def _layouts(
    buf: npt.NDArray[np.uint8], starts: Ints, ends: Ints
) -> Iterator[tuple[Ints, _Layout]]:
    """The block's lines grouped by layout (their indexes in the block), for the layouts
    of enough lines: a real network writes a few (an IMEI of 15 digits or 16, "4G" or
    "LTE")."""
    length = ends - starts
    one = _one_layout(buf, starts, ends)
    if one is not None:
        yield np.arange(len(starts)), one
        return
    commas = starts[0] + np.flatnonzero(buf[starts[0] : ends[-1]] == _COMMA)
    first_comma = np.searchsorted(commas, starts)
    ok = (np.searchsorted(commas, ends) - first_comma == 4) & (length <= _MOST_LINE)
    if not len(commas):
        return
    at = np.minimum(first_comma[:, None] + np.arange(4), len(commas) - 1)
    offsets = commas[at] - starts[:, None]
    cr = (length > 0) & (buf[np.maximum(ends - 1, 0)] == _CR)
    key = length | (offsets[:, 0] << 7) | (offsets[:, 1] << 14) | (offsets[:, 2] << 21)
    key = key | (offsets[:, 3] << 28) | (cr.astype(np.int64) << 35)
    key = np.where(ok, key, -1)
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    for number, (value, count) in enumerate(zip(keys.tolist(), counts.tolist(), strict=True)):
        if value < 0 or count < _FEWEST_LINES:
            continue
        lines = np.flatnonzero(inverse == number)
        yield (
            lines,
            _Layout(
                commas=tuple((value >> shift) & 127 for shift in (7, 14, 21, 28)),  # type: ignore[arg-type]
                length=value & 127,
                cr=bool(value >> 35),
            ),
        )


def _one_layout(buf: npt.NDArray[np.uint8], starts: Ints, ends: Ints) -> _Layout | None:
    """The block's layout when every line has the first line's (a machine's file, most
    often), found without a look at each line's commas: as many commas in the block as
    four a line, each line's at the first line's places. None when they differ."""
    length = int(ends[0] - starts[0])
    if not 0 < length <= _MOST_LINE or not (ends - starts == length).all():
        return None
    first_line = buf[starts[0] : ends[0]]
    offsets = np.flatnonzero(first_line == _COMMA)
    if len(offsets) != 4 or np.count_nonzero(buf[starts[0] : ends[-1]] == _COMMA) != 4 * len(
        starts
    ):
        return None
    for offset in offsets.tolist():
        if not (buf[starts + offset] == _COMMA).all():
            return None
    cr = buf[ends - 1] == _CR
    if not (cr == cr[0]).all():
        return None
    return _Layout(
        commas=tuple(offsets.tolist()),  # type: ignore[arg-type]
        length=length,
        cr=bool(cr[0]),
    )


def _lines_matrix(
    buf: npt.NDArray[np.uint8], starts: Ints, lines: Ints, length: int
) -> npt.NDArray[np.uint8]:
    """The lines as rows of a matrix: a view of the file when they follow each other."""
    first = int(starts[lines[0]])
    if len(lines) == lines[-1] - lines[0] + 1 and (
        len(lines) == 1 or int(starts[lines[1]]) - first == length + 1
    ):
        stop = first + len(lines) * (length + 1)
        if (
            stop <= len(buf)
            and (starts[lines] == first + np.arange(len(lines)) * (length + 1)).all()
        ):
            return np.lib.stride_tricks.as_strided(
                buf[first:], shape=(len(lines), length), strides=(length + 1, 1)
            )
    return buf[starts[lines][:, None] + np.arange(length)]


def _plain_rows(
    matrix: npt.NDArray[np.uint8], layout: _Layout, rules: _Rules
) -> tuple[npt.NDArray[np.bool_], ActivityRows]:
    """Which lines of one layout are plain, and the plain ones' values."""
    count, length = matrix.shape
    fields = [layout.field(number) for number in range(5)]
    (date_at, date_end), (imei_at, imei_end), (imsi_at, imsi_end) = fields[:3]
    (msisdn_at, msisdn_end), (rat_at, rat_end) = fields[3:]
    if not (
        date_end - date_at == 10
        and 14 <= imei_end - imei_at <= 16
        and 6 <= imsi_end - imsi_at <= 15
        and 8 <= msisdn_end - msisdn_at <= 16
        and 1 <= rat_end - rat_at <= 5
    ):
        return np.zeros(count, dtype=bool), ActivityRows.joined([])
    # Eight columns of '0' before each line: a number's first 8-byte word may start there.
    padded = np.full((count, length + 8), _DIGIT, dtype=np.uint8)
    padded[:, 8:] = matrix
    plain, day = _days(matrix, padded, date_at, rules.latest_day)
    # The IMEI's first 14 digits: its first eight, then six of its last eight.
    ok, first_eight = _eight(padded, imei_at + 8, 8)
    plain &= ok
    ok, last_eight = _eight(padded, imei_end, 8)
    plain &= ok
    imei = first_eight * 10**6 + last_eight // 10 ** (imei_end - imei_at - 14) % 10**6
    ok, imsi = _number(padded, imsi_at, imsi_end)
    plain &= ok
    for ok in (
        _starts_with(matrix[:, imsi_at:imsi_end], (rules.home_mcc,)),
        _starts_with(matrix[:, imsi_at:imsi_end], rules.prefixes),
    ):
        plain &= ok
    # The MSISDN: a '+' or its first digit, then the others.
    first = matrix[:, msisdn_at].astype(np.int64) - _DIGIT
    plus = first == _PLUS - _DIGIT
    ok, msisdn = _number(padded, msisdn_at + 1, msisdn_end)
    plain &= ok & (plus | ((first >= 0) & (first <= 9)))
    msisdn_digits = msisdn_end - msisdn_at - plus
    msisdn = np.where(plus, msisdn, first * 10 ** (msisdn_end - msisdn_at - 1) + msisdn)
    plain &= (msisdn_digits >= 8) & (msisdn_digits <= 15)
    bits = np.zeros(count, dtype=np.int64)
    rat = matrix[:, rat_at:rat_end]
    for name, bit in rules.rat_bits.items():
        if len(name) == rat_end - rat_at:
            bits[_starts_with(rat, (name,))] = bit
    plain &= bits > 0

    rows = ActivityRows(
        day=day[plain],
        imei=imei[plain],
        imsi=imsi[plain],
        imsi_digits=np.full(int(plain.sum()), imsi_end - imsi_at, dtype=np.int64),
        msisdn=msisdn[plain],
        msisdn_digits=msisdn_digits[plain],
        rats=bits[plain],
    )
    return plain, rows


def _days(
    matrix: npt.NDArray[np.uint8], padded: npt.NDArray[np.uint8], at: int, latest_day: int
) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Whether each row's date (columns ``at`` to ``at + 10``) is a plain one, a real
    ``YYYY-MM-DD`` from 1900 to ``latest_day``; and its day number. A day's file has one
    date: when every row's is the first row's, it is read once."""
    words = _columns(padded, 8 + at, _DATE)
    if (words == words[0]).all():
        text = bytes(matrix[0, at : at + 10]).decode("latin-1")
        one = _real(text) if _PLAIN_DATE.fullmatch(text) else None
        first = (one - EPOCH).days if one is not None else 0
        plain_one = one is not None and one.year >= 1900 and first <= latest_day
        return np.full(len(words), plain_one), np.full(len(words), first, dtype=np.int64)
    ok, year = _number(padded, at, at + 4)
    plain: npt.NDArray[np.bool_] = ok & (matrix[:, at + 4] == _DASH) & (matrix[:, at + 7] == _DASH)
    ok, month = _number(padded, at + 5, at + 7)
    plain &= ok
    ok, day_of_month = _number(padded, at + 8, at + 10)
    plain &= ok
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    plain &= (year >= 1900) & (month >= 1) & (month <= 12)
    month = np.clip(month, 1, 12)
    days_in_month = _DAYS_IN_MONTH[month - 1] + ((month == 2) & leap)
    plain &= (day_of_month >= 1) & (day_of_month <= days_in_month)
    day = _days_since_1970(year, month, day_of_month)
    plain &= day <= latest_day
    return plain, day


_DATE = np.dtype("V10")
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _real(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


_ZEROS = np.uint64(0x3030303030303030)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)


def _number(padded: npt.NDArray[np.uint8], at: int, end: int) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Whether the line's columns ``at`` to ``end`` (16 at most) are all digits, for each
    row of ``padded`` (the lines after 8 columns of '0'), and the number they make. Eight
    columns at a time, as one 64-bit word: a digit test of its bytes by masks, and their
    value by three multiplications (D. Lemire's parse_eight_digits_unrolled)."""
    ok, value = _eight(padded, end, min(8, end - at))
    if end - at > 8:
        ok_high, high = _eight(padded, end - 8, end - at - 8)
        ok &= ok_high
        value += high * 100_000_000
    return ok, value


def _eight(
    padded: npt.NDArray[np.uint8], end: int, digits: int
) -> tuple[npt.NDArray[np.bool_], Ints]:
    """The ``digits`` (≤ 8) line columns before ``end``: all digits?, and their number."""
    word = _columns(padded, end, np.dtype(np.uint64))
    if digits < 8:  # the columns before them count as '0' (little-endian: the low bytes)
        before = np.uint64((1 << (8 * (8 - digits))) - 1)
        word = (word & ~before) | (_ZEROS & before)
    # A byte is a digit, 0x30-0x39, when its high nibble is 3 and stays 3 after adding 6.
    ok = ((word & _HIGH_NIBBLES) == _ZEROS) & (
        ((word + np.uint64(0x0606060606060606)) & _HIGH_NIBBLES) == _ZEROS
    )
    word = ((word & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    word = ((word & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    word = ((word & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    return ok, word.astype(np.int64)


def _columns(
    padded: npt.NDArray[np.uint8], at: int, kind: np.dtype[_Scalar]
) -> npt.NDArray[_Scalar]:
    """Each row's columns from ``at`` (as many as ``kind`` is long) read as one value of
    ``kind``: a view of the rows at their stride, then copied into an array of its own (in
    half the time of copying the columns out and viewing them)."""
    return np.ndarray(
        (padded.shape[0],), kind, padded, offset=at, strides=(padded.strides[0],)
    ).copy()


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_since_1970(year: Ints, month: Ints, day: Ints) -> Ints:
    """The proleptic Gregorian day number (H. Hinnant's days_from_civil), from 1970-01-01."""
    year = year - (month <= 2)
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146097 + of_cycle - 719468


def _starts_with(matrix: npt.NDArray[np.uint8], prefixes: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Whether each row starts with one of ``prefixes`` (compared column by column: a
    column of a matrix view is cheaper than a row-wise ``all``)."""
    found = np.zeros(matrix.shape[0], dtype=bool)
    for prefix in prefixes:
        code = prefix.encode()
        if 0 < len(code) <= matrix.shape[1]:
            same = matrix[:, 0] == code[0]
            for column in range(1, len(code)):
                same &= matrix[:, column] == code[column]
            found |= same
    return found
