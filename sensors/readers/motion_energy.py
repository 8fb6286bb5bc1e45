"""Frame-wise motion-energy files as MEA and rMEA export them (Ramseyer & Tschacher 2011;
Kleinbub & Ramseyer 2020).

The layout is the one ``rMEA::readMEA`` reads: plain text, one row per video frame, one column
per person, whitespace- (or ``,``/``;``/tab-) separated numbers, optionally a header line of
column names (``"pat" "th"`` in the rMEA example data). There is no clock: frame ``i`` is at
``i / rate`` seconds on the file's own clock (``rate`` = the video's frame rate, 25 by default as
in MEA and the rMEA examples).

Each person's SPEC picks its column, by header name or 1-based number::

    client=mea:200_01.txt?column=pat  therapist=mea:200_01.txt?column=th
    client=mea:200_01.txt?column=1&rate=30

A cell ``NA`` / ``NaN`` / empty (R's missing value) is a frame without a value: the chunk
after it starts with ``gap_before``; nothing is filled in.
"""

from __future__ import annotations

import os
import re
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import BLOCK_ROWS, RegularEmitter, check_rate, num, text_lines

DEFAULT_RATE_HZ = 25.0
MISSING = frozenset({"na", "nan", ""})
_SEP = re.compile(r"[\s,;]+")


def _cells(line: str) -> list[str]:
    return [c.strip('"\'') for c in _SEP.split(line.strip())]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def looks_like_motion_energy(lines: list[str]) -> bool:
    """A quoted header of names (``"pat" "th"``) over rows of as many numbers: rMEA's layout.

    Only the quoted header is taken as proof (bare numbers could be RR text or CSV)."""
    rows = [ln for ln in lines if ln.strip()]
    if len(rows) < 2 or '"' not in rows[0]:
        return False
    names = _cells(rows[0])
    if not names or any(_is_number(n) for n in names):
        return False
    for ln in rows[1:20]:
        cells = _cells(ln)
        if len(cells) != len(names) or not all(_is_number(c) or c.lower() in MISSING for c in cells):
            return False
    return True


class MotionEnergyReader(Reader):
    """One person's column of a frame-wise motion-energy file as a ``MOTION`` stream.

    Parameters
    ----------
    path : str or os.PathLike
        The text file.
    role : str
        Whose column this is.
    options : Mapping[str, str]
        ``column`` (header name or 1-based number; required when the file has several columns)
        and ``rate`` (frames per second, default 25).
    """

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        opts = dict(options or {})
        self.rate = check_rate(num(opts.get("rate", str(DEFAULT_RATE_HZ)), self.path, None, "rate",
                                   "a frame rate in Hz, e.g. rate=25"), self.path, "rate")
        first = next(((n, ln) for n, ln in text_lines(self.path) if ln.strip()), None)
        if first is None:
            raise InputError("empty file", path=self.path, line=1, expected="one row of motion energy per frame")
        cells = _cells(first[1])
        self.has_header = not all(_is_number(c) or c.lower() in MISSING for c in cells)
        names = cells if self.has_header else [str(i + 1) for i in range(len(cells))]
        self.n_columns = len(names)
        self.column = self._pick(opts.get("column"), names, first[0])
        label = f"{os.path.basename(self.path)} column {names[self.column]!r} (motion energy, {self.rate:g} frames/s)"
        self.streams = [StreamInfo(role, StreamKind.MOTION, self.rate, (), label)]

    def _pick(self, column: str | None, names: list[str], line: int) -> int:
        listed = ", ".join(repr(n) for n in names)
        if column is None:
            if len(names) == 1:
                return 0
            raise InputError(f"{len(names)} columns ({listed}): which is this person's?", path=self.path, line=line,
                             field="column", expected="?column=NAME or ?column=N (1-based)")
        if column in names:
            return names.index(column)
        if column.isdigit() and 1 <= int(column) <= len(names):
            return int(column) - 1
        raise InputError(f"no column {column!r}", path=self.path, line=line, field="column",
                         expected=f"one of {listed} or a number 1-{len(names)}")

    def chunks(self) -> Iterator[Chunk]:
        em = RegularEmitter(self.streams[0], self.path, "frame")
        lines = text_lines(self.path)
        if self.has_header:
            next((x for x in lines if x[1].strip()), None)
        frame = 0
        times: list[float] = []
        values: list[float] = []
        rows: list[int] = []
        for lineno, line in lines:
            if not line.strip():
                continue
            cells = _cells(line)
            if len(cells) != self.n_columns:
                raise InputError(f"{len(cells)} fields", path=self.path, line=lineno, field="row",
                                 expected=f"{self.n_columns} values per row")
            cell = cells[self.column]
            if cell.lower() in MISSING:
                # a missing frame: emit what came before, then flag the gap (never filled in)
                if times:
                    yield from em.push(times, values, rows)
                    times, values, rows = [], [], []
                em.mark_gap()
            else:
                v = num(cell, self.path, lineno, f"column {self.column + 1}", "a finite motion-energy value")
                if v < 0:
                    raise InputError(f"negative motion energy {v:g}", path=self.path, line=lineno,
                                     field=f"column {self.column + 1}", expected="motion energy >= 0")
                times.append(frame / self.rate)
                values.append(v)
                rows.append(lineno)
            frame += 1
            if len(times) >= BLOCK_ROWS:
                yield from em.push(times, values, rows)
                times, values, rows = [], [], []
        if times:
            yield from em.push(times, values, rows)
        if frame == 0:
            raise InputError("no data rows", path=self.path, expected="one row of motion energy per frame")
