"""HeartEstimator: every heart source of one person fused into one beat series, features every second.

Sources and the rule that picks between them
--------------------------------------------
A person may bring several heart streams at once. Each beat stream becomes a
:class:`.beat_track.BeatTrack` (its own detector and artefact corrector, its own gaps), and the
fused series takes, at every moment, the beats of the highest-ranked track whose current *run*
(beats without a gap between them) covers that moment:

1. ``RR`` -- intervals from the device's own detector: a chest strap's R-R (Polar H10: 1/1024 s
   from its ~1 kHz internal ECG, validated against Holter ECG by Gilgen-Ammann, Schweizer & Wyss
   2019, Eur J Appl Physiol 119:1525) or a wrist device's IBI.
   Issue #13 listed ECG first; the measurement does not support a precision reason either way:
   on the shared Polar H10 recording, intervals of the R peaks detected here from its 130 Hz ECG
   (sub-sample refined) differ from the strap's own RR by a median 0.68 ms (95th percentile
   1.9 ms, SD 1.0 ms) on 793 of 798 intervals (``bench/RESULTS.md``, "Heart fusion"), against
   RMSSD of tens of ms. RR stays first because it is the vendor-validated measurement and because
   every session that has it complete keeps exactly the beats it had before fusion existed; the
   ECG fills the stretches where the RR stream has no beats. What ECG-first would add (R-wave
   amplitude for ECG-derived breathing on strap sessions) is a ``beat_sources`` setting away:
   ``{"heart": {"beat_sources": ["ecg", "rr", "ppg"]}}``.
2. ``ECG`` -- R peaks detected here (:mod:`.beats`).
3. ``PPG`` -- pulse peaks (wrist BVP, finger PPG); pulse arrival jitter makes RMSSD from PPG less
   precise, and motion blocks yield no beats. A pulse the detector rejected or did not find ends
   the run (:mod:`.beat_track`): no interval spans it and no beat is invented in it.
4. ``HR`` (device heart rate, e.g. the E4's or a strap's 1-Hz HR) -- never beats: it feeds
   ``hr_bpm`` (window mean) and ``hr_inst_bpm`` only where no beats are usable, and then
   ``heart_source = "device_hr"`` (and :mod:`.autonomic` keeps ``quality`` at ``fair`` at best).

Two clocks never meet in one interval: an NN interval is formed only between consecutive fused
beats of the same run of the same track. At a switch the first beat of the new track starts a
new run (no interval across the switch); beats of both tracks stay in the window, each interval
measured on one clock. Duplicate beats at a switch (the same heartbeat seen by two sources) thus
add no interval.

Dropouts
--------
A gap (no track covers a stretch) is an event, never interpolated, and no interval spans it. It
does not restart the HRV window: the window keeps the beats before the gap, and features are
computed on the beats present as long as they cover ``min_coverage`` of the window
(``heart_coverage`` = sum of the window's NN intervals / window length). A dropout of *d* seconds
therefore costs at most about *d* seconds of ``hr_bpm`` (none when the window stays covered enough)
and *d* + 2 s of ``hr_inst_bpm`` (the first beat after a gap has no interval yet); ``quality``
reflects the lower coverage.

Columns
-------
``hr_bpm`` etc. (see ``HEART_COLUMNS``); ``heart_source``: ``rr``/``ecg``/``ppg`` (the track of
the newest beat of the window, when ``hr_bpm`` comes from beats), ``device_hr``, or empty when
``hr_bpm`` is; ``heart_coverage`` (0-1, beat streams only); ``beats_poor``: beats of the window whose
waveform correlates with the block's median beat below ``beats.ECG_MIN_TEMPLATE_CORR`` (Orphanidou
et al. 2015; ECG beats are graded, not dropped; :mod:`.autonomic` counts them into ``quality`` as it
counts corrected beats).

Clocks
------
A device's RR/PPI may be dated on another clock than the signal beats are detected from (Polar
Sensor Logger PPI rows carry the phone's arrival time, ~16 s late on the Verity Sense record). On
the first :data:`.beat_alignment.BEATS_NEEDED` beats of the RR track and of the PPG (else ECG)
track, :class:`.beat_alignment.ClockCheck` finds the shift at which their interval series match;
an unambiguous shift above :data:`.beat_alignment.MISALIGNED_S` is a ``warning`` event naming it
and the reader option that removes it (``delay_s``). Nothing is shifted here: the shift is known
only after minutes of beats, when earlier rows are already final.

Per-beat quality and motion (PPG)
---------------------------------
PPG beats below ``beats.PPG_MIN_BEAT_QUALITY`` never leave the detector; with an accelerometer of
the same person (the registry hands it to this estimator when there is a PPG stream), PPG beats
in seconds of strong motion (``ppg_motion_mg``, :class:`.beats.MotionGate`) are dropped as well.
Both become gaps of the PPG track ("strong motion"): HRV leaves them out, and the lower
``heart_coverage`` lowers ``quality``. The PPG track waits for the accelerometer to reach each
chunk (:meth:`.beat_track.BeatTrack.watch_motion`), so the result does not depend on how the two
streams interleave; the cost is the accelerometer's latency, when it trails the PPG.

``breathing_rpm`` (on windows covered by one run only): from ECG, the respiratory modulation of
R-wave amplitude (:func:`.frequency.amplitude_breathing`); otherwise, or when too few beats carry
an amplitude, the RSA peak of the tachogram in the HF band (:func:`.frequency.hf_power`); ``None``
when neither shows one dominant rhythm.

Determinism: every track depends only on its own stream; the fusion decides a beat only once
every track is final past it (the smallest track watermark), or, while the best track's run goes
on from before that point, on the best track alone (nothing else can win there), so the fused
series does not depend on how the streams' chunks interleave or are cut. Latency: while the best
source covers, as that source alone (a strap's RR: a median 8 s); around its gaps, the slowest of the
person's heart streams (ECG: the 8-s detection block plus 2 s of margin; the artefact corrector:
6 beats of look-ahead). Cost: when RR ranks above ECG, R peaks are detected only in the seconds
the RR does not cover (:meth:`.beat_track.BeatTrack.gate_on`, ``ecg_gate_margin_s``); those
ECG beats then come the RR's latency + the margin later.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from .base import Event, SecondTicker, Second, StreamEstimator
from .beat_alignment import MISALIGNED_S, ClockCheck
from .beat_track import BeatTrack
from .beats import PPG_FIDUCIALS, STRONG_MOTION_MG, MotionGate
from .config import ConfigError, PipelineConfig, family_options
from .frequency import amplitude_breathing, hf_power
from .hrv import TimeDomainWindow

HEART_COLUMNS = (
    "hr_inst_bpm", "hr_bpm", "rmssd_ms", "ln_rmssd", "sdnn_ms", "pnn50", "sd1_ms", "sd2_ms", "stress_index",
    "hf_ms2", "beats_in_window", "beats_corrected", "breathing_rpm", "heart_source", "heart_coverage",
    "beats_poor",
)

#: ``heart_source`` value of seconds whose ``hr_bpm`` is the device's own heart rate.
DEVICE_HR = "device_hr"
_NOTES = {
    StreamKind.RR: "device RR intervals (1/1024 s resolution, the strap's own ~1 kHz detector)",
    StreamKind.ECG: "R peaks detected from ECG (neurokit2, sub-sample refined)",
    StreamKind.PPG: "pulse peaks from PPG (less precise than ECG for RMSSD)",
    StreamKind.HR: "device heart rate (no beat-to-beat variability) where no beats are usable",
}


@dataclass
class HeartOptions:
    """Options of the ``heart`` family (``config.options["heart"]``)."""

    #: beat sources, best first (module docstring); any order of "rr", "ecg", "ppg"
    beat_sources: tuple[str, ...] = ("rr", "ecg", "ppg")
    gap_s: float = 3.0  # an RR interval (or silence) longer than this is a gap, not a beat
    min_rr_s: float = 0.25  # a raw beat this close to the previous one is dropped (> 240 bpm)
    min_coverage: float = 0.5  # share of the window its NN intervals must cover for time-domain indices
    hf_min_window_s: float = 60.0  # HF only on windows at least this long (Task Force 1996: >= 1 min)
    hf_fs: float = 4.0  # tachogram resampling rate (Hz)
    rr_drift_s: float = 2.0  # device RR cumsum vs timestamps beyond this: beats were lost -> gap
    device_hr_stale_s: float = 5.0  # device HR older than this no longer stands for the current second
    #: ECG beats are detected only where the RR's runs do not cover the second +- this margin
    #: (0: always detect); see :meth:`.beat_track.BeatTrack.gate_on`
    ecg_gate_margin_s: float = 4.0
    detector_step_s: float = 8.0
    detector_margin_s: float = 2.0
    corrector_block: int = 8  # used only with corrector_period_s = 0
    corrector_lookahead: int = 6
    corrector_period_s: float = 4.0  # artefact correction runs on a session-clock grid (see artefacts)
    #: PPG beats in seconds whose accelerometer RMS exceeds this (milli-g) are dropped (a gap);
    #: 0 turns the motion gate off (see :class:`.beats.MotionGate`)
    ppg_motion_mg: float = STRONG_MOTION_MG
    #: PPG fiducial point: "peak" (systolic peak, the default) or "upstroke" (steepest upstroke,
    #: :func:`.beats.max_slope_points`; Peralta et al. 2019, finger PPG). On the Welltory phone-camera
    #: recordings the upstroke's intervals follow the chest strap's more closely, but on the Polar
    #: Verity Sense it breaks the match with the device's PPI (bench/RESULTS.md, issue 13): a
    #: choice for camera PPG, applied to every PPG stream of the session. "tangent": the
    #: intersecting-tangents foot (:func:`.beats.tangent_foot_points`; Chiu et al. 1991).
    ppg_fiducial: str = "peak"

    def __post_init__(self) -> None:
        self.beat_sources = tuple(self.beat_sources)  # a list after a JSON round trip
        bad = set(self.beat_sources) - {"rr", "ecg", "ppg"}
        if bad or len(set(self.beat_sources)) != len(self.beat_sources):
            raise ConfigError(f"{list(self.beat_sources)} is not a list of distinct beat sources",
                              field="options.heart.beat_sources", expected="some of 'rr', 'ecg', 'ppg', best first")
        if self.ppg_fiducial not in PPG_FIDUCIALS:
            raise ConfigError(f"{self.ppg_fiducial!r} is not a PPG fiducial point", field="options.heart.ppg_fiducial",
                              expected=" or ".join(repr(k) for k in PPG_FIDUCIALS))

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "HeartOptions":
        """The ``heart`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "heart", cls)


class _Runs:
    """Runs (first beat, last beat) of one track as the fusion has consumed them."""

    def __init__(self) -> None:
        self.closed: deque[tuple[float, float, str]] = deque()  # (start, end, reason it ended)
        self.open: list[float] | None = None  # [start, end] of the run in progress
        self.id = 0

    def beat(self, t: float) -> int:
        if self.open is None:
            self.id += 1
            self.open = [t, t]
        else:
            self.open[1] = t
        return self.id

    def gap(self, reason: str) -> None:
        if self.open is not None:
            self.closed.append((self.open[0], self.open[1], reason))
            self.open = None

    def spans(self, continues: bool) -> list[tuple[float, float]]:
        """Every run as (start, end); an open run that continues past what was consumed ends at +inf."""
        out = [(s, e) for s, e, _ in self.closed]
        if self.open is not None:
            out.append((self.open[0], math.inf if continues else self.open[1]))
        return out

    def prune(self, before: float) -> None:
        while self.closed and self.closed[0][1] < before:
            self.closed.popleft()


class HeartEstimator(StreamEstimator):
    """Per-second heart features of one participant from all their heart streams (module docstring)."""

    accepts = frozenset({StreamKind.ECG, StreamKind.RR, StreamKind.PPG, StreamKind.HR})

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
        self.participant = participant
        self.config = config
        self.o = HeartOptions.from_config(config)
        self.window_s = float(config.window_s)
        mine = [s for s in streams if s.participant == participant] or list(streams)
        kinds = {s.kind for s in mine}
        rates = {s.kind: s.rate for s in mine if s.rate}
        order = [StreamKind(k) for k in self.o.beat_sources]
        self.tracks: list[BeatTrack] = [
            BeatTrack(k, rates.get(k), self.o) for k in order
            if k in kinds and (k == StreamKind.RR or rates.get(k))
        ]
        self.track_of = {tr.kind: i for i, tr in enumerate(self.tracks)}
        # the strap's RR covers almost always: detect R peaks only where it does not (saves the
        # ECG detector's CPU on every ECG + RR session; see BeatTrack.gate_on)
        rr, ecg = self.track_of.get(StreamKind.RR), self.track_of.get(StreamKind.ECG)
        if rr is not None and ecg is not None and rr < ecg and self.o.ecg_gate_margin_s > 0:
            self.tracks[ecg].gate_on(self.tracks[rr], self.o.ecg_gate_margin_s)
        self.gated = [tr for tr in self.tracks if tr.better is not None]
        # the person's accelerometer gates their PPG beats (registry passes it along with PPG)
        ppg = self.track_of.get(StreamKind.PPG)
        self.motion_track = None
        if ppg is not None and StreamKind.ACC in kinds and self.o.ppg_motion_mg > 0:
            self.motion_track = self.tracks[ppg]
            self.motion_track.watch_motion(MotionGate(self.o.ppg_motion_mg))
        self.accepts = HeartEstimator.accepts | ({StreamKind.ACC} if self.motion_track else set())
        # a device's RR/PPI may be dated on another clock than the signal its beats are detected
        # from (Polar PPI rows: phone arrival time); checked once on their first beats
        rr_k = self.track_of.get(StreamKind.RR)
        det_k = self.track_of.get(StreamKind.PPG, self.track_of.get(StreamKind.ECG))
        self.clock_check = ClockCheck() if rr_k is not None and det_k is not None else None
        self.check_roles = {} if self.clock_check is None else {rr_k: "device", det_k: "detected"}
        self.has_hr = StreamKind.HR in kinds
        present = [k for k in (*order, StreamKind.HR) if k in kinds]
        #: the best source present (fills from the others are recorded per second in heart_source)
        self.source = present[0] if present else None
        self.note = " > ".join(_NOTES[k] for k in present) if present else "no heart stream"
        # a RESP belt (MovementEstimator) beats any ECG-derived breathing estimate: the rows leave
        # the column to it (a None here would overwrite the belt's value, since this estimator's
        # seconds are complete after the belt's)
        self.derived_breathing = StreamKind.RESP not in kinds
        self.columns = HEART_COLUMNS if self.derived_breathing else tuple(c for c in HEART_COLUMNS if c != "breathing_rpm")
        self.started = False
        # device HR
        self.hr_samples: deque[tuple[float, float]] = deque()
        self.hr_wm = -math.inf
        # fusion
        self.cursor = [0] * len(self.tracks)
        self.runs = [_Runs() for _ in self.tracks]
        self.prev: tuple[float, int, int] | None = None  # last fused beat: (t, track, run id)
        #: (t, track, rr_ms, corrected, amp, poor waveform)
        self.fused: list[tuple[float, int, float | None, int, float | None, bool]] = []
        self.fi = 0
        self.pending_events: list[Event] = []
        # seconds
        self.window = TimeDomainWindow()
        self.ticker = SecondTicker()
        self.amp_win: deque[tuple[float, float]] = deque()
        self.poor_win: deque[float] = deque()  # times of the window's beats with a poor waveform
        self.run_start: float | None = None  # first beat of the current fused run (no interval missing since)
        self.last_beat: tuple[float, int] | None = None  # newest beat added to the window
        self.last_inst: float | None = None

    # ------------------------------------------------------------------ input
    def update(self, chunk: Chunk) -> list[Second]:
        """Take one chunk of this participant's heart streams and return the seconds it completed.

        Parameters
        ----------
        chunk : Chunk
            ECG, PPG, RR or HR of any participant (others' chunks are ignored).

        Returns
        -------
        list of Second
            Finished seconds with the fused heart features (see the module docstring).
        """
        if chunk.participant != self.participant:
            return []
        if chunk.kind == StreamKind.HR:
            if not self.has_hr:
                return []
            self._device_hr(chunk)
        elif chunk.kind == StreamKind.ACC:
            if self.motion_track is None:
                return []
            self.motion_track.motion_input(chunk)
        elif chunk.kind in self.track_of:
            self.tracks[self.track_of[chunk.kind]].update(chunk)
        else:
            return []
        for tr in self.gated:  # the better track's progress may decide held slots
            tr.advance()
        self.started = True
        decided = min((tr.watermark for tr in self.tracks), default=math.inf)
        self._fuse(decided)
        decided = max(decided, self._fuse_best_run())
        # a regular chunk's next sample sits at its t_end: device HR is complete only before it
        hr_complete = self.hr_wm - 1e-6 if self.has_hr else math.inf
        return self._emit(min(decided, hr_complete))

    def finish(self) -> list[Second]:
        """End of data: every track's buffered beats become final; returns the remaining seconds."""
        for tr in self.tracks:
            tr.finish()
        self._fuse(math.inf)
        if self.clock_check is not None and not self.clock_check.done:
            self._clock_verdict()
        end = max([tr.source_wm for tr in self.tracks] + [self.hr_wm])
        if self.prev is not None and math.isfinite(end) and end - self.prev[0] > self.o.gap_s:
            self._gap_event(self.prev[0], end)
        return self._emit(end)

    def events(self) -> list[Event]:
        """Events found since the last call (signal gaps, a device on another clock); drained by the pipeline."""
        ev, self.pending_events = self.pending_events, []
        return ev

    def _device_hr(self, chunk: Chunk) -> None:
        if chunk.meta.get("contact") is not False:
            for t, v in zip(chunk.sample_times(), np.asarray(chunk.values, float).ravel()):
                if math.isfinite(v) and v > 0:
                    self.hr_samples.append((float(t), float(v)))
        self.hr_wm = max(self.hr_wm, float(chunk.t_end))

    # ----------------------------------------------------------------- fusion
    def _fuse(self, upto: float) -> None:
        """Decide every track's beats up to ``upto`` (all tracks are final there) in time order."""
        cands: list[tuple[float, int, int, int, Any]] = []
        for k, tr in enumerate(self.tracks):
            items, i, runs = tr.items, self.cursor[k], self.runs[k]
            while i < len(items) and items[i][1] <= upto:
                what, t, c, x = items[i]
                if what == "beat":
                    cands.append((t, k, runs.beat(t), c, x, tr.take_poor(t)))
                    if k in self.check_roles:
                        self._clock_beat(k, t)
                else:
                    runs.gap(x)
                i += 1
            if i > 4096:  # consumed items are not needed again
                del items[:i]
                i = 0
            self.cursor[k] = i
        cands.sort(key=lambda c: (c[0], c[1]))
        for t, k, run_id, c, amp, poor in cands:
            if any(self._in_run(j, t) for j in range(k)):
                continue  # a better source has beats here
            rr = None
            if self.prev is not None:
                t1, k1, r1 = self.prev
                if (k1, r1) == (k, run_id):
                    rr = (t - t1) * 1000.0
                elif not self._covered(t1, t):
                    self._gap_event(t1, t)
            self.fused.append((t, k, rr, c, amp, poor))
            self.prev = (t, k, run_id)

    def _fuse_best_run(self) -> float:
        """Take the best track's beats past the common watermark while its run goes on.

        Where the best source's run covers everything from before the common watermark onwards,
        no other track can contribute a beat (theirs are dropped when they arrive), so the best
        track alone decides: a strap's RR is not held back by its slower ECG detector. Returns the
        time up to which the fusion is decided this way (-inf when it is not).
        """
        if len(self.tracks) < 2 or self.runs[0].open is None:
            return -math.inf
        items, i, runs = self.tracks[0].items, self.cursor[0], self.runs[0]
        last = -math.inf
        while i < len(items) and items[i][0] == "beat":
            _, t, c, amp = items[i]
            run_id = runs.beat(t)
            rr = None
            if self.prev is not None and self.prev[1:] == (0, run_id):
                rr = (t - self.prev[0]) * 1000.0
            self.fused.append((t, 0, rr, c, amp, self.tracks[0].take_poor(t)))
            if 0 in self.check_roles:
                self._clock_beat(0, t)
            self.prev = (t, 0, run_id)
            last = t
            i += 1
        self.cursor[0] = i
        return last

    def _clock_beat(self, k: int, t: float) -> None:
        assert self.clock_check is not None
        self.clock_check.add(self.check_roles[k], t)
        if self.clock_check.ready():
            self._clock_verdict()

    def _clock_verdict(self) -> None:
        """Warn when the device's beats sit on another clock (:mod:`.beat_alignment`)."""
        assert self.clock_check is not None
        check = self.clock_check
        off = check.decide()
        if off is None or not off.unambiguous or abs(off.shift_s) <= MISALIGNED_S:
            return
        role_kind = {role: self.tracks[k].kind.value for k, role in self.check_roles.items()}
        device, detected = role_kind["device"], role_kind["detected"]
        late = -off.shift_s
        self.pending_events.append(Event(
            kind="warning", t_start=max(b[-1] for b in check.beats.values()), participant=self.participant,
            rule="heart: device beats on another clock",
            label=(f"the device's {device.upper()} beats sit {abs(late):.1f} s {'after' if late > 0 else 'before'} "
                   f"the same beats in the {detected.upper()} (their interval series match there, median error "
                   f"{off.median_err_ms:.0f} ms), so the fused heart signal mixes two clocks; a Polar Sensor Logger "
                   f"PPI/RR file dated on arrival is aligned with ?delay_s={late:.1f} in its SPEC"),
            evidence={"shift_s": off.shift_s, "median_err_ms": round(off.median_err_ms, 1),
                      "runner_up_ms": round(off.runner_up_ms, 1), "compared": off.compared},
        ))

    def _continues(self, k: int) -> bool:
        """The open run of track ``k`` goes on past its consumed beats (its next item is a beat)."""
        items, i = self.tracks[k].items, self.cursor[k]
        return i < len(items) and items[i][0] == "beat"

    def _in_run(self, k: int, t: float) -> bool:
        return any(s <= t <= e for s, e in self.runs[k].spans(self._continues(k)))

    def _covered(self, a: float, b: float) -> bool:
        """Some track's runs cover all of [a, b] (no moment without a source)."""
        spans = sorted(
            (s, e) for k, r in enumerate(self.runs) for s, e in r.spans(self._continues(k)) if e >= a and s <= b
        )
        x = a
        for s, e in spans:
            if s > x:
                return False
            x = max(x, e)
            if x >= b:
                return True
        return x >= b

    def _gap_event(self, t0: float, t1: float) -> None:
        ended = [(e, why) for r in self.runs for _, e, why in r.closed if t0 <= e < t1]
        reason = max(ended)[1] if ended else f"no beat for {t1 - t0:.1f} s"
        self.pending_events.append(Event(
            kind="gap", t_start=t0, t_end=t1, participant=self.participant,
            rule=f"heart: {reason}; no interval spans the gap, the window keeps the beats around it",
            evidence={"duration_s": round(t1 - t0, 3), "sources": [tr.kind.value for tr in self.tracks]},
            label="signal gap",
        ))

    # ---------------------------------------------------------------- seconds
    def _emit(self, watermark: float) -> list[Second]:
        out: list[Second] = []
        if not math.isfinite(watermark):
            return out
        for t in self.ticker.ticks(watermark):
            out.append((t, self._second(float(t))))
        keep = min(self.prev[0] if self.prev else -math.inf, float(self.ticker.last) - 1.0)
        for r in self.runs:
            r.prune(keep)
        return out

    def _second(self, t: float) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(self.columns)
        inst = self._add_beats(t)
        w = self.window
        w.expire(t - self.window_s)
        while self.amp_win and self.amp_win[0][0] <= t - self.window_s:
            self.amp_win.popleft()
        while self.poor_win and self.poor_win[0] <= t - self.window_s:
            self.poor_win.popleft()
        while self.hr_samples and self.hr_samples[0][0] <= t - self.window_s:
            self.hr_samples.popleft()
        # 1-Hz HR for synchrony: mean over the beats ending in (t-1, t]; in a second without a
        # beat (HR < 60) the last value is held while some run still covers the time
        if inst:
            self.last_inst = sum(inst) / len(inst)
        elif self.last_beat is None or not self._covered(self.last_beat[0], t):
            self.last_inst = None
        row["hr_inst_bpm"] = self.last_inst
        if self.started and self.tracks:
            self._beat_features(t, row)
        if row["hr_bpm"] is None and self.has_hr:
            self._device_features(t, row)
        return row

    def _add_beats(self, t: float) -> list[float]:
        inst: list[float] = []
        while self.fi < len(self.fused) and self.fused[self.fi][0] <= t:
            tb, k, rr, c, amp, poor = self.fused[self.fi]
            self.fi += 1
            if rr is None:
                self.run_start = tb
            self.window.add(tb, rr, c)
            if amp is not None:
                self.amp_win.append((tb, amp))
            if poor:
                self.poor_win.append(tb)
            self.last_beat = (tb, k)
            if rr:
                inst.append(60000.0 / rr)
        if self.fi > 4096:
            del self.fused[: self.fi]
            self.fi = 0
        return inst

    def _beat_features(self, t: float, row: dict[str, Any]) -> None:
        w = self.window
        row["beats_in_window"] = len(w)
        row["beats_corrected"] = w.corrected if len(w) else 0
        row["beats_poor"] = len(self.poor_win) if len(w) else 0
        coverage = min(1.0, w.covered_ms / 1000.0 / self.window_s) if len(w) else 0.0
        row["heart_coverage"] = coverage
        if coverage < self.o.min_coverage or len(w) < 3 or self.last_beat is None:
            return
        row.update(w.features())
        row["heart_source"] = self.tracks[self.last_beat[1]].kind.value
        # spectra need one uninterrupted run over the window, up to its end (a missing interval
        # or a silent tail would distort them)
        if self.window_s >= self.o.hf_min_window_s and self.run_start is not None \
                and self.run_start <= t - self.window_s + 2.0 and t - self.last_beat[0] <= self.o.gap_s:
            bt, rr = w.intervals()
            hf, peak = hf_power(bt, rr, self.o.hf_fs)
            row["hf_ms2"] = hf
            if self.derived_breathing:
                if len(self.amp_win) >= 0.8 * len(w):
                    at, av = zip(*self.amp_win)
                    peak = amplitude_breathing(np.asarray(at), np.asarray(av), self.o.hf_fs)
                row["breathing_rpm"] = None if peak is None else 60.0 * peak

    def _device_features(self, t: float, row: dict[str, Any]) -> None:
        """The device's own HR where no beats are usable: window mean, and the second's mean."""
        vals = [v for s, v in self.hr_samples if s <= t]
        newest = max((s for s, _ in self.hr_samples if s <= t), default=-math.inf)
        if not vals or t - newest > self.o.device_hr_stale_s:
            return
        row["hr_bpm"] = float(np.mean(vals))
        row["heart_source"] = DEVICE_HR
        if row["hr_inst_bpm"] is None:
            last = [v for s, v in self.hr_samples if t - 1 < s <= t]
            row["hr_inst_bpm"] = float(np.mean(last)) if last else None
