"""Empatica E4 export folder: several streams of one person.

Each signal file starts with the start time (Unix seconds, UTC) on row 1 and the sample rate on
row 2 (one value per column), then one sample per row::

    BVP.csv  64 Hz -> PPG          EDA.csv  4 Hz -> EDA (uS)     TEMP.csv 4 Hz -> TEMP (degC)
    HR.csv   1 Hz -> HR (bpm)      ACC.csv 32 Hz, 3 columns in 1/64 g -> ACC (mg)
    IBI.csv  row 1 "<start>, IBI", then "seconds since start, interval in s" -> RR (ms)
    tags.csv one Unix time per row (button presses) -> annotations()

All streams share one clock: ``utc_start`` is the earliest file start. IBI rows are beats the
E4 accepted; when a beat's interval does not reach back to the previous listed beat, beats are
missing (the E4 drops them during motion) and the chunk from there on is ``gap_before``.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import (
    BLOCK_ROWS,
    IrregularEmitter,
    RegularEmitter,
    check_rate,
    merge_chunks,
    num,
    split_cells,
    text_lines,
)

SIGNALS = {
    "BVP.csv": (StreamKind.PPG, 1, 1.0),
    "EDA.csv": (StreamKind.EDA, 1, 1.0),
    "TEMP.csv": (StreamKind.TEMP, 1, 1.0),
    "HR.csv": (StreamKind.HR, 1, 1.0),
    "ACC.csv": (StreamKind.ACC, 3, 1000.0 / 64.0),
}
#: A listed beat whose interval starts more than this after the previous listed beat: beats missing.
IBI_HOLE_S = 0.25


def is_e4_folder(path) -> bool:
    """Whether ``path`` is a folder holding at least one E4 signal file (``EDA.csv``, ``IBI.csv``, ...)."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, f)) for f in list(SIGNALS) + ["IBI.csv"])


class E4Reader(Reader):
    """An unzipped Empatica E4 session folder."""

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise InputError("not a folder", path=self.path, expected="an unzipped Empatica E4 export folder")
        self.files: list[tuple[str, StreamKind, int, float, float, float]] = []
        starts = []
        for name, (kind, ncol, scale) in SIGNALS.items():
            f = os.path.join(self.path, name)
            if not os.path.isfile(f):
                continue
            start, rate = self._header(f, ncol)
            self.files.append((f, kind, ncol, scale, start, rate))
            starts.append(start)
        ibi = os.path.join(self.path, "IBI.csv")
        self.ibi_start = None
        if os.path.isfile(ibi):
            it = text_lines(ibi)
            head = next(it, None)
            if head is None:
                raise InputError("empty file", path=ibi, line=1, expected="'<start>, IBI'")
            cells = split_cells(head[1], ",")
            if len(cells) < 2 or cells[1].upper() != "IBI":
                raise InputError(f"unknown header {head[1][:60]!r}", path=ibi, line=1, field="header",
                                 expected="'<unix start>, IBI'")
            self.ibi_start = num(cells[0], ibi, 1, "start", "a Unix time")
            starts.append(self.ibi_start)
        if not starts:
            raise InputError("no E4 signal files", path=self.path,
                             expected="BVP.csv, EDA.csv, HR.csv, ACC.csv, TEMP.csv or IBI.csv")
        self.utc_start = min(starts)
        name = os.path.basename(os.path.normpath(self.path))
        self.streams = []
        self._stream_of = {}
        for f, kind, ncol, scale, start, rate in self.files:
            st = StreamInfo(role, kind, rate, ("x", "y", "z") if ncol == 3 else (),
                            f"{name}/{os.path.basename(f)}", self.utc_start)
            self.streams.append(st)
            self._stream_of[f] = st
        if self.ibi_start is not None:
            self.ibi_stream = StreamInfo(role, StreamKind.RR, None, (), f"{name}/IBI.csv", self.utc_start)
            self.streams.append(self.ibi_stream)

    def _header(self, f, ncol) -> tuple[float, float]:
        rows = []
        for lineno, line in text_lines(f):
            cells = split_cells(line, ",")
            if len(cells) < ncol:
                raise InputError(f"truncated line: {len(cells)} fields", path=f, line=lineno,
                                 expected=f"{ncol} ',' separated fields")
            rows.append(cells)
            if len(rows) == 2:
                break
        if len(rows) < 2:
            raise InputError("missing header rows", path=f, line=len(rows) + 1,
                             expected="row 1 = start (Unix time), row 2 = sample rate (Hz)")
        start = num(rows[0][0], f, 1, "start", "a Unix time in seconds")
        if not 1e8 < start < 1e10:
            raise InputError(f"start {start!r} is not a plausible Unix time", path=f, line=1, field="start",
                             expected="a Unix time in seconds")
        rate = check_rate(num(rows[1][0], f, 2, "rate", "a sample rate in Hz"), f, "rate", 2)
        return start, rate

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: each signal file's chunks, merged, and the inter-beat intervals
        (see :meth:`.Reader.chunks`)."""
        gens = [self._signal(*spec) for spec in self.files]
        if self.ibi_start is not None:
            gens.append(self._ibi())
        return merge_chunks(gens)

    def _signal(self, f, kind, ncol, scale, start, rate) -> Iterator[Chunk]:
        st = self._stream_of[f]
        em = RegularEmitter(st, f, "row")
        t0 = start - self.utc_start
        i = 0
        t, v, ln = [], [], []
        for lineno, line in text_lines(f):
            if lineno <= 2 or not line.strip():
                continue
            cells = split_cells(line, ",")
            if len(cells) < ncol:
                raise InputError(f"truncated line: {len(cells)} fields", path=f, line=lineno,
                                 field=f"column {len(cells) + 1}", expected=f"{ncol} fields")
            v.append([num(cells[k], f, lineno, f"column {k + 1}") * scale for k in range(ncol)])
            t.append(t0 + i / rate)
            ln.append(lineno)
            i += 1
            if len(t) >= BLOCK_ROWS:
                yield from em.push(t, _arr(v, ncol), ln)
                t, v, ln = [], [], []
        yield from em.push(t, _arr(v, ncol), ln)

    def _ibi(self) -> Iterator[Chunk]:
        f = os.path.join(self.path, "IBI.csv")
        em = IrregularEmitter(self.ibi_stream, f, "time")
        off = self.ibi_start - self.utc_start
        prev = None
        for lineno, line in text_lines(f):
            if lineno == 1 or not line.strip():
                continue
            cells = split_cells(line, ",")
            if len(cells) < 2:
                raise InputError(f"truncated line: {len(cells)} fields", path=f, line=lineno, field="IBI",
                                 expected="'seconds since start, interval in s'")
            ts = num(cells[0], f, lineno, "time")
            ibi = num(cells[1], f, lineno, "IBI")
            if not 0 < ibi < 60:
                raise InputError(f"interval {ibi!r} s out of range", path=f, line=lineno, field="IBI",
                                 expected="0 < IBI < 60 s")
            gap = prev is not None and ts - ibi - prev > IBI_HOLE_S
            prev = ts
            yield from em.add(off + ts, ibi * 1000.0, lineno, gap)
        yield from em.flush()

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """The tag-button presses of ``tags.csv`` as ``(t, None, "tag")``, ``t`` in s since the earliest file start."""
        f = os.path.join(self.path, "tags.csv")
        if not os.path.isfile(f):
            return []
        out = []
        for lineno, line in text_lines(f):
            if line.strip():
                out.append((num(split_cells(line, ",")[0], f, lineno, "tag time", "a Unix time") - self.utc_start,
                            None, "tag"))
        return out


def _arr(v, ncol):
    a = np.asarray(v, dtype=float)
    return a.reshape(-1) if ncol == 1 else a.reshape(-1, ncol)
