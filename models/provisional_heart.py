"""ProvisionalHeart: one person's heart rate as soon as each beat is known (the live *provisional* tier).

:class:`.heart.HeartEstimator` publishes a second only once every source is final past it (ECG:
the 8-s detection block, 2 s of margin and the artefact corrector's 6-beat look-ahead). This
object gives the same person's heart values the moment the data allows, for viewers only:

- device RR/IBI: each interval is a beat, straight through (no look-ahead);
- ECG: R peaks from :class:`.provisional_beats.StreamingEcgDetector` (confirmed a fraction of
  a second after the peak arrives);
- PPG: systolic peaks from :class:`.provisional_beats.StreamingPpgDetector`;
- device HR: straight through, where no beat source is live.

Source priority is the final fusion's (``heart.beat_sources``, :mod:`.heart`): a beat of a
source is used unless a better-ranked source is *live*, i.e. gave a beat within ``gap_s`` before
it. As in the final tier, a detector does not run where a better source has beats
(:data:`GATE_S`): on a strap session the R-peak detector costs nothing while the RR flows.
An interval is formed only between consecutive used beats of the same source and the same
run (no gap, no switch between them), as in the final fusion; a gap in one source resets that
source's run (and its detector, which may not filter across missing data) and nothing else.

Values (one dict per :meth:`ProvisionalHeart.update` that brought something new):

``participant``; ``t``, the session time the values describe (the newest beat, or the newest
device HR sample); ``hr_inst_bpm`` (60000 / the newest beat's interval; the device HR sample
for device HR); ``hr_bpm`` (the final tier's window mean, :class:`.hrv.TimeDomainWindow` over
``(t - window_s, t]`` under the same ``min_coverage`` and 3-beat rule; else the device HR mean of
the window when a fresh sample exists; else ``None``); ``heart_source`` (as the final column:
the beat source when ``hr_bpm`` comes from beats, ``"device_hr"``, or ``None``); ``beat_times``
(the beats newly used, in order, for a beat-by-beat strip), ``beat_hr_bpm`` (their instantaneous
HR, ``None`` for a run's first beat) and ``beat_source``.

It is deterministic (a function of the chunks received so far, in their order) and shares no
state with the final tier: no final value changes because it exists. It is not artefact-corrected
and not what the recorder keeps as features; the final rows replace it.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from .config import PipelineConfig
from .heart import DEVICE_HR, HeartOptions
from .hrv import TimeDomainWindow
from .provisional_beats import StreamingEcgDetector, StreamingPpgDetector, regular_time

BEAT_KINDS = {"rr": StreamKind.RR, "ecg": StreamKind.ECG, "ppg": StreamKind.PPG}

#: A detector (ECG, PPG) sits idle while a better-ranked source gave a beat within this many
#: seconds of its chunk: its beats would lose there anyway (a strap's RR beats arrive up to ~1 s
#: late). Past it the detector restarts, and its 1-s warm-up ends about when the better source
#: stops being live (``gap_s`` = 3 s), so the fill starts on time. As the final tier's
#: ``heart.ecg_gate_margin_s``, 0 there means "always detect".
GATE_S = 2.0


class _BeatSource:
    """One beat stream of the person: its detector (ECG/PPG) and where its current run stands."""

    def __init__(self, kind: StreamKind, rate: float | None) -> None:
        self.kind = kind
        self.name = kind.value  # the values' beat_source / heart_source (an enum's value is a slow property)
        self.detector: StreamingEcgDetector | StreamingPpgDetector | None = None
        if kind == StreamKind.ECG:
            self.detector = StreamingEcgDetector(float(rate))
        elif kind == StreamKind.PPG:
            self.detector = StreamingPpgDetector(float(rate))
        self.last_beat: float | None = None  # newest raw beat of the current run (None: between runs)
        self.live_until = -math.inf  # beats of worse sources up to here lose to this one
        self.run = 0
        self.last_sample_t: float | None = None
        self.rr_anchor: float | None = None
        self.newest_beat = -math.inf  # newest raw beat ever (for gating worse sources)
        self.gated = False  # the detector is idle because a better source has beats
        self.samples_detected = 0
        self.better: list[_BeatSource] = []  # the person's better-ranked sources

    def end_run(self) -> None:
        self.last_beat = None
        self.rr_anchor = None
        self.run += 1


class ProvisionalHeart:
    """Provisional heart values of one participant (module docstring).

    Parameters
    ----------
    participant : str
        Whose chunks to take; chunks of anybody else are ignored.
    streams : list of StreamInfo
        The person's streams (others' are ignored); ECG and PPG need their rate.
    config : PipelineConfig
        ``window_s`` and the ``heart`` family (:class:`.heart.HeartOptions`: ``beat_sources``,
        ``gap_s``, ``min_rr_s``, ``min_coverage``, ``rr_drift_s``, ``device_hr_stale_s``).
    """

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
        self.participant = participant
        self.o = HeartOptions.from_config(config)
        self.window_s = float(config.window_s)
        mine = [s for s in streams if s.participant == participant]
        rates = {s.kind: s.rate for s in mine}
        self.sources: dict[StreamKind, _BeatSource] = {}
        self.rank: dict[StreamKind, int] = {}
        for name in self.o.beat_sources:
            kind = BEAT_KINDS[name]
            if kind in rates and (kind == StreamKind.RR or rates[kind]):
                self.rank[kind] = len(self.rank)
                self.sources[kind] = _BeatSource(kind, rates[kind])
        for src in self.sources.values():
            src.better = [s for s in self.sources.values() if self.rank[s.kind] < self.rank[src.kind]]
        self.has_hr = StreamKind.HR in rates
        self.gate_s = GATE_S if self.o.ecg_gate_margin_s > 0 else 0.0
        self.window = TimeDomainWindow(hr_only=True)  # hr_bpm and covered_ms are all it is asked
        self.prev: tuple[float, StreamKind, int] | None = None  # newest used beat: (t, source, run)
        self.hr_samples: deque[tuple[float, float]] = deque()

    # ------------------------------------------------------------------ input
    def update(self, chunk: Chunk) -> list[dict[str, Any]]:
        """Take one chunk of this person; return the provisional values it made known (0 or 1 dict)."""
        if chunk.participant != self.participant:
            return []
        if chunk.kind == StreamKind.HR:
            return self._device_hr(chunk) if self.has_hr else []
        src = self.sources.get(chunk.kind)
        if src is None:
            return []
        contact_lost = chunk.meta.get("contact") is False
        raw = self._rr(src, chunk, contact_lost) if src.detector is None else self._signal(src, chunk, contact_lost)
        if not raw:
            return []
        used: list[tuple[float, float | None]] = []
        for t in raw:
            hr = self._beat(src, t)
            if hr is not False:
                used.append((t, hr))
        if not used:
            return []
        return [self._values(used, src)]

    def _rr(self, src: _BeatSource, chunk: Chunk, contact_lost: bool) -> list[float]:
        """Beat times from device intervals, rebuilt as :class:`.beat_track.BeatTrack` does."""
        if chunk.gap_before or contact_lost:
            src.end_run()
        if contact_lost:
            return []
        beats = []
        for stamp, rr in zip(chunk.sample_times(), np.asarray(chunk.values, float).ravel()):
            if not (math.isfinite(rr) and rr > 0):
                continue
            # BLE notification stamps jitter by ~100 ms: beat times from the cumulative intervals
            stamp, rr = float(stamp), float(rr)
            t = stamp if src.rr_anchor is None else src.rr_anchor + rr / 1000.0
            if abs(t - stamp) > self.o.rr_drift_s or rr / 1000.0 > self.o.gap_s:
                src.end_run()  # device beats missing
                t = stamp
            src.rr_anchor = t
            beats.append(t)
        return beats

    def _signal(self, src: _BeatSource, chunk: Chunk, contact_lost: bool) -> list[float]:
        """Beats of an ECG/PPG chunk; a dropout, lost contact or missing samples end the run."""
        det = src.detector
        assert det is not None
        # a regular chunk's sample times are not made: the detector computes the few it reads as
        # Chunk.sample_times would (push_regular, regular_time)
        t0 = chunk.t0
        times = None if t0 is not None else chunk.sample_times()
        if times is None:
            t0, rate = float(t0), float(chunk.stream.rate)  # type: ignore[arg-type]
            n = len(chunk.values)
        else:
            n = len(times)
        vals = np.asarray(chunk.values, dtype=float)
        if vals.ndim != 1 or len(vals) != n:  # several channels: the first
            vals = vals.reshape(n, -1)[:, 0] if n else np.empty(0)
        first = (regular_time(t0, rate, 0) if times is None else float(times[0])) if n else math.nan
        if self.gate_s and n and self._gated(src, first):
            if not src.gated:
                det.end_segment()
                src.end_run()
                src.gated = True
            src.last_sample_t = None  # the next detected chunk starts a segment, it is no dropout
            return []
        src.gated = False
        src.samples_detected += n
        jump = (src.last_sample_t is not None and n
                and first - src.last_sample_t > 0.5 + 1.0 / det.fs)  # as BeatTrack: a lost packet
        beats: list[float] = []
        if chunk.gap_before or jump or contact_lost:
            beats += det.end_segment()
            src.end_run()
        if contact_lost or not len(vals):
            return beats
        # one sum tells that every sample is finite (a NaN or an infinity makes it non-finite); only
        # if it is not (a hole, or an overflowing sum of finite samples) are the samples checked
        if not math.isfinite(np.add.reduce(vals)):
            if times is None:
                times = chunk.sample_times()
            good = np.isfinite(vals)
            while not good.all():  # a hole of missing samples ends the segment; restart after it
                first_bad = int(np.argmin(good))
                beats += det.push(vals[:first_bad], times[:first_bad]) + det.end_segment()
                src.end_run()
                last_bad = len(good) - int(np.argmin(good[::-1]))
                vals, times, good = vals[last_bad:], times[last_bad:], good[last_bad:]
        if times is None:
            pushed = det.push_regular(vals, t0, rate)
            src.last_sample_t = regular_time(t0, rate, n - 1)
        else:
            pushed = det.push(vals, times)
            if len(times):
                src.last_sample_t = float(times[-1])
        if beats:
            beats += pushed
            return beats
        return pushed

    def _gated(self, src: _BeatSource, t: float) -> bool:
        """A better-ranked source gave a beat within ``gate_s`` before ``t`` (module docstring)."""
        return bool(src.better) and any(s.newest_beat >= t - self.gate_s for s in src.better)

    # ------------------------------------------------------------------ beats
    def _beat(self, src: _BeatSource, t: float) -> float | None | bool:
        """Use one raw beat of ``src``; its instantaneous HR (None: first of a run), False if not used."""
        o = self.o
        if src.last_beat is not None:
            if t - src.last_beat > o.gap_s:
                src.end_run()  # no beat for gap_s: a new run
            elif t - src.last_beat < o.min_rr_s:
                return False  # > 240 bpm: dropped, as the final track does
        src.last_beat = t
        if t > src.newest_beat:
            src.newest_beat = t
        src.live_until = t + o.gap_s
        if src.better and any(s.live_until >= t for s in src.better):
            return False  # a better source has beats here
        prev = self.prev
        if prev is not None and t <= prev[0]:
            return False  # already covered by another source's beats (the window is in time order)
        rr = None
        if prev is not None and prev[1] == src.kind and prev[2] == src.run:
            rr = (t - prev[0]) * 1000.0
        self.prev = (t, src.kind, src.run)
        self.window.add(t, rr)
        return None if rr is None else 60000.0 / rr

    def _values(self, used: list[tuple[float, float | None]], src: _BeatSource) -> dict[str, Any]:
        t, hr_inst = used[-1]
        w = self.window
        w.expire(t - self.window_s)
        if len(used) == 1:
            beat_times, beat_hr = [t], [hr_inst]
        else:
            beat_times, beat_hr = [b for b, _ in used], [h for _, h in used]
        out: dict[str, Any] = {
            "participant": self.participant, "t": t, "hr_inst_bpm": hr_inst, "hr_bpm": None,
            "heart_source": None, "beat_times": beat_times, "beat_hr_bpm": beat_hr, "beat_source": src.name,
        }
        n = len(w)
        coverage = min(1.0, w.covered_ms / 1000.0 / self.window_s) if n else 0.0
        if coverage >= self.o.min_coverage and n >= 3:
            out["hr_bpm"] = w.hr_bpm()
            out["heart_source"] = src.name
        elif self.has_hr:
            self._device_fill(t, out)
        return out

    # --------------------------------------------------------------- device HR
    def _device_hr(self, chunk: Chunk) -> list[dict[str, Any]]:
        """Device HR: kept for the window; published where no beat source is live."""
        if chunk.meta.get("contact") is False:
            return []
        new = [(float(t), float(v)) for t, v in zip(chunk.sample_times(), np.asarray(chunk.values, float).ravel())
               if math.isfinite(v) and v > 0]
        if not new:
            return []
        self.hr_samples.extend(new)
        t, v = new[-1]
        while self.hr_samples and self.hr_samples[0][0] <= t - self.window_s:
            self.hr_samples.popleft()
        if any(s.live_until >= t for s in self.sources.values()):
            return []  # beats speak for this moment
        out: dict[str, Any] = {
            "participant": self.participant, "t": t, "hr_inst_bpm": v, "hr_bpm": None, "heart_source": None,
            "beat_times": [], "beat_hr_bpm": [], "beat_source": None,
        }
        self._device_fill(t, out)
        return [out]

    def _device_fill(self, t: float, out: dict[str, Any]) -> None:
        """``hr_bpm`` from the device HR of the window, as the final tier fills seconds without beats."""
        vals = [v for s, v in self.hr_samples if t - self.window_s < s <= t]
        newest = max((s for s, _ in self.hr_samples if s <= t), default=-math.inf)
        if vals and t - newest <= self.o.device_hr_stale_s:
            out["hr_bpm"] = float(np.mean(vals))
            out["heart_source"] = DEVICE_HR
