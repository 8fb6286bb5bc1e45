"""Generic delimited text (CSV/TSV/semicolon) with a column mapping given in the SPEC options.

Options::

    time=COLUMN:UNIT        UNIT in s, ms, us, ns, iso (ISO 8601; naive times read as UTC)
    rate=HZ                 instead of a time column: row i is at i / HZ seconds
    ecg=COLUMN:UNIT         UNIT V, mV, uV        -> uV
    rr=COLUMN:UNIT          s, ms                 -> ms (irregular: rows where the cell is filled)
    hr=COLUMN[:bpm]                               -> irregular HR at the filled rows
    eda=COLUMN[:UNIT]       uS, nS, S -> uS; other units are kept and named in the label
    ppg=, resp=, temp=COLUMN                      (arbitrary units / degC)
    ppg=-COLUMN             the column negated: light intensity (a phone camera's frames, a raw
                            optical sensor) falls as blood volume rises; pulses must point up
    acc=X,Y,Z[:UNIT]        g, mg, m/s2           -> mg
    sep=, | ; | tab         (default: guessed from the header line)

Without any signal mapping, columns are mapped by name when the name carries the kind and unit
(``ecg_mV``, ``rr_ms``, ``hr_bpm``, ``time_ns``, ``ECG [uV]``, ``EDA``...). An empty cell means
"no value here": sparse columns (RR, HR) become irregular streams; an empty cell in a regular
column ends the chunk and flags the next one ``gap_before`` (never interpolated).
Absolute times (> 1e8 s since 1970) set ``utc_start`` and the stream clock starts at the first row.
Regular columns whose timestamps jitter by more than a quarter period (a phone camera's frame times)
are put on a uniform grid at their mean rate (:class:`._common.RegularEmitter`, ``resample``).
"""

from __future__ import annotations

import os
import re
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
    jittery,
    num,
    parse_local_iso,
    robust_rate,
    split_cells,
    text_lines,
)

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "iso": None}
UNIT_SCALE = {
    "ecg": {"v": 1e6, "mv": 1e3, "uv": 1.0, "µv": 1.0},
    "rr": {"s": 1000.0, "ms": 1.0},
    "hr": {"bpm": 1.0},
    "eda": {"us": 1.0, "µs": 1.0, "ns": 1e-3, "s": 1e6},
    "acc": {"g": 1000.0, "mg": 1.0, "m/s2": 1000.0 / 9.80665, "m/s^2": 1000.0 / 9.80665},
}
KINDS = {
    "ecg": StreamKind.ECG, "rr": StreamKind.RR, "hr": StreamKind.HR, "eda": StreamKind.EDA,
    "ppg": StreamKind.PPG, "resp": StreamKind.RESP, "temp": StreamKind.TEMP, "acc": StreamKind.ACC,
}
IRREGULAR = {"rr", "hr"}
NAME_ALIASES = {
    "ecg": ("ecg", "ekg"), "rr": ("rr", "ibi", "rri"), "hr": ("hr", "heart_rate", "heartrate"),
    "eda": ("eda", "gsr", "scl"), "ppg": ("ppg", "bvp", "pleth"), "resp": ("resp", "rsp"), "temp": ("temp",),
}
_NAME_UNIT = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*(?:[_ ]\s*|\[|\()\s*([µA-Za-z/^0-9]+)\s*[\])]?\s*$")
ABS_EPOCH_S = 1e8


def _split_unit(value: str) -> tuple[str, str | None]:
    col, sep, unit = value.rpartition(":")
    if not sep:
        return value, None
    return col, unit


class CsvReader(Reader):
    """Delimited text with a time column (or a fixed rate) and mapped signal columns."""

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        opts = dict(options or {})
        it = text_lines(self.path)
        head = next(it, None)
        if head is None or not head[1].strip():
            raise InputError("empty file", path=self.path, line=1, expected="a header line with column names")
        sep = opts.get("sep")
        sep = {"tab": "\t", "comma": ",", "semicolon": ";"}.get(sep, sep) if sep else None
        if sep is None:
            sep = max([",", ";", "\t"], key=head[1].count)
        self.sep = sep
        self.header = split_cells(head[1], sep)
        if len(set(self.header)) != len(self.header):
            raise InputError("duplicate column names", path=self.path, line=1, field="header",
                             expected="unique column names")
        self.col = {name: i for i, name in enumerate(self.header)}
        maps = {k: v for k, v in opts.items() if k in KINDS}
        unknown = set(opts) - set(KINDS) - {"time", "rate", "sep", "format"}
        if unknown:
            raise InputError(f"unknown option(s) {sorted(unknown)}", path=self.path, field="SPEC",
                             expected="time, rate, sep and " + ", ".join(KINDS))
        time_opt = opts.get("time")
        if not maps:
            maps, auto_time = self._automap()
            time_opt = time_opt or auto_time
        if not maps:
            raise InputError(
                f"no signal column mapped (columns: {', '.join(self.header)[:120]})", path=self.path,
                field="SPEC", expected="options like ?time=t:s&ecg=ECG:mV (see the formats table)",
            )
        # -- time --
        self.time_idx = None
        self.time_scale = None
        self.row_rate = None
        if time_opt:
            tcol, tunit = _split_unit(time_opt)
            tunit = (tunit or "s").lower()
            if tunit not in TIME_UNITS:
                raise InputError(f"unknown time unit {tunit!r}", path=self.path, field="time",
                                 expected="s, ms, us, ns or iso")
            self.time_idx = self._index(tcol, "time")
            self.time_unit = tunit
            self.time_scale = TIME_UNITS[tunit]
            self.time_name = tcol
        elif "rate" in opts:
            self.row_rate = check_rate(num(opts["rate"], self.path, None, "rate", "a rate in Hz"), self.path, "rate")
        else:
            raise InputError("no time column and no rate", path=self.path, field="SPEC",
                             expected="?time=COLUMN:UNIT or ?rate=HZ")
        # -- signals --
        self.sig: list[tuple[str, list[int], float]] = []
        labels: dict[str, str] = {}
        for key, value in maps.items():
            col, unit = _split_unit(value)
            sign = 1.0
            if key == "ppg" and col.startswith("-") and col[1:] in self.col and col not in self.col:
                # received light (a phone camera, a raw optical sensor) falls as blood volume
                # rises: "-COLUMN" turns its pulses up, as the PPG detector expects
                col, sign = col[1:], -1.0
            cols = [c.strip() for c in col.split(",")] if key == "acc" else [col]
            if key == "acc" and len(cols) != 3:
                raise InputError(f"acc needs 3 columns, got {col!r}", path=self.path, field="acc",
                                 expected="acc=X,Y,Z[:UNIT]")
            idx = [self._index(c, key) for c in cols]
            scale, note = self._scale(key, unit)
            self.sig.append((key, idx, sign * scale))
            labels[key] = note
        # -- first rows: check the cells parse, estimate rates, find the clock origin --
        self.t_first, self.utc_start, probe = self._probe()
        self.streams: list[StreamInfo] = []
        self.jittery: set[str] = set()  # regular columns put on a uniform grid (RegularEmitter)
        name = os.path.basename(self.path)
        for key, idx, _ in self.sig:
            if key in IRREGULAR:
                rate = None
            elif self.row_rate is not None:
                rate = self.row_rate
            else:
                ts = probe.get(key, [])
                rate = robust_rate(np.array(ts), self.path, f"{self.time_name} (rows with {key})")
                if jittery(np.array(ts), rate):  # e.g. a phone camera's frame times
                    self.jittery.add(key)
            kind = KINDS[key]
            self.streams.append(StreamInfo(role, kind, rate, ("x", "y", "z") if key == "acc" else (),
                                           name + labels[key], self.utc_start))

    def _index(self, col: str, fld: str) -> int:
        if col not in self.col:
            raise InputError(
                f"column {col!r} not in the file", path=self.path, line=1, field=fld,
                expected="one of " + ", ".join(repr(c) for c in self.header)[:200],
            )
        return self.col[col]

    def _scale(self, key: str, unit: str | None) -> tuple[float, str]:
        table = UNIT_SCALE.get(key)
        if table is None:
            return 1.0, ""
        if unit is None:
            if key == "hr":
                return 1.0, ""
            if key == "acc":
                return 1.0, " (acc assumed mg)"
            raise InputError(f"no unit given for {key}", path=self.path, field=key,
                             expected=f"{key}=COLUMN:UNIT with UNIT in {', '.join(table)}")
        u = unit.strip().lower().replace("μ", "µ")
        if u in table:
            return table[u], ""
        if key == "eda":
            return 1.0, f" (EDA in {unit}, not converted)"
        raise InputError(f"unknown unit {unit!r} for {key}", path=self.path, field=key,
                         expected="one of " + ", ".join(table))

    def _automap(self) -> tuple[dict[str, str], str | None]:
        maps: dict[str, str] = {}
        time_opt = None
        for name in self.header:
            m = _NAME_UNIT.match(name)
            base, unit = (m.group(1), m.group(2)) if m else (name.strip(), None)
            b = base.lower().strip()
            if b in ("time", "timestamp", "t") and time_opt is None:
                time_opt = f"{name}:{unit}" if unit and unit.lower() in TIME_UNITS else None
                continue
            for key, aliases in NAME_ALIASES.items():
                if b in aliases and key not in maps:
                    if unit is None and key in ("ecg", "rr") and b in aliases:
                        raise InputError(
                            f"column {name!r} has no unit in its name", path=self.path, line=1, field=name,
                            expected=f"a mapping like ?{key}={name}:UNIT",
                        )
                    maps[key] = f"{name}:{unit}" if unit else name
        return maps, time_opt

    # -- rows --------------------------------------------------------------------------------
    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        it = text_lines(self.path)
        next(it, None)
        n = len(self.header)
        for lineno, line in it:
            if not line.strip():
                continue
            cells = split_cells(line, self.sep)
            if len(cells) < n:
                raise InputError(f"truncated line: {len(cells)} fields", path=self.path, line=lineno,
                                 field=self.header[len(cells)], expected=f"{n} fields")
            yield lineno, cells

    def _time(self, cells, lineno, rowno) -> float:
        """Seconds (absolute or file-relative) of one row."""
        if self.row_rate is not None:
            return rowno / self.row_rate
        text = cells[self.time_idx]
        if self.time_scale is None:
            return parse_local_iso(text, self.path, lineno, self.time_name)
        if self.time_scale < 1 and text.lstrip("-").isdigit() and len(text) <= 20:
            # integer ns/us/ms epochs: keep exact integer arithmetic until the origin is removed
            return int(text)
        return num(text, self.path, lineno, self.time_name, f"a time in {self.time_unit}")

    def _seconds(self, raw) -> float:
        if self.row_rate is not None or self.time_scale is None:
            return raw - self.t_first
        return (raw - self.t_first) * self.time_scale

    def _probe(self):
        probe: dict[str, list[float]] = {}
        t_first = None
        nrows = 0
        for rowno, (lineno, cells) in enumerate(self._rows()):
            raw = self._time(cells, lineno, rowno)
            if t_first is None:
                t_first = raw
            for key, idx, _ in self.sig:
                if all(cells[i] != "" for i in idx):
                    for i in idx:
                        num(cells[i], self.path, lineno, self.header[i])
                    if self.row_rate is None:
                        probe.setdefault(key, []).append(float(raw - t_first) * (self.time_scale or 1.0))
            nrows += 1
            if nrows >= BLOCK_ROWS:
                break
        if t_first is None:
            raise InputError("no data rows", path=self.path, line=2, expected="at least one data row")
        utc = None
        if self.row_rate is None:
            first_s = float(t_first) * (self.time_scale or 1.0)
            if self.time_scale is None or first_s > ABS_EPOCH_S:
                utc = first_s
            else:
                t_first = 0  # relative times are already "seconds since file start"
        else:
            t_first = 0
        return t_first, utc, probe

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: one stream per mapped column (see :meth:`.Reader.chunks`)."""
        ems = []
        for (key, idx, scale), st in zip(self.sig, self.streams):
            fld = self.time_name if self.row_rate is None else "row"
            ems.append(IrregularEmitter(st, self.path, fld) if st.rate is None
                       else RegularEmitter(st, self.path, fld, resample=key in self.jittery))
        bufs = [([], [], []) for _ in self.sig]
        early: list[Chunk] = []  # chunks cut at a hole inside a block, kept for ordering

        def flush():
            out = list(early)
            early.clear()
            for em, (t, v, ln), (key, idx, _) in zip(ems, bufs, self.sig):
                vals = np.asarray(v, dtype=float)
                if key == "acc":
                    vals = vals.reshape(-1, 3)
                out.extend(em.push(t, vals, ln))
                t.clear()
                v.clear()
                ln.clear()
            out.sort(key=lambda c: c.start)
            return out

        nrows = 0
        hole = [False] * len(self.sig)
        for rowno, (lineno, cells) in enumerate(self._rows()):
            t = self._seconds(self._time(cells, lineno, rowno))
            for k, (em, buf, (key, idx, scale)) in enumerate(zip(ems, bufs, self.sig)):
                texts = [cells[i] for i in idx]
                if any(x == "" for x in texts):
                    hole[k] = isinstance(em, RegularEmitter)  # sparse irregular columns have no holes
                    continue
                vals = [num(x, self.path, lineno, self.header[i]) * scale for x, i in zip(texts, idx)]
                if hole[k]:
                    # missing samples of a regular stream: close what came before, flag what follows
                    tt, vv, ll = buf
                    if tt:
                        early.extend(em.push(tt, np.asarray(vv).reshape(-1, 3) if key == "acc" else vv, ll))
                        tt.clear(), vv.clear(), ll.clear()
                    em.mark_gap()
                    hole[k] = False
                buf[0].append(float(t))
                buf[1].append(vals if key == "acc" else vals[0])
                buf[2].append(lineno)
            nrows += 1
            if nrows % BLOCK_ROWS == 0:
                yield from flush()
        yield from flush()
