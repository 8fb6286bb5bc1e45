"""Helpers shared by the readers: strict number parsing, chunk emitters with gap detection.

Readers turn rows into chunks through :class:`RegularEmitter` / :class:`IrregularEmitter`, so
that all formats agree on what a gap is (never interpolated, only flagged) and on the error
raised for timestamps that go backwards.
"""

from __future__ import annotations

import heapq
import math
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import numpy as np

from ..chunk import Chunk, StreamInfo
from ..errors import InputError

#: Target duration of one chunk (seconds of data).
CHUNK_S = 1.0
#: Rows read per block by the text readers (bounded memory whatever the file length).
BLOCK_ROWS = 4096
#: A regular stream has a gap when consecutive samples are more than this many periods apart.
GAP_PERIODS = 3.0
#: An irregular (RR, HR) stream has a gap when consecutive events are more than this far apart.
IRREGULAR_GAP_S = 3.0
#: Plausible sample rates (Hz); anything outside is an unreadable header, not data.
MIN_RATE, MAX_RATE = 1e-3, 400_000.0


def num(text: str, path, line: int | None, fld: str, expected: str = "a finite number") -> float:
    """Parse a finite float or raise an :class:`InputError` naming file, line and field."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise InputError(f"not a number: {str(text)[:40]!r}", path=path, line=line, field=fld, expected=expected) from None
    if not math.isfinite(v):
        raise InputError(f"not a finite number: {text!r}", path=path, line=line, field=fld, expected=expected)
    return v


def check_rate(rate: float, path, fld: str, line: int | None = None) -> float:
    if not (MIN_RATE <= rate <= MAX_RATE) or not math.isfinite(rate):
        raise InputError(
            f"implausible sample rate {rate!r} Hz", path=path, line=line, field=fld,
            expected=f"a rate between {MIN_RATE} and {MAX_RATE:g} Hz",
        )
    return float(rate)


def parse_local_iso(text: str, path, line: int, fld: str) -> float:
    """Parse an ISO 8601 time; naive times (no zone) are read as UTC (callers label it)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"not a timestamp: {text.strip()[:40]!r}", path=path, line=line, field=fld,
            expected="an ISO 8601 time like 2024-05-05T14:50:00.123",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def text_lines(path) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line without newline)``; undecodable bytes become InputError."""
    lineno = 0
    try:
        with open(path, encoding="utf-8-sig", newline=None) as f:
            for lineno, raw in enumerate(f, 1):
                if "\x00" in raw:
                    raise InputError("NUL byte in a text file", path=path, line=lineno, expected="a UTF-8 text file")
                yield lineno, raw.rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path, line=lineno + 1, expected="a UTF-8 text file") from None
    except IsADirectoryError:
        raise InputError("is a folder", path=path, expected="a file") from None


def split_cells(line: str, sep: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(sep)]


def merge_chunks(gens: Iterable[Iterator[Chunk]]) -> Iterator[Chunk]:
    """Merge per-stream chunk iterators (each time-ordered) into one ordered by ``start``."""
    return heapq.merge(*gens, key=lambda c: c.start)


#: Timestamps of a nominally regular stream that step more than this share of a period away from
#: the period (a dropped or late camera frame) are resampled (:class:`RegularEmitter`).
JITTER_PERIODS = 0.25


def jittery(times: np.ndarray, rate: float) -> bool:
    """Whether consecutive ``times`` (s) of a stream at ``rate`` step more than
    :data:`JITTER_PERIODS` of a period away from it anywhere short of a gap (a chunk places its
    samples at ``t0 + i / rate``, so such timing would be lost, not merely rounded)."""
    d = np.diff(np.asarray(times, dtype=float)) * rate
    d = d[np.isfinite(d) & (d <= GAP_PERIODS)]
    return bool(len(d) and np.max(np.abs(d - 1.0)) > JITTER_PERIODS)


class RegularEmitter:
    """Cut timestamped samples of a regular stream into chunks of about :data:`CHUNK_S`.

    Each chunk's ``t0`` is the actual timestamp of its first sample and its samples follow at
    ``1 / rate``. Samples more than :data:`GAP_PERIODS` periods apart end a chunk and flag the
    next ``gap_before`` (a gap is never filled). With ``resample=True`` (timestamps that jitter,
    e.g. a phone camera's frames: :func:`jittery`), each run between gaps is instead put on a
    uniform grid at ``rate`` from its first timestamp, by linear interpolation between the actual
    samples -- the usual first step for unevenly sampled PPG (e.g. the Welltory data set's
    README); without it a dropped frame would date every later sample of its chunk one period
    early. The grid continues across chunks and reader blocks, never across a gap.
    """

    def __init__(self, stream: StreamInfo, path, time_field: str = "time", resample: bool = False):
        self.stream = stream
        self.path = path
        self.time_field = time_field
        self.resample = resample
        self.carry: tuple[float, np.ndarray] | None = None  # last actual sample of the open run
        self.grid_next: float | None = None  # next grid time of the open run
        self.rate = float(stream.rate)  # type: ignore[arg-type]
        self.max_dt = GAP_PERIODS / self.rate
        self.per_chunk = max(1, int(round(self.rate * CHUNK_S)))
        self.last_t: float | None = None
        self.last_line: int | None = None
        self.pending_gap = False

    def mark_gap(self) -> None:
        """Missing samples (e.g. empty cells): the next chunk starts after a gap."""
        self.pending_gap = True

    def push(self, times, values, lines=None) -> list[Chunk]:
        times = np.asarray(times, dtype=float)
        values = np.asarray(values, dtype=float)
        n = len(times)
        if n == 0:
            return []
        if lines is None:
            lines = np.full(n, -1)
        _check_values(values, self.stream, self.path, lines)
        bad = ~np.isfinite(times)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError("timestamp is not finite", path=self.path, line=_ln(lines[i]), field=self.time_field,
                             expected="finite timestamps")
        prev = self.last_t
        allt = times if prev is None else np.concatenate(([prev], times))
        d = np.diff(allt)
        nonmono = d <= 0
        if nonmono.any():
            i = int(np.argmax(nonmono)) + (0 if prev is None else -1) + 1
            raise InputError(
                f"timestamps not increasing ({allt[int(np.argmax(nonmono))]!r} then {times[i]!r})",
                path=self.path, line=_ln(lines[i]), field=self.time_field, expected="strictly increasing timestamps",
            )
        gap_at = set((np.nonzero(d > self.max_dt)[0] + (0 if prev is None else 0)).tolist())
        # index into `times` where a new run starts after a gap
        starts = sorted({(i + 1 if prev is None else i) for i in gap_at})
        out: list[Chunk] = []
        bounds = [0] + [s for s in starts if s > 0] + [n]
        first_gap = self.pending_gap or (prev is not None and 0 in starts)
        for k in range(len(bounds) - 1):
            a, b = bounds[k], bounds[k + 1]
            gap = first_gap if k == 0 else True
            if self.resample:
                out += self._resampled(times[a:b], values[a:b], gap)
                continue
            for s in range(a, b, self.per_chunk):
                e = min(b, s + self.per_chunk)
                out.append(Chunk(self.stream, values[s:e].copy(), t0=float(times[s]), gap_before=gap and s == a))
        self.pending_gap = False
        self.last_t = float(times[-1])
        return out

    def _resampled(self, times: np.ndarray, values: np.ndarray, gap: bool) -> list[Chunk]:
        """One run's samples (continuing the open run unless ``gap``) on the uniform grid."""
        if gap or self.carry is None or self.grid_next is None:
            t_act, v_act, start = times, values, float(times[0])
        else:
            t_act = np.concatenate(([self.carry[0]], times))
            v_act = np.concatenate((self.carry[1][None, ...], values))
            start = self.grid_next
        n = int(np.floor((t_act[-1] - start) * self.rate + 1e-9)) + 1 if t_act[-1] >= start else 0
        grid = start + np.arange(max(n, 0)) / self.rate
        if v_act.ndim == 1:
            vals = np.interp(grid, t_act, v_act)
        else:
            vals = np.column_stack([np.interp(grid, t_act, v_act[:, j]) for j in range(v_act.shape[1])])
        self.carry = (float(t_act[-1]), v_act[-1].copy())
        self.grid_next = start + max(n, 0) / self.rate
        out = []
        for s in range(0, n, self.per_chunk):
            e = min(n, s + self.per_chunk)
            out.append(Chunk(self.stream, vals[s:e].copy(), t0=float(grid[s]), gap_before=gap and s == 0))
        return out


class IrregularEmitter:
    """Events with explicit times (RR beats, HR reports, markers) into chunks; gaps flagged."""

    def __init__(self, stream: StreamInfo, path, time_field: str = "time", gap_s: float = IRREGULAR_GAP_S,
                 strict: bool = True):
        self.stream = stream
        self.path = path
        self.time_field = time_field
        self.gap_s = gap_s
        self.strict = strict
        self.last_t: float | None = None
        self.pending_gap = False
        self._rows: list[tuple[float, Any, int, bool]] = []

    def mark_gap(self) -> None:
        self.pending_gap = True

    def add(self, time: float, value: Any, line: int = -1, gap: bool = False) -> list[Chunk]:
        """Buffer one event; every ``BLOCK_ROWS`` events they are pushed (then :meth:`flush`)."""
        self._rows.append((time, value, line, gap))
        return self.flush() if len(self._rows) >= BLOCK_ROWS else []

    def flush(self) -> list[Chunk]:
        """Push the buffered events of :meth:`add`."""
        if not self._rows:
            return []
        times, values, lines, gaps = zip(*self._rows)
        self._rows = []
        return self.push(times, values, lines, gaps)

    def push(self, times, values, lines=None, gaps=None) -> list[Chunk]:
        times = np.asarray(times, dtype=float)
        n = len(times)
        if n == 0:
            return []
        values = np.asarray(values, dtype=object if self.stream.kind.value == "marker" else float)
        if lines is None:
            lines = np.full(n, -1)
        _check_values(values, self.stream, self.path, lines)
        if not np.isfinite(times).all():
            i = int(np.argmax(~np.isfinite(times)))
            raise InputError("timestamp is not finite", path=self.path, line=_ln(lines[i]), field=self.time_field,
                             expected="finite timestamps")
        prev = self.last_t
        allt = times if prev is None else np.concatenate(([prev], times))
        d = np.diff(allt)
        off = 0 if prev is None else 1  # d[j] is the step into times[j + 1 - off]
        nonmono = d <= 0 if self.strict else d < 0
        if nonmono.any():
            j = int(np.argmax(nonmono))
            i = j + 1 - off
            raise InputError(
                f"times not increasing ({allt[j]!r} then {times[i]!r})", path=self.path, line=_ln(lines[i]),
                field=self.time_field, expected="increasing times",
            )
        gap_flags = np.zeros(n, dtype=bool)
        big = np.nonzero(d > self.gap_s)[0] + 1 - off
        gap_flags[big[big >= 0]] = True
        if gaps is not None:
            gap_flags |= np.asarray(gaps, dtype=bool)
        if self.pending_gap:
            gap_flags[0] = True
        if prev is None:
            gap_flags[0] = gap_flags[0] and self.pending_gap
        # also cut at whole CHUNK_S boundaries of stream time, so a block of rows (up to hours of
        # beats in an RR file) never becomes one chunk that a paced replay would deliver early
        slot = np.floor(times / CHUNK_S)
        slot_cuts = (np.nonzero(np.diff(slot) != 0)[0] + 1).tolist()
        cut = sorted(set([0] + np.nonzero(gap_flags)[0].tolist() + slot_cuts + [n]))
        out = []
        for a, b in zip(cut[:-1], cut[1:]):
            out.append(Chunk(self.stream, values[a:b].copy(), times=times[a:b].copy(), gap_before=bool(gap_flags[a])))
        self.pending_gap = False
        self.last_t = float(times[-1])
        return out


def _check_values(values: np.ndarray, stream: StreamInfo, path, lines) -> None:
    """Values must be finite after unit conversion (1e308 mV is finite, in uV it is not)."""
    if values.dtype == object:
        return
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad.reshape(len(values), -1).any(axis=1)))
        raise InputError("value not finite after unit conversion", path=path, line=_ln(lines[i]),
                         field=stream.kind.value, expected=f"finite values in {stream.unit}")


def _ln(v) -> int | None:
    v = int(v)
    return v if v >= 0 else None


def robust_rate(times: np.ndarray, path, fld: str) -> float:
    """Sample rate from timestamps: slope over gap-free runs, robust to a few dropouts.

    The median spacing alone is quantised by timestamp resolution (e.g. 1 ms phone clocks);
    the slope over the longest gap-free run averages that out (Polar's "130 Hz" is 128-131 Hz).
    """
    t = np.asarray(times, dtype=float)
    if len(t) < 3:
        raise InputError("too few samples to estimate the sample rate", path=path, field=fld,
                         expected="at least 3 timestamped samples")
    d = np.diff(t)
    d = d[np.isfinite(d)]
    pos = d[d > 0]
    if len(pos) < 2:
        raise InputError("timestamps do not advance", path=path, field=fld, expected="increasing timestamps")
    med = float(np.median(pos))
    ok = (d > 0) & (d <= GAP_PERIODS * med)
    # longest run of acceptable steps
    best_len, best_a, run_a = 0, 0, None
    for i, good in enumerate(np.append(ok, False)):
        if good and run_a is None:
            run_a = i
        elif not good and run_a is not None:
            if i - run_a > best_len:
                best_len, best_a = i - run_a, run_a
            run_a = None
    if best_len >= 10:
        rate = best_len / (t[best_a + best_len] - t[best_a])
    else:
        rate = 1.0 / med
    return check_rate(rate, path, fld)
