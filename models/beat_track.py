"""BeatTrack: one heart source of one person (ECG, RR/IBI or PPG) -> final, corrected beats.

A track turns its own stream, and nothing else, into an ordered list of *items*:

- ``("beat", t, corrected, amplitude)``: a final beat at session time ``t`` after artefact
  correction (:mod:`.artefacts`, Lipponen & Tarvainen 2019); ``corrected`` counts the beats moved,
  inserted or deleted up to it; ``amplitude`` is the cleaned ECG value at the R peak (ECG only,
  ``None`` for moved or inserted beats), used for ECG-derived breathing.
- ``("gap", t0, 0, reason)``: the run of beats that ended at ``t0`` is over (dropout, lost
  contact, missing samples, a motion block without usable pulses, no beat for ``gap_s``).

:attr:`BeatTrack.watermark` is the session time up to which the items are final. Because items
depend only on the track's own stream, and the watermark only on how far that stream has
arrived, several tracks of one person can be fused (:mod:`.heart`) without the result depending
on how their chunks interleave.

A gap never restarts anything downstream: the track's beat detector starts a new segment and the
corrector a new buffer (neither may see across missing data), but the HRV window keeps the beats
on either side and forms no interval across the gap.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from ..sensors.chunk import Chunk, StreamKind
from .artefacts import CorrectorOptions, StreamingCorrector
from .beats import ECG_MIN_TEMPLATE_CORR, PPG_FIDUCIALS, BeatDetector, BeatDetectorOptions, MotionGate

if TYPE_CHECKING:  # pragma: no cover
    from .heart import HeartOptions

Item = tuple[str, float, int, Any]  # ("beat", t, corrected, amplitude) | ("gap", t0, 0, reason)

#: A final PPG interval at least this many times the median of the track's recent intervals is
#: nearer two beats than one: a pulse the detector did not find. The run ends there (a gap), so
#: that the interval enters neither HR nor HRV, and no beat is invented inside it.
MISSED_PULSE_RATIO = 1.5
#: How many recent intervals (across gaps) that median is taken over, and how many it needs
#: (the 11-beat median filter of Lipponen & Tarvainen 2019).
MISSED_PULSE_CONTEXT = 11
MISSED_PULSE_MIN_CONTEXT = 5


class BeatTrack:
    """Final, artefact-corrected beats of one ECG, RR/IBI or PPG stream.

    Parameters
    ----------
    kind : StreamKind
        ``ECG`` or ``PPG`` (beats detected here, :class:`.beats.BeatDetector`) or ``RR``
        (beat times rebuilt from the device's intervals).
    rate : float or None
        Sample rate of an ECG or PPG stream.
    options : HeartOptions
        Gap, drift, detector and corrector settings of the ``heart`` family.
    """

    def __init__(self, kind: StreamKind, rate: float | None, options: "HeartOptions") -> None:
        self.kind = kind
        self.o = options
        self.detector: BeatDetector | None = None
        if kind in (StreamKind.ECG, StreamKind.PPG):
            self.detector = BeatDetector(
                float(rate or 0.0) or 1.0, "ecg" if kind == StreamKind.ECG else "ppg",
                BeatDetectorOptions(options.detector_step_s, options.detector_margin_s,
                                    ppg_fiducial=PPG_FIDUCIALS[options.ppg_fiducial] if options.ppg_fiducial != "peak" else None),
            )
        self.corrector = StreamingCorrector(CorrectorOptions(
            block=options.corrector_block, lookahead=options.corrector_lookahead, min_rr_s=options.min_rr_s,
            period_s=options.corrector_period_s, insert_missed=kind != StreamKind.PPG))
        self.items: list[Item] = []
        self.final_wm = -math.inf
        self.source_wm = -math.inf
        self.started = False
        self.raw_amp: dict[float, float] = {}  # amplitude of raw ECG beats, by time
        #: final beats whose waveform matched the block's median beat poorly (ECG below
        #: ECG_MIN_TEMPLATE_CORR; PPG beats below their floor are not returned at all), by time;
        #: the fusion takes them out as it consumes the beats
        self.poor: set[float] = set()
        self.raw_poor: set[float] = set()
        #: PPG only, with the person's accelerometer (:meth:`watch_motion`)
        self.motion: MotionGate | None = None
        self.waiting: deque[Chunk] = deque()  # PPG chunks waiting for the ACC to reach them
        self.motion_dropped = 0  # beats dropped in strong-motion seconds
        #: PPG only: the track's recent final intervals (s), kept across gaps, and the number of
        #: runs ended at a missed pulse (:meth:`_missed_pulse`)
        self.recent_iv: deque[float] = deque(maxlen=MISSED_PULSE_CONTEXT)
        self.missed_pulses = 0
        self.last_raw: float | None = None
        self.last_sample_t: float | None = None
        self.silent_until = -math.inf  # an empty chunk said: no samples up to here
        self.rr_anchor: float | None = None
        self.dropped = 0
        self.gap_reason: str | None = None  # reason of the gap the track is in (None: in a run)
        # runs of final beats, for :meth:`covers`
        self.closed_runs: deque[tuple[float, float]] = deque()
        self.run: list[float] | None = None  # [first, last] final beat of the run in progress
        # gating (see :meth:`gate_on`)
        self.better: BeatTrack | None = None
        self.gate_margin = 0.0
        self.slots: dict[int, list[Chunk]] = {}
        self.next_slot: int | None = None
        self.skipping = False
        self.slots_detected = 0  # 1-s slots given to the detector (gated tracks)

    def gate_on(self, better: "BeatTrack", margin_s: float) -> None:
        """Run the beat detector only where ``better`` (a higher-ranked track) does not cover.

        The signal is held in 1-s slots of session time; slot ``k`` is decided once ``better`` is
        final past ``k + 1 + margin_s``: skipped (no detection) when one of its runs covers
        ``[k - margin_s, k + 1 + margin_s]``, detected otherwise. Its beats would lose to
        ``better``'s there anyway; the margin lets a detection segment start a few seconds before
        ``better``'s run ends, so that beats are there at the switch. Decisions depend on the data
        only (session-time slots, ``better``'s final beats), not on chunking or interleaving. The
        cost: where detection is needed, beats come ``better``'s latency + ``margin_s`` later.
        """
        self.better = better
        self.gate_margin = float(margin_s)

    def watch_motion(self, gate: MotionGate) -> None:
        """Drop PPG beats in strong-motion seconds of the person's accelerometer (a gap).

        Each PPG chunk waits until the accelerometer has decided the motion of every second it
        covers, so the beats it yields are judged as they are found, in order, whatever the
        interleaving of the two streams. Motion shifts the sensor against the skin and moves the
        venous blood: pulse peaks found then are unreliable even when their shape passes the
        template check (Maeda, Sekine & Tamura 2011, J Med Syst 35:969, wrist PPG during walking).
        """
        self.motion = gate

    def motion_input(self, chunk: Chunk) -> None:
        """Take an ACC chunk (milli-g, x/y/z) for the motion gate."""
        assert self.motion is not None
        self.motion.push(chunk.values, chunk.sample_times(), float(chunk.t_end))
        self._release_waiting()

    def take_poor(self, t: float) -> bool:
        """Whether final beat ``t`` had a poor waveform (asked once, as the fusion consumes it)."""
        if t in self.poor:
            self.poor.discard(t)
            return True
        return False

    def _release_waiting(self) -> None:
        gate = self.motion
        assert gate is not None
        while self.waiting:
            c = self.waiting[0]
            if len(c) and not gate.knows(float(c.sample_times()[-1])):
                break
            self.waiting.popleft()
            self._signal(c, c.meta.get("contact") is False)
        self._check_silence()

    def covers(self, a: float, b: float) -> bool | None:
        """One run of this track's final beats spans ``[a, b]``; ``None`` while not yet known."""
        if self.final_wm < b:
            return None
        while self.closed_runs and self.closed_runs[0][1] < a - 60.0:  # queries only move forward
            self.closed_runs.popleft()
        runs = list(self.closed_runs) + ([tuple(self.run)] if self.run is not None else [])
        return any(s <= a and e >= b for s, e in runs)

    @property
    def watermark(self) -> float:
        """Session time up to which :attr:`items` are final."""
        return self.final_wm

    # ------------------------------------------------------------------ input
    def update(self, chunk: Chunk) -> None:
        """Take one chunk of this track's stream."""
        self.started = True
        self.source_wm = max(self.source_wm, float(chunk.t_end))
        if self.better is not None and chunk.t0 is not None:
            self._hold(chunk)
            self.advance()
            return
        if self.motion is not None and chunk.t0 is not None:
            self.waiting.append(chunk)
            self._release_waiting()
            return
        contact_lost = chunk.meta.get("contact") is False
        if self.detector is not None:
            self._signal(chunk, contact_lost)
        else:
            self._rr(chunk, contact_lost)
        self._check_silence()

    def finish(self) -> None:
        """End of data: everything buffered becomes final, up to the stream's last time.

        A gated track's better track must have finished first.
        """
        if self.better is not None:
            self.advance(final=True)
        if self.motion is not None:
            self.motion.end()
            self._release_waiting()
        if self.detector is not None:
            self._detected(self.detector.end_segment())
        self._final_beats(self.corrector.flush())
        self.final_wm = max(self.final_wm, self.source_wm)

    # ----------------------------------------------------------------- gating
    def _hold(self, chunk: Chunk) -> None:
        """Keep a regular chunk, cut at whole session seconds, until its slots are decided."""
        st = chunk.sample_times()
        if not len(st):
            pieces = [(math.floor(chunk.start), chunk)]
        else:
            ks = np.floor(np.round(st, 6)).astype(np.int64)  # 1-us rounding: as the detector
            cuts = [0, *(np.flatnonzero(np.diff(ks)) + 1).tolist(), len(st)]
            pieces = [
                (int(ks[a]), Chunk(chunk.stream, chunk.values[a:b], t0=float(st[a]),
                                   gap_before=chunk.gap_before and i == 0, meta=chunk.meta))
                for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))
            ]
        for k, piece in pieces:
            self.slots.setdefault(k, []).append(piece)
            if self.next_slot is None or k < self.next_slot:
                self.next_slot = k

    def advance(self, final: bool = False) -> None:
        """Decide every slot whose data and whose cover by the better track are known."""
        better = self.better
        if better is None or self.next_slot is None:
            return
        m = self.gate_margin
        last = max(self.slots, default=self.next_slot - 1) if final else math.floor(self.source_wm + 1e-9) - 1
        while self.next_slot <= last:
            k = self.next_slot
            covered = better.covers(k - m, k + 1 + m)
            if covered is None:
                if not final:
                    break
                covered = False  # the better track has ended
            pieces = self.slots.pop(k, [])
            if covered:
                self._skip(float(k))
            else:
                self.skipping = False
                self.slots_detected += 1
                for p in pieces:
                    self._signal(p, p.meta.get("contact") is False)
                self._check_silence()
            self.next_slot = k + 1

    def _skip(self, k: float) -> None:
        det = self.detector
        assert det is not None
        if not self.skipping:
            self._detected(det.end_segment())
            t0 = self.last_raw if self.last_raw is not None else (self.last_sample_t if self.last_sample_t is not None else k)
            self._begin_gap(t0, "covered by a better source")
            self.skipping = True
        self.last_sample_t = None  # the next detected slot starts a new segment, not a "dropout"
        self.final_wm = max(self.final_wm, k + 1.0)

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
            self._detected(det.end_segment())
            if self.last_sample_t is not None:
                reason = "contact lost" if contact_lost else _dropout_reason(chunk)
                self._begin_gap(self.last_raw if self.last_raw is not None else self.last_sample_t, reason)
        if not len(vals) and (chunk.gap_before or self.last_sample_t is None):
            # no samples up to this watermark (a live stream gone silent, or one not yet
            # started: sensors.live.SilenceWatch): final up to there, nothing to detect
            self.last_sample_t = None
            self.silent_until = max(self.silent_until, float(chunk.t_end))
        if contact_lost or not len(vals):
            return
        good = np.isfinite(vals)
        if not good.all():  # missing samples: end the segment at the hole, restart after it
            first_bad = int(np.argmin(good))
            self._detected(det.push(vals[:first_bad], times[:first_bad]))
            self._detected(det.end_segment())
            self._begin_gap(self.last_raw if self.last_raw is not None else float(times[0]), "missing samples")
            last_bad = len(good) - int(np.argmin(good[::-1]))
            vals, times = vals[last_bad:], times[last_bad:]
        self._detected(det.push(vals, times))
        if len(times):
            self.last_sample_t = float(times[-1])

    def _rr(self, chunk: Chunk, contact_lost: bool) -> None:
        if chunk.gap_before or contact_lost:
            if self.last_raw is not None:
                self._begin_gap(self.last_raw, "contact lost" if contact_lost else _dropout_reason(chunk))
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
    def _detected(self, beats: list[float]) -> None:
        """Take the detector's new beats and, in time order, the beats it rejected for their
        waveform: a rejected beat ends the run (a gap), so that no interval spans it. Were it
        left out silently, the interval across it (two heartbeats long) would enter HRV, or the
        artefact corrector would insert an interpolated beat in it: on the Welltory camera
        recordings through the user's path, mean HR was within 2 % of the chest strap on 7 of 21
        that way and is on 17 of 21 with the break (bench/RESULTS.md, "Finger PPG on the user's
        path")."""
        det = self.detector
        assert det is not None
        rejected, det.rejected_times = det.rejected_times, []
        for t, kept in sorted([(b, True) for b in beats] + [(r, False) for r in rejected]):
            if kept:
                self._raw_beat(t)
            elif self.last_raw is not None:
                self._begin_gap(self.last_raw, "PPG beat rejected (waveform unlike the block's median beat)")

    def _raw_beat(self, t: float) -> None:
        if self.motion is not None and self.motion.quality_factor(t) == 0.0:
            assert self.detector is not None
            self.detector.amplitudes.pop(t, None)
            self.detector.quality.pop(t, None)
            self.motion_dropped += 1
            if self.last_raw is not None:
                self._begin_gap(self.last_raw, "strong motion")
            return
        if self.last_raw is not None and t - self.last_raw > self.o.gap_s:
            self._begin_gap(self.last_raw, f"no beat for more than {self.o.gap_s:g} s")
        if self.last_raw is not None and t - self.last_raw < self.o.min_rr_s:
            self.dropped += 1
            return
        self.gap_reason = None
        self.last_raw = t
        if self.detector is not None:
            a = self.detector.amplitudes.pop(t, None)
            if a is not None and self.kind == StreamKind.ECG:
                self.raw_amp[t] = a
            q = self.detector.quality.pop(t, None)
            if q is not None and q < ECG_MIN_TEMPLATE_CORR:  # NaN (not judged) is not poor
                self.raw_poor.add(t)
        self._final_beats(self.corrector.add(t))

    def _final_beats(self, beats: list[tuple[float, int]]) -> None:
        for t, c in beats:
            if self.dropped:
                c, self.dropped = c + self.dropped, 0
            amp = self.raw_amp.pop(t, None)  # moved or inserted beats have no measured amplitude
            if t in self.raw_poor:
                self.raw_poor.discard(t)
                self.poor.add(t)
            if self.raw_poor and len(self.raw_poor) > 64:  # raw beats deleted by the correction
                self.raw_poor = {x for x in self.raw_poor if x > t}
            if self._missed_pulse(t):
                self.closed_runs.append((self.run[0], self.run[1]))  # type: ignore[index]
                self.items.append(("gap", self.run[1], 0, "PPG pulse missed (interval nearer two beats than one)"))  # type: ignore[index]
                self.run = None
            self.items.append(("beat", t, c, amp))
            if self.run is None:
                self.run = [t, t]
            else:
                self.run[1] = t
            self.final_wm = max(self.final_wm, t)
            while self.raw_amp:
                first = next(iter(self.raw_amp))
                if first >= t:
                    break
                del self.raw_amp[first]  # raw beats deleted by the correction

    def _missed_pulse(self, t: float) -> bool:
        """Whether final PPG beat ``t`` ends an interval of its run that spans a missed pulse.

        The interval from the run's last beat is compared with the median of the track's last
        ``MISSED_PULSE_CONTEXT`` intervals (kept across gaps: the runs of a camera PPG are often
        shorter than the context, and at a run's first and last two intervals the artefact
        corrector cannot judge, Lipponen & Tarvainen 2019). At ``MISSED_PULSE_RATIO`` or more it
        is taken for a missed pulse. ECG beats and device RR are left to the corrector (an ECG pause
        is real and is kept).
        """
        if self.kind != StreamKind.PPG or self.run is None:
            return False
        iv = t - self.run[1]
        recent = self.recent_iv
        missed = len(recent) >= MISSED_PULSE_MIN_CONTEXT and iv >= MISSED_PULSE_RATIO * float(np.median(recent))
        if missed:
            self.missed_pulses += 1
        else:
            recent.append(iv)
        return missed

    def _begin_gap(self, t0: float, reason: str) -> None:
        self._final_beats(self.corrector.flush())
        if self.run is not None:
            self.closed_runs.append((self.run[0], self.run[1]))
            self.run = None
        self.items.append(("gap", t0, 0, reason))
        self.final_wm = max(self.final_wm, t0)
        self.last_raw = None
        self.rr_anchor = None  # the first beat after a gap sits at its own stamp
        if self.gap_reason is None:
            self.gap_reason = reason

    def _check_silence(self) -> None:
        """No beat for ``gap_s`` although the stream is complete up to its watermark."""
        # device RR beat times may trail their stamps by up to rr_drift_s
        limit = self.detector.watermark if self.detector is not None else self.source_wm - self.o.rr_drift_s
        if self.last_raw is not None and limit - self.last_raw > self.o.gap_s:
            self._begin_gap(self.last_raw, f"no beat for more than {self.o.gap_s:g} s")
        if self.last_raw is None and not self.corrector.pending:
            # between runs nothing is pending: the track is final up to its input
            wm = max(self.detector.watermark, self.silent_until) if self.detector is not None else self.source_wm
            self.final_wm = max(self.final_wm, wm)


def _dropout_reason(chunk: Chunk) -> str:
    """Why the data before ``chunk`` are missing, for the gap event."""
    return "stream silent" if chunk.meta.get("silent") else "dropout"
