"""Frame-wise motion-energy files as MEA and rMEA export them (Ramseyer & Tschacher 2011;
Kleinbub & Ramseyer 2020).

The layout is the one ``rMEA::readMEA`` reads: plain text, one row per video frame, one column
per person, whitespace- (or ``,``/``;``/tab-) separated numbers, optionally a header line of
column names (``"pat" "th"`` in the rMEA example data). There is no clock: frame ``i`` is at
``i / rate`` seconds on the file's own clock (``rate`` = the video's frame rate, 25 by default as
in MEA and the rMEA examples).

Each person's SPEC picks its column, by header name or 1-based number, or one roleless SPEC
names both (default: first column = client, second = therapist, rMEA's patient/therapist order)::

    client=mea:200_01.txt?column=pat  therapist=mea:200_01.txt?column=th
    client=mea:200_01.txt?column=1&rate=30
    mea:200_01.txt                                   (= mea:200_01.txt?client=pat&therapist=th)

A cell ``NA`` / ``NaN`` / empty (R's missing value) is a frame without a value: the chunk
after it starts with ``gap_before``; nothing is filled in.
"""

from __future__ import annotations

import os
import re
from typing import Iterator


from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import BLOCK_ROWS, RegularEmitter, check_rate, num, text_lines

DEFAULT_RATE_HZ = 25.0
#: The role of the roleless ``mea:PATH`` SPEC: one file for the whole dyad.
DYAD_ROLE = "dyad"
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
    """Columns of a frame-wise motion-energy file as ``MOTION`` streams, one per person.

    Parameters
    ----------
    path : str or os.PathLike
        The text file.
    role : str
        Whose column this is; or ``"dyad"`` (the roleless ``mea:PATH`` SPEC) for a file with both
        people: ``?client=COLUMN&therapist=COLUMN``, by default the first column is the client's
        and the second the therapist's (rMEA's patient, therapist order).
    options : Mapping[str, str]
        ``column`` (one person: header name or 1-based number; required when the file has several
        columns), role columns (dyad form) and ``rate`` (frames per second, default 25).
    """

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        opts = dict(options or {})
        self.rate = check_rate(num(opts.pop("rate", str(DEFAULT_RATE_HZ)), self.path, None, "rate",
                                   "a frame rate in Hz, e.g. rate=25"), self.path, "rate")
        first = next(((n, ln) for n, ln in text_lines(self.path) if ln.strip()), None)
        if first is None:
            raise InputError("empty file", path=self.path, line=1, expected="one row of motion energy per frame")
        cells = _cells(first[1])
        self.has_header = not all(_is_number(c) or c.lower() in MISSING for c in cells)
        names = cells if self.has_header else [str(i + 1) for i in range(len(cells))]
        self.n_columns = len(names)
        if role == DYAD_ROLE:
            if "column" in opts:
                raise InputError("column= is for one person's SPEC", path=self.path, field="column",
                                 expected="one column per role, e.g. mea:FILE?client=pat&therapist=th")
            if not opts and len(names) < 2:
                raise InputError(f"{len(names)} column: not a dyad", path=self.path, line=first[0], field="column",
                                 expected="two columns (client, therapist), or ROLE=mea:FILE for one person")
            chosen = {who: self._pick(col, names, first[0], who) for who, col in opts.items()} if opts else \
                {"client": 0, "therapist": 1}
        else:
            unknown = sorted(set(opts) - {"column"})
            if unknown:
                raise InputError(f"option(s) {unknown} do not apply to one person's column", path=self.path,
                                 field="SPEC", expected="column=, rate=; per-role columns only in mea:FILE?client=...")
            chosen = {role: self._pick(opts.get("column"), names, first[0], "column")}
        self.columns = list(chosen.values())
        name = os.path.basename(self.path)
        self.streams = [StreamInfo(who, StreamKind.MOTION, self.rate, (),
                                   f"{name} column {names[col]!r} (motion energy, {self.rate:g} frames/s)")
                        for who, col in chosen.items()]

    def _pick(self, column: str | None, names: list[str], line: int, fld: str) -> int:
        listed = ", ".join(repr(n) for n in names)
        if column is None:
            if len(names) == 1:
                return 0
            raise InputError(f"{len(names)} columns ({listed}): which is this person's?", path=self.path, line=line,
                             field=fld, expected="?column=NAME or ?column=N (1-based)")
        if column in names:
            return names.index(column)
        if column.isdigit() and 1 <= int(column) <= len(names):
            return int(column) - 1
        raise InputError(f"no column {column!r}", path=self.path, line=line, field=fld,
                         expected=f"one of {listed} or a number 1-{len(names)}")

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: one ``MOTION`` stream per person's column
        (see :meth:`.Reader.chunks`)."""
        emitters = [RegularEmitter(s, self.path, "frame") for s in self.streams]
        pending: list[tuple[list[float], list[float], list[int]]] = [([], [], []) for _ in self.streams]

        def flush(i: int) -> list[Chunk]:
            times, values, rows = pending[i]
            pending[i] = ([], [], [])
            return emitters[i].push(times, values, rows) if times else []

        lines = text_lines(self.path)
        if self.has_header:
            next((x for x in lines if x[1].strip()), None)
        frame = 0
        for lineno, line in lines:
            if not line.strip():
                continue
            cells = _cells(line)
            if len(cells) != self.n_columns:
                raise InputError(f"{len(cells)} fields", path=self.path, line=lineno, field="row",
                                 expected=f"{self.n_columns} values per row")
            for i, col in enumerate(self.columns):
                cell = cells[col]
                if cell.lower() in MISSING:
                    # a missing frame: emit what came before, then flag the gap (never filled in)
                    yield from flush(i)
                    emitters[i].mark_gap()
                    continue
                v = num(cell, self.path, lineno, f"column {col + 1}", "a finite motion-energy value")
                if v < 0:
                    raise InputError(f"negative motion energy {v:g}", path=self.path, line=lineno,
                                     field=f"column {col + 1}", expected="motion energy >= 0")
                pending[i][0].append(frame / self.rate)
                pending[i][1].append(v)
                pending[i][2].append(lineno)
            frame += 1
            if frame % BLOCK_ROWS == 0:
                yield from sorted((c for i in range(len(self.columns)) for c in flush(i)), key=lambda c: c.start)
        yield from sorted((c for i in range(len(self.columns)) for c in flush(i)), key=lambda c: c.start)
        if frame == 0:
            raise InputError("no data rows", path=self.path, expected="one row of motion energy per frame")
