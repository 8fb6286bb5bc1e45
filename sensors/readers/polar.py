"""Polar Sensor Logger exports (``;``-separated text, one file per data type).

Headers matched by prefix::

    ECG  Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]
    ACC  Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]
    RR   Phone timestamp;RR-interval [ms]
    HR   Phone timestamp;HR [bpm]   (newer versions add ;HRV [ms];Breathing interval [rpm];)
    PPG  Phone timestamp;sensor timestamp [ns];channel 0;channel 1;channel 2;ambient   (Verity Sense, OH1)
    PPI  Phone timestamp;PP-interval [ms];error estimate [ms];blocker;contact;contact supported;hr [bpm]

PPG: one stream, by default the sum of the optical channels (``channel=N`` picks one) minus the
ambient channel when there is one, as exported. The counts are received light, which *falls* as
blood volume rises: on the Verity Sense sample record the pulse wave falls faster than it rises
(the derivative's skewness is -0.91, against a median +1.67 for the negated phone-camera PPG of
the Welltory set). The stream is kept as exported, so the peaks the PPG detector finds are the
pulse *feet* (the end of diastole, just before the steep systolic upstroke). That is the fiducial
the device's own PPI agrees with: 97.3 % of intervals within 20 ms, against 41.0 % for the systolic
peaks of the negated signal (``bench/validate_heart.py``, Verity section). A chart of this stream
therefore shows the pulses pointing down.

PPI is read as an RR stream (the device's own pulse-to-pulse intervals); an interval the device flags (``blocker`` = 1, skin contact
supported but lost, or an error estimate above ``max_ppi_error_ms``, default 100 ms) is dropped
and the next kept interval starts after a marked gap, so no interval spans a dropped one.
PPI rows carry only the logger's phone times, which trail the beats by the device's processing
delay: on the Verity Sense sample record the PPI beats sit ~16 s after the same beats in the PPG
file (bench/validate_heart.py finds the offset by matching the interval series). Nothing in the
file tells that delay, so it is not corrected here; the heart estimator detects such an offset
when the same person's PPG or ECG is given too and warns with its size
(:mod:`coregulate.models.beat_alignment`), and the option ``delay_s=S`` (RR, PPI and HR files:
the rows' phone times trail the data by S seconds) moves the file's times S seconds earlier.

Timing. The phone timestamp is the (naive, local) arrival time of a BLE packet, shared by all
samples of the packet and always *late*. ECG/ACC sample timing therefore comes from the sensor
nanosecond clock; absolute time is anchored with ``phone ~ sensor + offset`` where the offset is
a low quantile (5 %) over the packets of the first minute of arrival minus the sensor time of
the packet's newest sample: packets arrive late, never early, so the lower envelope is the
transport-free offset (Moon, Skelly & Towsley, 1999; the live path's
:mod:`coregulate.sensors.clock` also fits drift, which a one-minute window cannot). RR intervals
have no sensor time: the intervals of one packet end at or before its arrival, so beat times are
assigned backwards from the arrival and never earlier than ``previous beat + RR`` (arrival
jitter cannot make a beat happen before its own interval has elapsed).

Phone times carry no zone; they are read as if UTC and the stream label says
``(phone local time)``: files from the same phone still align with each other.
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
    num,
    parse_local_iso,
    robust_rate,
    split_cells,
    text_lines,
)

HEADERS = {
    "ecg": "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]",
    "acc": "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]",
    "rr": "Phone timestamp;RR-interval [ms]",
    "hr": "Phone timestamp;HR [bpm]",
    "ppg": "Phone timestamp;sensor timestamp [ns];channel 0",
    "ppi": "Phone timestamp;PP-interval [ms];error estimate [ms];blocker",
}
#: PPI intervals whose device error estimate exceeds this are dropped (option ``max_ppi_error_ms``).
MAX_PPI_ERROR_MS = 100.0
#: Seconds of data used to estimate rate and clock offset before streaming.
ANCHOR_S = 60.0
OFFSET_QUANTILE = 0.05


def polar_kind(header: str) -> str | None:
    """The kind of Polar Sensor Logger file its header line names (a key of ``HEADERS``), or ``None``."""
    h = header.strip().lstrip("\ufeff")
    for kind, prefix in HEADERS.items():
        if h.lower().startswith(prefix.lower()):
            return kind
    return None


class PolarReader(Reader):
    """One Polar Sensor Logger file (ECG, ACC, RR or HR) of one participant."""

    def __init__(self, path, role: str, options=None):
        self.path = os.fspath(path)
        self.options = dict(options or {})
        lines = text_lines(self.path)
        head = next(lines, None)
        if head is None:
            raise InputError("empty file", path=self.path, line=1, expected="a Polar Sensor Logger header")
        kind = polar_kind(head[1])
        if kind is None:
            raise InputError(
                f"unknown header {head[1][:60]!r}", path=self.path, line=1, field="header",
                expected="a Polar Sensor Logger header, e.g. " + HEADERS["ecg"],
            )
        self.kind = kind
        self.header = [c.strip() for c in head[1].strip().lstrip("\ufeff").split(";")]
        while self.header and self.header[-1] == "":
            self.header.pop()
        self.ncols = len(HEADERS[kind].split(";"))
        name = os.path.basename(self.path) + " (phone local time)"
        if kind == "ppg":
            self._ppg_columns()
        self.max_ppi_error_ms = self._max_ppi_error()  # checked before the session starts
        if kind in ("ecg", "acc", "ppg"):
            self._delay()  # refused there
        if kind in ("ecg", "acc", "ppg"):
            self._anchor()
            sk = {"ecg": StreamKind.ECG, "acc": StreamKind.ACC, "ppg": StreamKind.PPG}[kind]
            channels = ("x", "y", "z") if kind == "acc" else ()
            self.streams = [StreamInfo(role, sk, self.rate, channels, name, self.utc_start)]
        else:
            first = self._first_row()
            if first is None:
                raise InputError("no data rows", path=self.path, line=2, expected="at least one data row")
            # RR: clock origin at the start of the first interval, so every beat time is > 0
            self._phone_origin = first - (self._first_packet_rr() / 1000.0 if kind in ("rr", "ppi") else 0.0)
            # stream times stay on the phone's dating; the absolute origin moves delay_s earlier
            self.utc_start = self._phone_origin - self._delay()
            sk = StreamKind.RR if kind in ("rr", "ppi") else StreamKind.HR
            self.streams = [StreamInfo(role, sk, None, (), name, self.utc_start)]

    def _ppg_columns(self) -> None:
        """Optical channel columns (``channel N``), the ambient column, and the option ``channel``."""
        optical = [i for i, h in enumerate(self.header) if h.lower().startswith("channel")]
        self.ambient_col = next((i for i, h in enumerate(self.header) if h.lower() == "ambient"), None)
        self.ncols = max(optical + [self.ambient_col or 0]) + 1
        choice = self.options.get("channel")
        if choice is None:
            self.ppg_cols = optical
        else:
            names = [self.header[i].lower().removeprefix("channel").strip() for i in optical]
            if str(choice) not in names:
                raise InputError(
                    f"no PPG channel {choice!r}", path=self.path, line=1, field="channel",
                    expected="one of " + ", ".join(names),
                )
            self.ppg_cols = [optical[names.index(str(choice))]]

    # -- parsing -----------------------------------------------------------------------------
    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        it = text_lines(self.path)
        next(it, None)
        for lineno, line in it:
            if not line.strip():
                continue
            cells = split_cells(line, ";")
            while len(cells) > self.ncols and cells[-1] == "":
                cells.pop()  # trailing ';' of some versions
            if len(cells) < self.ncols:
                raise InputError(
                    f"truncated line: {len(cells)} fields", path=self.path, line=lineno,
                    field=HEADERS[self.kind].split(";")[len(cells)] if len(cells) < self.ncols else None,
                    expected=f"{self.ncols} ';'-separated fields",
                )
            yield lineno, cells

    def _first_row(self) -> float | None:
        for lineno, cells in self._rows():
            return parse_local_iso(cells[0], self.path, lineno, "Phone timestamp")
        return None

    def _first_packet_rr(self) -> float:
        total, arrival = 0.0, None
        for lineno, cells in self._rows():
            if arrival is not None and cells[0] != arrival:
                break
            arrival = cells[0]
            rr = num(cells[1], self.path, lineno, self._interval_field(), "a positive interval in ms")
            total += rr if 0 < rr < 60_000 else 0.0  # range errors are reported by chunks()
        return total

    def _anchor(self) -> None:
        sensor = []
        residual = []  # per packet: arrival - sensor time of its newest sample
        prev_phone = None
        for lineno, cells in self._rows():
            s = num(cells[1], self.path, lineno, "sensor timestamp [ns]") / 1e9
            if cells[0] != prev_phone:
                if prev_phone is not None:
                    residual.append(p - sensor[-1])
                p = parse_local_iso(cells[0], self.path, lineno, "Phone timestamp")
                prev_phone = cells[0]
            sensor.append(s)
            if s - sensor[0] > ANCHOR_S and len(sensor) > 50:
                break
        if not sensor:
            raise InputError("no data rows", path=self.path, line=2, expected="at least one data row")
        residual.append(p - sensor[-1])
        s = np.array(sensor)
        if len(s) >= 3 and (np.diff(s) <= 0).any():
            i = int(np.argmax(np.diff(s) <= 0)) + 1
            raise InputError("sensor timestamps not increasing", path=self.path, line=i + 2,
                             field="sensor timestamp [ns]", expected="strictly increasing timestamps")
        self.rate = robust_rate(s, self.path, "sensor timestamp [ns]")
        r = np.array(residual)
        # lower envelope: the least-delayed packets; a low quantile rather than the minimum
        # survives a few phone-clock steps (NTP corrections) in the anchoring window
        offset = float(np.quantile(r, OFFSET_QUANTILE)) if len(r) >= 20 else float(r.min())
        self.sensor0 = float(s[0])
        self.utc_start = self.sensor0 + offset

    # -- streaming ---------------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: regular samples (ECG, ACC, PPG) or beat intervals (RR, PPI)
        (see :meth:`.Reader.chunks`)."""
        if self.kind in ("ecg", "acc"):
            yield from self._regular()
        elif self.kind == "ppg":
            yield from self._ppg()
        elif self.kind in ("rr", "ppi"):
            yield from self._rr()
        else:
            yield from self._hr()

    def _regular(self) -> Iterator[Chunk]:
        stream = self.streams[0]
        em = RegularEmitter(stream, self.path, "sensor timestamp [ns]")
        nval = 1 if self.kind == "ecg" else 3
        vcol = 3 if self.kind == "ecg" else 2
        names = HEADERS[self.kind].split(";")
        t, v, ln = [], [], []
        for lineno, cells in self._rows():
            t.append((num(cells[1], self.path, lineno, names[1]) / 1e9) - self.sensor0)
            v.append([num(cells[vcol + k], self.path, lineno, names[vcol + k]) for k in range(nval)])
            ln.append(lineno)
            if len(t) >= BLOCK_ROWS:
                yield from em.push(t, _vals(v, nval), ln)
                t, v, ln = [], [], []
        yield from em.push(t, _vals(v, nval), ln)

    def _rr(self) -> Iterator[Chunk]:
        stream = self.streams[0]
        em = IrregularEmitter(stream, self.path, "Phone timestamp")
        prev_beat: float | None = None
        prev_arrival: float | None = None
        packet: list[tuple[int, float, bool]] = []  # (line, interval ms, flagged by the device)
        arrival = None

        max_err = self.max_ppi_error_ms
        dropped_before = False  # a flagged PPI was dropped since the last kept one

        def flush_packet() -> list[Chunk]:
            nonlocal prev_beat, dropped_before
            # intervals of one packet end at or before its arrival: assign times backwards
            rrs = np.array([r for _, r, _ in packet]) / 1000.0
            back = arrival - self._phone_origin - np.cumsum(rrs[::-1])[::-1] + rrs
            out: list[Chunk] = []
            for (lineno, rr_ms, flagged), tb, rr in zip(packet, back, rrs):
                t = tb if prev_beat is None else max(tb, prev_beat + rr)
                if flagged:
                    dropped_before = True
                else:
                    late = prev_beat is not None and tb - (prev_beat + rr) > 3.0
                    out += em.add(t, rr_ms, lineno, late or dropped_before)
                    dropped_before = False
                prev_beat = t
            return out

        for lineno, cells in self._rows():
            p = parse_local_iso(cells[0], self.path, lineno, "Phone timestamp")
            rr = num(cells[1], self.path, lineno, self._interval_field(), "a positive interval in ms")
            if not 0 < rr < 60_000:
                raise InputError(f"RR interval {rr!r} ms out of range", path=self.path, line=lineno,
                                 field=self._interval_field(), expected="0 < RR < 60000 ms")
            # the logger dates PPI rows itself (packet time plus the preceding intervals), which
            # steps back at the next packet; beat times are clamped to previous beat + interval
            if prev_arrival is not None and p < prev_arrival and self.kind != "ppi":
                raise InputError("phone timestamps go backwards", path=self.path, line=lineno,
                                 field="Phone timestamp", expected="non-decreasing timestamps")
            if arrival is not None and p != arrival:
                yield from flush_packet()
                packet = []
            arrival = p
            prev_arrival = p
            packet.append((lineno, rr, self.kind == "ppi" and self._ppi_flagged(cells, lineno, max_err)))
        if packet:
            yield from flush_packet()
        yield from em.flush()

    def _delay(self) -> float:
        """Option ``delay_s``: seconds by which the phone dated a phone-timed file's rows late."""
        text = self.options.get("delay_s")
        if text is None:
            return 0.0
        if self.kind in ("ecg", "acc", "ppg"):
            raise InputError(f"delay_s={text!r} on a {self.kind.upper()} file", path=self.path, field="delay_s",
                             expected="delay_s only on RR, PPI or HR files (sampled files use the sensor clock)")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not abs(value) <= 600:
            raise InputError(f"delay_s={text!r}", path=self.path, field="delay_s",
                             expected="seconds between -600 and 600")
        return value

    def _max_ppi_error(self) -> float:
        text = self.options.get("max_ppi_error_ms")
        if text is None:
            return MAX_PPI_ERROR_MS
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0:
            raise InputError(f"max_ppi_error_ms={text!r}", path=self.path, field="max_ppi_error_ms",
                             expected="a positive number of milliseconds")
        return value

    def _interval_field(self) -> str:
        return "PP-interval [ms]" if self.kind == "ppi" else "RR-interval [ms]"

    def _ppi_flagged(self, cells: list[str], lineno: int, max_err: float) -> bool:
        """True when the device marks this PP interval unreliable (blocker, lost contact, error)."""
        err = num(cells[2], self.path, lineno, "error estimate [ms]")
        blocker = num(cells[3], self.path, lineno, "blocker", "0 or 1")
        contact = supported = 1.0
        if len(cells) >= 6:
            contact = num(cells[4], self.path, lineno, "contact", "0 or 1")
            supported = num(cells[5], self.path, lineno, "contact supported", "0 or 1")
        return blocker != 0 or (supported != 0 and contact == 0) or err > max_err

    def _ppg(self) -> Iterator[Chunk]:
        stream = self.streams[0]
        em = RegularEmitter(stream, self.path, "sensor timestamp [ns]")
        t, v, ln = [], [], []
        for lineno, cells in self._rows():
            t.append((num(cells[1], self.path, lineno, "sensor timestamp [ns]") / 1e9) - self.sensor0)
            light = sum(num(cells[c], self.path, lineno, self.header[c]) for c in self.ppg_cols)
            if self.ambient_col is not None:
                light -= len(self.ppg_cols) * num(cells[self.ambient_col], self.path, lineno, "ambient")
            v.append(light)
            ln.append(lineno)
            if len(t) >= BLOCK_ROWS:
                yield from em.push(t, np.asarray(v, dtype=float), ln)
                t, v, ln = [], [], []
        yield from em.push(t, np.asarray(v, dtype=float), ln)

    def _hr(self) -> Iterator[Chunk]:
        stream = self.streams[0]
        em = IrregularEmitter(stream, self.path, "Phone timestamp")
        last = None
        for lineno, cells in self._rows():
            p = parse_local_iso(cells[0], self.path, lineno, "Phone timestamp") - self._phone_origin
            hr = num(cells[1], self.path, lineno, "HR [bpm]")
            if hr <= 0:  # the device reports 0 until it has an estimate (Verity Sense start-up)
                continue
            if p == last:  # same packet time: keep the first report only (HR is a per-packet summary)
                continue
            last = p
            yield from em.add(p, hr, lineno)
        yield from em.flush()


def _vals(v, nval):
    a = np.asarray(v, dtype=float)
    if nval == 1:
        return a.reshape(-1)
    return a.reshape(-1, nval)
