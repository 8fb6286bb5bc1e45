"""RR-interval text files: one interval per line (Kubios / Elite HRV exports) and HRV Logger CSV.

Plain RR text has no clock: beat times are the cumulative sum of the intervals (the first beat
ends the first interval), on the file's own clock. The unit is inferred from the median of the
first intervals (< 10 means seconds, else milliseconds) unless ``?unit=ms|s`` is given.

HRV Logger (Altini) CSV ``date,rr,since start``: ``since start`` (ms) gives each beat's time; when
a beat's interval starts more than 3 s after the previous listed beat, beats are missing and the
chunk from there on is ``gap_before``; the first ``date`` (phone local time, no zone) anchors UTC.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import IRREGULAR_GAP_S, IrregularEmitter, num, parse_local_iso, split_cells, text_lines

HRVLOGGER_HEADER = "date,rr,since start"
UNIT_SCAN = 50


def looks_like_rr_text(lines: list[str]) -> bool:
    """Whether every non-blank line is a number (a plain RR-interval file); ``False`` for no lines."""
    vals = [ln.strip() for ln in lines if ln.strip()]
    if not vals:
        return False
    try:
        [float(v) for v in vals]
    except ValueError:
        return False
    return True


def _check_rr(rr_ms: float, path, line, fld) -> float:
    if not 0 < rr_ms < 60_000:
        raise InputError(f"RR interval {rr_ms!r} ms out of range", path=path, line=line, field=fld,
                         expected="0 < RR < 60000 ms")
    return rr_ms


class RRTextReader(Reader):
    """One RR interval per line, in ms or s."""

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        opts = dict(options or {})
        head = []
        for lineno, line in text_lines(self.path):
            if line.strip():
                head.append(num(line.strip(), self.path, lineno, "RR interval"))
            if len(head) >= UNIT_SCAN:
                break
        if not head:
            raise InputError("empty file", path=self.path, line=1, expected="one RR interval per line")
        unit = opts.get("unit")
        if unit is None:
            unit = "s" if float(np.median(head)) < 10 else "ms"
        if unit not in ("s", "ms"):
            raise InputError(f"unknown unit {unit!r}", path=self.path, field="unit", expected="ms or s")
        self.scale = 1000.0 if unit == "s" else 1.0
        self.streams = [StreamInfo(role, StreamKind.RR, None, (), f"{os.path.basename(self.path)} (RR in {unit})")]

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: the intervals as beats at their cumulative time
        (see :meth:`.Reader.chunks`)."""
        em = IrregularEmitter(self.streams[0], self.path, "RR interval")
        t_ms = 0.0
        for lineno, line in text_lines(self.path):
            if not line.strip():
                continue
            rr = _check_rr(num(line.strip(), self.path, lineno, "RR interval") * self.scale, self.path, lineno,
                           "RR interval")
            t_ms += rr
            yield from em.add(t_ms / 1000.0, rr, lineno)
        yield from em.flush()


class HRVLoggerReader(Reader):
    """HRV Logger CSV: ``date,rr,since start`` (rr and since start in ms)."""

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        it = text_lines(self.path)
        head = next(it, None)
        if head is None:
            raise InputError("empty file", path=self.path, line=1, expected=f"header {HRVLOGGER_HEADER!r}")
        if [c.lower() for c in split_cells(head[1], ",")][:3] != HRVLOGGER_HEADER.split(","):
            raise InputError(f"unknown header {head[1][:60]!r}", path=self.path, line=1, field="header",
                             expected=f"{HRVLOGGER_HEADER!r}")
        first = next(((n, line) for n, line in it if line.strip()), None)
        if first is None:
            raise InputError("no data rows", path=self.path, line=2, expected="at least one data row")
        cells = self._cells(*first)
        since = num(cells[2], self.path, first[0], "since start")
        self.utc_start = parse_local_iso(cells[0], self.path, first[0], "date") - since / 1000.0
        self.streams = [StreamInfo(role, StreamKind.RR, None, (), f"{os.path.basename(self.path)} (phone local time)",
                                   self.utc_start)]

    def _cells(self, lineno, line):
        cells = split_cells(line, ",")
        if len(cells) < 3:
            raise InputError(f"truncated line: {len(cells)} fields", path=self.path, line=lineno,
                             field=["date", "rr", "since start"][len(cells)], expected="3 ','-separated fields")
        return cells

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: the intervals at their ``since start`` time
        (see :meth:`.Reader.chunks`)."""
        em = IrregularEmitter(self.streams[0], self.path, "since start")
        prev = None
        it = text_lines(self.path)
        next(it, None)
        for lineno, line in it:
            if not line.strip():
                continue
            cells = self._cells(lineno, line)
            rr = _check_rr(num(cells[1], self.path, lineno, "rr"), self.path, lineno, "rr")
            ts = num(cells[2], self.path, lineno, "since start") / 1000.0
            # a beat whose own interval does not reach back to the previous beat means beats are missing
            gap = prev is not None and ts - rr / 1000.0 - prev > IRREGULAR_GAP_S
            prev = ts
            yield from em.add(ts, rr, lineno, gap)
        yield from em.flush()
