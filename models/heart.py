"""HeartEstimator: beats -> artefact correction -> windowed HRV, one participant, every second.

Which input is used when several exist (one source per person, never a mix, so that a window
never combines two clocks or two detectors):

1. ``RR`` -- intervals from the strap's own detector (Polar H10: R-R at 1/1024 s from a
   ~1 kHz internal ECG). Finer than anything recoverable from a 130 Hz ECG, even with sub-sample
   refinement, and what the device vendor validated.
2. ``ECG`` -- R peaks detected here (:mod:`.beats`), when no RR stream is given.
3. ``PPG`` -- pulse peaks (E4 BVP); pulse arrival jitter makes RMSSD from PPG less precise.
4. ``HR`` -- beats per minute only: ``hr_bpm`` (window mean) and nothing else.

The choice is in :attr:`HeartEstimator.source` and :attr:`HeartEstimator.note`.

``breathing_rpm`` (on full windows only): from ECG, the respiratory modulation of R-wave
amplitude (:func:`.frequency.amplitude_breathing`); from RR intervals or PPG, or when too few
beats carry an amplitude, the RSA peak of the tachogram in the HF band
(:func:`.frequency.hf_power`); ``None`` when neither shows one dominant rhythm.

Latency: a second is emitted once every beat up to it is final: ECG needs the 8-s detection
block plus 2 s of margin, the artefact corrector 6 beats of look-ahead and runs every 8 beats
(median 15 s with ECG, 9 s with device RR; see ``bench/bench_physiology.py``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from .artefacts import CorrectorOptions, StreamingCorrector
from .base import Event, SecondTicker, Second, StreamEstimator
from .beats import BeatDetector, BeatDetectorOptions
from .config import PipelineConfig
from .frequency import amplitude_breathing, hf_power
from .hrv import TimeDomainWindow

HEART_COLUMNS = (
    "hr_inst_bpm", "hr_bpm", "rmssd_ms", "ln_rmssd", "sdnn_ms", "pnn50", "sd1_ms", "sd2_ms", "stress_index",
    "hf_ms2", "beats_in_window", "beats_corrected", "breathing_rpm",
)

_PRIORITY = (StreamKind.RR, StreamKind.ECG, StreamKind.PPG, StreamKind.HR)
_NOTES = {
    StreamKind.RR: "device RR intervals (1/1024 s resolution, the strap's own ~1 kHz detector)",
    StreamKind.ECG: "R peaks detected from ECG (neurokit2, sub-sample refined)",
    StreamKind.PPG: "pulse peaks from PPG (less precise than ECG for RMSSD)",
    StreamKind.HR: "heart rate only: no beat-to-beat variability available",
}


@dataclass
class HeartOptions:
    """Options of the ``heart`` family (``config.options["heart"]``)."""

    gap_s: float = 3.0  # an RR interval (or silence) longer than this is a gap, not a beat
    min_rr_s: float = 0.25  # a raw beat this close to the previous one is dropped (> 240 bpm)
    min_coverage: float = 0.5  # share of the window that must hold beats for time-domain indices
    hf_min_window_s: float = 60.0  # HF only on windows at least this long (Task Force 1996: >= 1 min)
    hf_fs: float = 4.0  # tachogram resampling rate (Hz)
    rr_drift_s: float = 2.0  # device RR cumsum vs timestamps beyond this: beats were lost -> gap
    detector_step_s: float = 8.0
    detector_margin_s: float = 2.0
    corrector_block: int = 8
    corrector_lookahead: int = 6

    @classmethod
    def from_config(cls, config: PipelineConfig, family: str = "heart") -> "HeartOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.family(family).items() if k in names})


class HeartEstimator(StreamEstimator):
    """Per-second heart features of one participant (see module docstring for the source rule)."""

    accepts = frozenset({StreamKind.ECG, StreamKind.RR, StreamKind.PPG, StreamKind.HR})

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
        self.participant = participant
        self.config = config
        self.o = HeartOptions.from_config(config)
        self.window_s = float(config.window_s)
        kinds = {s.kind for s in streams if s.participant == participant} or {s.kind for s in streams}
        self.source = next((k for k in _PRIORITY if k in kinds), None)
        self.note = _NOTES.get(self.source, "no heart stream")
        # a RESP belt (MovementEstimator) beats any ECG-derived breathing estimate
        self.derived_breathing = StreamKind.RESP not in kinds
        self.detector: BeatDetector | None = None
        rate = next((s.rate for s in streams if s.kind == self.source and s.rate), None)
        if self.source in (StreamKind.ECG, StreamKind.PPG) and rate:
            self.detector = BeatDetector(
                rate, "ecg" if self.source == StreamKind.ECG else "ppg",
                BeatDetectorOptions(self.o.detector_step_s, self.o.detector_margin_s),
            )
        self.corrector = StreamingCorrector(
            CorrectorOptions(block=self.o.corrector_block, lookahead=self.o.corrector_lookahead, min_rr_s=self.o.min_rr_s)
        )
        self.window = TimeDomainWindow()
        self.ticker = SecondTicker()
        self.final: list[tuple[str, float, int, float | None]] = []  # ("beat"|"gap", time, corrected, amplitude)
        self.raw_amp: dict[float, float] = {}  # amplitude of raw ECG/PPG beats, by time
        self.amp_win: deque[tuple[float, float]] = deque()
        self.fi = 0
        self.final_wm = -math.inf
        self.source_wm = -math.inf
        self.last_raw: float | None = None
        self.last_final_beat: float | None = None
        self.run_start: float | None = None
        self.started = False
        self.open_gap: tuple[float, str] | None = None
        self.pending_events: list[Event] = []
        self.dropped = 0
        self.last_sample_t: float | None = None
        self.rr_anchor: float | None = None
        self.hr_win: list[tuple[float, float]] = []
        self.last_inst: float | None = None

    # ------------------------------------------------------------------ input
    def update(self, chunk: Chunk) -> list[Second]:
        if chunk.kind != self.source or chunk.participant != self.participant:
            return []
        self.started = True
        contact_lost = chunk.meta.get("contact") is False
        if chunk.kind in (StreamKind.ECG, StreamKind.PPG) and self.detector is not None:
            self._signal(chunk, contact_lost)
        elif chunk.kind == StreamKind.RR:
            self._rr(chunk, contact_lost)
        elif chunk.kind == StreamKind.HR:
            if not contact_lost:
                for t, v in zip(chunk.sample_times(), np.asarray(chunk.values, float).ravel()):
                    if math.isfinite(v) and v > 0:
                        self.hr_win.append((float(t), float(v)))
        self.source_wm = max(self.source_wm, float(chunk.t_end))
        self._check_silence()
        return self._emit(self.final_wm if self.source != StreamKind.HR else self.source_wm)

    def finish(self) -> list[Second]:
        if self.detector is not None:
            for b in self.detector.end_segment():
                self._raw_beat(b)
        self._final_beats(self.corrector.flush())
        if self.open_gap is not None and math.isfinite(self.source_wm):
            self._close_gap(self.source_wm)
        self.final_wm = max(self.final_wm, self.source_wm)
        return self._emit(self.source_wm)

    def events(self) -> list[Event]:
        ev, self.pending_events = self.pending_events, []
        return ev

    def _signal(self, chunk: Chunk, contact_lost: bool) -> None:
        det = self.detector
        assert det is not None
        times = chunk.sample_times()
        vals = np.asarray(chunk.values, dtype=float).reshape(len(chunk), -1)[:, 0] if len(chunk) else np.empty(0)
        jump = (
            self.last_sample_t is not None and len(times)
            and times[0] - self.last_sample_t > 0.5 + 1.0 / det.fs
        )
        if chunk.gap_before or jump or contact_lost:
            for b in det.end_segment():
                self._raw_beat(b)
            if self.last_sample_t is not None:
                reason = "contact lost" if contact_lost else "dropout"
                self._begin_gap(self.last_raw if self.last_raw is not None else self.last_sample_t, reason)
        if contact_lost or not len(vals):
            return
        good = np.isfinite(vals)
        if not good.all():  # missing samples: end the segment at the hole, restart after it
            for b in det.push(vals[: int(np.argmin(good))], times[: int(np.argmin(good))]):
                self._raw_beat(b)
            for b in det.end_segment():
                self._raw_beat(b)
            self._begin_gap(self.last_raw if self.last_raw is not None else float(times[0]), "missing samples")
            last_bad = len(good) - int(np.argmin(good[::-1]))
            vals, times = vals[last_bad:], times[last_bad:]
        for b in det.push(vals, times):
            self._raw_beat(b)
        if len(times):
            self.last_sample_t = float(times[-1])

    def _rr(self, chunk: Chunk, contact_lost: bool) -> None:
        if chunk.gap_before or contact_lost:
            if self.last_raw is not None:
                self._begin_gap(self.last_raw, "contact lost" if contact_lost else "dropout")
            self.rr_anchor = None
        if contact_lost:
            return
        for stamp, rr in zip(chunk.sample_times(), np.asarray(chunk.values, float).ravel()):
            if not (math.isfinite(rr) and rr > 0):
                continue
            # beat times from the cumulative intervals: BLE notification stamps jitter by ~100 ms
            t = float(stamp) if self.rr_anchor is None else self.rr_anchor + rr / 1000.0
            if abs(t - stamp) > self.o.rr_drift_s or rr / 1000.0 > self.o.gap_s:
                if self.last_raw is not None:
                    self._begin_gap(self.last_raw, "device beats missing")
                t = float(stamp)
            self.rr_anchor = t
            self._raw_beat(t)

    # ------------------------------------------------------------------ beats
    def _raw_beat(self, t: float) -> None:
        if self.last_raw is not None and t - self.last_raw > self.o.gap_s:
            self._begin_gap(self.last_raw, f"no beat for more than {self.o.gap_s:g} s")
        if self.open_gap is not None:
            self._close_gap(t)
        if self.last_raw is not None and t - self.last_raw < self.o.min_rr_s:
            self.dropped += 1
            return
        self.last_raw = t
        if self.detector is not None:
            a = self.detector.amplitudes.pop(t, None)
            if a is not None:
                self.raw_amp[t] = a
        self._final_beats(self.corrector.add(t))

    def _final_beats(self, beats: list[tuple[float, int]]) -> None:
        for t, c in beats:
            if self.dropped:
                c, self.dropped = c + self.dropped, 0
            amp = self.raw_amp.pop(t, None)  # moved or inserted beats have no measured amplitude
            self.final.append(("beat", t, c, amp))
            self.final_wm = max(self.final_wm, t)
            while self.raw_amp:
                first = next(iter(self.raw_amp))
                if first >= t:
                    break
                del self.raw_amp[first]  # raw beats deleted by the correction

    def _begin_gap(self, t0: float, reason: str) -> None:
        self._final_beats(self.corrector.flush())
        self.final.append(("gap", t0, 0, None))
        self.final_wm = max(self.final_wm, t0)
        self.last_raw = None
        self.rr_anchor = None  # the first beat after a gap sits at its own stamp
        if self.open_gap is None:
            self.open_gap = (t0, reason)

    def _close_gap(self, t1: float) -> None:
        t0, reason = self.open_gap  # type: ignore[misc]
        self.open_gap = None
        self.pending_events.append(Event(
            kind="gap", t_start=t0, t_end=t1, participant=self.participant,
            rule=f"heart: {reason}; HRV windows restart after the gap",
            evidence={"duration_s": round(t1 - t0, 3), "source": self.source.value if self.source else None},
            label="signal gap",
        ))

    def _check_silence(self) -> None:
        """No beat for ``gap_s`` although the stream is complete up to its watermark."""
        # device RR beat times may trail their stamps by up to rr_drift_s
        limit = self.detector.watermark if self.detector is not None else self.source_wm - self.o.rr_drift_s
        if self.last_raw is not None and limit - self.last_raw > self.o.gap_s:
            self._begin_gap(self.last_raw, f"no beat for more than {self.o.gap_s:g} s")
        if self.last_raw is None and not self.corrector.pending:
            wm = self.detector.watermark if self.detector is not None else self.source_wm
            self.final_wm = max(self.final_wm, wm)

    # ---------------------------------------------------------------- seconds
    def _emit(self, watermark: float) -> list[Second]:
        out: list[Second] = []
        if not math.isfinite(watermark):
            return out
        for t in self.ticker.ticks(watermark):
            out.append((t, self._second(float(t))))
        return out

    def _second(self, t: float) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(HEART_COLUMNS)
        if self.source == StreamKind.HR:
            self.hr_win = [(s, v) for s, v in self.hr_win if s > t - self.window_s]
            vals = [v for s, v in self.hr_win if s <= t]
            row["hr_bpm"] = float(np.mean(vals)) if vals else None
            last = [v for s, v in self.hr_win if t - 1 < s <= t]
            row["hr_inst_bpm"] = float(np.mean(last)) if last else None
            return row
        w = self.window
        inst: list[float] = []
        while self.fi < len(self.final) and self.final[self.fi][1] <= t:
            kind, tb, c, amp = self.final[self.fi]
            self.fi += 1
            if kind == "gap":
                w.reset()
                self.amp_win.clear()
                self.last_final_beat = None
                self.run_start = None
                continue
            rr = None if self.last_final_beat is None else (tb - self.last_final_beat) * 1000.0
            if self.run_start is None:
                self.run_start = tb
            w.add(tb, rr, c)
            if amp is not None:
                self.amp_win.append((tb, amp))
            self.last_final_beat = tb
            if rr:
                inst.append(60000.0 / rr)
        if self.fi > 4096:
            del self.final[: self.fi]
            self.fi = 0
        w.expire(t - self.window_s)
        while self.amp_win and self.amp_win[0][0] <= t - self.window_s:
            self.amp_win.popleft()
        # 1-Hz HR for synchrony: mean over the beats ending in (t-1, t]; in a second without a
        # beat (HR < 60) the last value is held while the run lasts
        if inst:
            self.last_inst = sum(inst) / len(inst)
        elif self.last_final_beat is None:
            self.last_inst = None
        row["hr_inst_bpm"] = self.last_inst
        if not self.started:
            return row
        row["beats_in_window"] = len(w)
        row["beats_corrected"] = w.corrected if len(w) else 0
        if self.run_start is None:
            return row
        coverage = t - max(self.run_start, t - self.window_s)
        if coverage < self.o.min_coverage * self.window_s or len(w) < 3:
            return row
        row.update(w.features())
        if self.window_s >= self.o.hf_min_window_s and self.run_start <= t - self.window_s + 2.0:
            bt, rr = w.intervals()
            hf, peak = hf_power(bt, rr, self.o.hf_fs)
            row["hf_ms2"] = hf
            if self.derived_breathing:
                if self.source == StreamKind.ECG and len(self.amp_win) >= 0.8 * len(w):
                    at, av = zip(*self.amp_win)
                    peak = amplitude_breathing(np.asarray(at), np.asarray(av), self.o.hf_fs)
                row["breathing_rpm"] = None if peak is None else 60.0 * peak
        return row
