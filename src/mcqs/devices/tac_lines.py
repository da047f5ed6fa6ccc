"""Plain lines of an Osmocom TAC file, recognised a block at a time over their bytes.

The TAC import's rules (``tac_import._keep_usable``) tidy each row and skip the unusable
ones, at a few microseconds a row in Python. Most lines of a catalogue need none of that:
an 8-digit TAC, then a brand and a model of printable ASCII with no space at either end
and no two spaces together, within the columns' sizes. :func:`plain_block` recognises a
block made only of such lines with numpy, so that their rows can be counted and written
without a Python step per row; any block holding one other line is not plain, and its
lines go through the rules one by one. Nothing here skips a row or decides a reason.

The caller makes sure the file holds no double quote, carriage return or NUL byte: then
every line is one record, its fields split by commas exactly as the csv module would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # numpy.typing brings numpy.ma, 60 ms of a command's start
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]

_NEWLINE, _SPACE, _COMMA, _TAB, _DEL = 10, 32, 44, 9, 127
_TAC_DIGITS = np.arange(8)


@dataclass
class PlainBlock:
    """Lines of a block, each ``TAC,brand,model[,…]``, with the bounds of their fields."""

    data: npt.NDArray[np.uint8]
    starts: Ints  # each line's first byte (its TAC's)
    brand_starts: Ints
    brand_ends: Ints
    model_ends: Ints  # the model starts one byte after its brand ends
    tacs: Ints

    def __len__(self) -> int:
        return len(self.starts)

    def copy_text(self, lines: npt.NDArray[np.bool_], tail: bytes) -> bytes:
        """``TAC<tab>brand<tab>model`` and ``tail`` for each chosen line, one after another:
        rows of COPY's text format (a plain line holds no backslash, tab or newline)."""
        chosen = np.flatnonzero(lines)
        # Keep each chosen line's bytes up to its model's end and the byte there (a comma
        # or the newline), made a newline; the only commas kept are the two that end the
        # TAC and the brand. The block is cut into runs, dropped and kept in turn, and each
        # byte marked with its run's kind (np.repeat: half the CPU of a running sum).
        cuts = np.empty(2 * len(chosen), dtype=np.int64)
        cuts[0::2] = self.starts[chosen]
        cuts[1::2] = self.model_ends[chosen] + 1
        runs = np.diff(cuts, prepend=0, append=len(self.data))
        kinds = np.zeros(len(runs), dtype=bool)
        kinds[1::2] = True
        kept = np.repeat(kinds, runs)
        data = self.data.copy()
        data[self.model_ends] = _NEWLINE
        text = data[kept].tobytes().replace(b",", b"\t")
        return text if tail == b"\n" else text.replace(b"\n", tail)

    def spellings(self) -> tuple[list[str], Ints]:
        """The block's brands in the order first met, and each line's index among them."""
        lengths = self.brand_ends - self.brand_starts
        width = max(int(lengths.max()), 1)
        columns = np.arange(width)
        inside = columns < lengths[:, None]
        matrix = np.zeros((len(self), width), dtype=np.uint8)  # no NUL in a plain brand
        matrix[inside] = self.data[(self.brand_starts[:, None] + columns)[inside]]
        keys = np.ascontiguousarray(matrix).view(f"V{width}").ravel()
        _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # sorted bytes -> first met
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        names = [
            self.data[self.brand_starts[line] : self.brand_ends[line]].tobytes().decode("ascii")
            for line in first[order]
        ]
        return names, rank[inverse.ravel()]


def plain_block(block: bytes, *, brand_max: int, model_max: int) -> PlainBlock | None:
    """The block's lines if every one of them is plain (see the module's docstring), or
    ``None``. ``block`` ends with a newline."""
    if not block.isascii() or b"\\" in block:
        return None
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)
    controls = np.count_nonzero(data < _SPACE) + np.count_nonzero(data == _DEL)
    if controls != len(ends) or len(ends) == 0:  # a tab, a form feed… is not plain
        return None
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    commas = np.flatnonzero(data == _COMMA)
    first = np.searchsorted(commas, starts)
    count = np.searchsorted(commas, ends) - first
    if count.min() < 2:  # a line without a model column
        return None
    tac_ends = commas[first]
    brand_ends = commas[first + 1]
    third = np.minimum(first + 2, len(commas) - 1)
    model_ends = np.where(count > 2, commas[third], ends)
    brand_starts = tac_ends + 1
    model_starts = brand_ends + 1
    brand_lengths = brand_ends - brand_starts
    model_lengths = model_ends - model_starts
    if (
        np.any(tac_ends - starts != 8)
        or brand_lengths.min() < 1
        or model_lengths.min() < 1
        or brand_lengths.max() > brand_max
        or model_lengths.max() > model_max
    ):
        return None
    digits = data[starts[:, None] + _TAC_DIGITS]
    if digits.min() < ord("0") or digits.max() > ord("9"):
        return None
    # No space at either end of a brand or a model, and no two together inside one.
    edges = np.concatenate([brand_starts, brand_ends - 1, model_starts, model_ends - 1])
    if np.any(data[edges] == _SPACE):
        return None
    spaces = data == _SPACE
    doubled = np.flatnonzero(spaces[:-1] & spaces[1:])  # where two spaces start
    if len(doubled):
        # The first pair at or after each field's start must begin past its last byte but one.
        for field_starts, field_ends in ((brand_starts, brand_ends), (model_starts, model_ends)):
            after = np.searchsorted(doubled, field_starts)
            inside = after < len(doubled)
            pair_at = doubled[np.minimum(after, len(doubled) - 1)]
            if np.any(inside & (pair_at < field_ends - 1)):
                return None
    return PlainBlock(data, starts, brand_starts, brand_ends, model_ends, tac_numbers(digits))


def tac_numbers(digits: npt.NDArray[np.uint8]) -> Ints:
    """The numbers of TACs given as rows of 8 ASCII digits."""
    numbers = np.zeros(len(digits), dtype=np.int64)
    for column in digits.T:  # a column at a time: no int64 copy of every digit
        numbers = numbers * 10 + (column - ord("0"))
    return numbers


def bits_set(bitmap: npt.NDArray[np.uint8], numbers: Ints) -> npt.NDArray[np.bool_]:
    """Which numbers have their bit set in ``bitmap`` (one bit per number, as the import's
    bitmaps of TACs)."""
    return ((bitmap[numbers >> 3] >> (numbers & 7).astype(np.uint8)) & 1).astype(bool)


def set_bits(bitmap: npt.NDArray[np.uint8], numbers: Ints) -> None:
    np.bitwise_or.at(bitmap, numbers >> 3, (1 << (numbers & 7)).astype(np.uint8))


def blocks_of_lines(file_bytes: Iterator[bytes]) -> Iterator[bytes]:
    """The bytes read, cut after their last newline (the rest goes with the next read);
    the last block is given a newline if the file has none at its end."""
    rest = b""
    for data in file_bytes:
        cut = data.rfind(b"\n")
        if cut < 0:
            rest += data
            continue
        yield rest + data[: cut + 1]
        rest = data[cut + 1 :]
    if rest:
        yield rest + b"\n"
