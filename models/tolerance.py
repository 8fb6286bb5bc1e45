"""Arousal relative to the person's own baseline and the window of tolerance (zone).

The composite
-------------
``arousal`` is a weighted mean of per-component robust z-scores against the person's own
baseline segment (``config.baseline_segment``, default the first 300 s, or a separate resting
recording: ``--baseline-from``), each soft-clipped to +-``component_bound`` (default 6) as
``6 * tanh(z / 6)`` (close to z up to the zone thresholds: z = 1 gives 0.99, z = 2 gives 1.93;
never beyond 6), signed so that positive means towards sympathetic activation / threat:

================  ====  ======  ===========================  =====================================================
component         sign  weight  spread floor                 why
================  ====  ======  ===========================  =====================================================
heart rate        +     1       2 bpm                        HR rises with sympathetic activation and vagal
                                                             withdrawal; the 10-s running median of the
                                                             beat-level ``hr_inst_bpm`` (``hr_bpm``, a 60-s window
                                                             mean, when no beat-level HR is present) reacts within
                                                             seconds instead of half a window
ln_rmssd          -     0.5     0.15 ln(ms)                  vagal withdrawal under threat (Thayer & Lane 2000;
                                                             Laborde et al. 2017); half weight because in short
                                                             windows HR and RMSSD both track vagal outflow: the
                                                             cardiac channel must not count twice. Not gated
                                                             by ``vagal_reliable``: that flag follows speech
                                                             second by second, and a component dropping in and
                                                             out made arousal jump during conversation (one
                                                             simulated session lost its repair candidate)
eda_scl_us        +     1       max(0.05, 5 % of median)     skin conductance is sympathetic only (Boucsein
                                                             2012); the relative floor keeps the scale the same
                                                             across devices and units (drivedb's GSR is in mV)
scr_per_min       +     1       1 /min                       non-specific SCR rate (Boucsein 2012); one response
                                                             per minute is the resolution of a 60-s count
================  ====  ======  ===========================  =====================================================

z = (x - median_baseline) / max(1.4826 * MAD_baseline, floor) (Leys et al. 2013, J Exp Soc
Psychol 49:764: median/MAD are robust to the odd artefact in a short baseline), then
soft-clipped: **no single channel can move arousal by more than its weight times the bound**, and
``|arousal| < component_bound`` always. A soft rather than a hard clip because a hard one turns
the peak of an episode into a plateau: on the simulator that hid the slow co-regulation waves
(fewer significant synchrony seconds) and dated recoveries late (``bench/RESULTS.md``). The bound
is three times the zone threshold (``hyper_enter`` = ``hypo_enter`` = 2) so that the clip is
close to the identity where the zone rules act: with a bound of 4, z = 2 read as 1.85 (the
thresholds became z = 2.2 in effect) and the hysteresis band was compressed, which on the
simulator confirmed a withdrawal 72 s after its onset instead of 43 s and dated the recovery
after hyperarousal 2 s later (``bench/RESULTS.md``); 6 is also the issue's readable ceiling
(p99 of ``|arousal|`` <= 6). The floors stop a very steady baseline from turning
tiny changes into large z (the issue this fixes: a 0.1-µS floor against a steady drivedb
baseline gave z = 103).

Missing or poor components
--------------------------
A component is *available* in a second when it has a value, a baseline (at least
``min_baseline_values`` baseline seconds) and, for the heart components, heart ``quality`` is
not poor/none and the person is not exerting (below). ``arousal`` is the weighted mean over the available components (weights
renormalised), and ``arousal_confidence`` = available weight / weight of all components that
have a baseline (0-1). Renormalising keeps the value an estimate of the same quantity (the
mean excursion of what is measured) instead of pulling it towards 0 when a channel drops out,
and the confidence makes the loss visible; zones are called only while the confidence is at
least ``min_confidence`` (0.3 by default: e.g. HR alone of HR + lnRMSSD + SCL + SCR is 1/3.5).

Exertion is not threat
----------------------
Heart rate rises with physical work as much as with threat; only the part above what the work
demands ("additional heart rate", Myrtek 2004, *Heart and Emotion*, ch. 3; Wilhelm & Roth 1998,
Psychophysiology 35:596) says anything about emotion. A person with a body-worn accelerometer
(``movement`` from ACC, milli-g) is *exerting* while the mean movement over the last ``exertion_s``
(30 s) exceeds both ``exertion_mg`` (60 mg: the order of the moderate-activity cut-points of raw
accelerometry, 69-101 mg ENMO, Hildebrand et al. 2014, Med Sci Sports Exerc 46:1816; our measure is
the SD of the magnitude within a second, so an order, not an equivalence) and ``movement_factor``
(3) times the baseline's median movement. While exerting, and for ``exertion_hold_s`` (60 s) after
(heart rate recovers over the first minute after exercise, Cole et al. 1999, N Engl J Med
341:1351, and the 60-s HRV window still holds beats of the effort), the heart components are left
out as a poor-quality heart component is: ``arousal`` comes from skin conductance alone if present
(with a lower ``arousal_confidence``), else it is empty and the zone becomes ``unknown``. Video
motion energy does not count: it has no absolute unit and sees gestures, not workload. Each
stretch in which the gate left out a second with usable heart data ends in an ``exertion`` event
(span, seconds, heart seconds, of these with arousal from skin conductance alone, empty, or in the
baseline segment; :meth:`ToleranceEstimator.finish` closes one still open when the data end), from
which the session's warnings say per person how long the heart was out
(:func:`.session_summary.exertion_heart_left_out`).
Inside the baseline segment (no usual movement level yet) ``exertion_mg`` alone decides, and the
heart seconds it leaves out stay out of the heart components' baseline: a walk into the room does
not widen the resting heart's spread (the baseline's verdict says when it moved). Skin
conductance also rises in sustained exercise (thermoregulatory sweating), more slowly: it is kept,
which is a stated limit. Breathing rate is not a component: on drivedb it separated rest from
driving worse than every input but the raw beat-level HR (AUC 0.86 and 0.74 from the RESP belt), on
the simulator its ECG-derived estimate separated the scripted hyperarousal from calm with AUC
0.58-0.98 over four seeds, the 10-s heart rate with 0.92-0.98 (``bench/RESULTS.md``), and it rises with exertion and speech as much as with threat.

The stress index is deliberately *not* a component: its MxDMn term (RR range) widens whenever HR
changes inside the window, so SI falls at the very onset of an activation (non-stationarity);
it stays in ``sns_index``.

The baseline
------------
When the baseline is frozen an event ``baseline`` says what it holds (per component: seconds,
median, spread) and whether it can be trusted: ``short`` when a component has fewer than
``min_baseline_values`` seconds; ``sparse`` when the person has heart data but more than
``max_disturbed_share`` (20 %) of the baseline's seconds have none; ``disturbed`` when more than
``max_disturbed_share`` of the seconds with heart data had poor heart quality, or of the seconds
with movement moved: movement above ``movement_factor`` (3) times the baseline's median movement.
The heart counts leave out the session's first ``window_s`` seconds: the HRV window is still
filling then (no heart rate, partial windows), which is warm-up, not missing or disturbed data
(the same convention as :func:`.autonomic.hrv_warnings`). The event's ``evidence["trusted"]``
is false then; it is the one source of the session's ``baseline_not_trusted`` warning, which
``analyze`` repeats in its closing lines, because a shaky baseline shifts every z-score after it.
A baseline taken from a separate resting recording arrives pre-computed
(``config.baseline_reference``) and is frozen from the first second.

Zones
-----
"Window of tolerance" (Siegel 1999; Corrigan, Fisher & Nutt 2011) on ``arousal``:
``hyper`` once arousal stays above ``hyper_enter`` for ``sustain_s`` (30 s), left after it
stays below ``hyper_exit`` for ``exit_sustain_s`` (hysteresis). ``hypo`` likewise below
``-hypo_enter``, but only when corroborated by another channel -- flat, quiet voice or long
pauses, low movement or low skin conductance relative to baseline -- because low HR with high
HRV looks the same in calm rest and in freeze/shutdown; otherwise ``hypo_candidate``. A channel
corroborates when its mean over the last ``corroboration_s`` is ``corroboration_z`` baseline
spreads on the low side, the spread floored as in :data:`CORROBORATION`; for ``movement`` the
floor depends on its source (:data:`MOVEMENT_SCALE_FLOORS`: milli-g from an accelerometer, a
share of the baseline median from video motion energy, which has no absolute unit).
``unknown`` until the baseline is complete and whenever arousal cannot be computed, its
confidence is below ``min_confidence`` or quality is too low. Every change is an
:class:`Event` with the numbers that fired it. These are candidates for a human to review, not
clinical judgements.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

from ..sensors.chunk import StreamKind
from .base import Event, RowEstimator, finite_or_none
from .columns import AROUSAL_BOUND
from .config import PipelineConfig, family_options
from .zone_peek import ZonePeeker


@dataclass(frozen=True)
class Component:
    """One input of ``arousal``: its sign, weight and spread floors (see the module docstring)."""

    sign: int
    weight: float
    floor: float  # absolute floor of the baseline spread, in the column's unit
    relative_floor: float = 0.0  # ... and as a share of |baseline median|
    heart: bool = False  # left out when heart quality is poor/none


#: component -> rule. ``hr`` is derived (10-s median of ``hr_inst_bpm``, else ``hr_bpm``).
COMPONENTS: dict[str, Component] = {
    "hr": Component(+1, 1.0, 2.0, heart=True),
    "ln_rmssd": Component(-1, 0.5, 0.15, heart=True),
    "eda_scl_us": Component(+1, 1.0, 0.05, relative_floor=0.05),
    "scr_per_min": Component(+1, 1.0, 1.0),
}
PEEK_MEMO_SIZE = 512  # peek answers kept per final row, at most (a bound, not a tuning: ~15 s x 2 kinds of caller)
HR_MEDIAN_S = 10  # seconds of beat-level HR in the running median of the ``hr`` component
#: corroborating channels for hypoarousal: column -> (direction that means "low", scale floor)
CORROBORATION: dict[str, tuple[int, float]] = {
    "vocal_arousal": (-1, 0.2),
    "loudness_db": (-1, 2.0),
    "f0_range_st": (-1, 0.3),
    "pause_ratio": (+1, 0.05),
    "movement": (-1, 1.0),
    "eda_scl_us": (-1, 0.10),
}
#: ``movement``'s spread floor as a corroborator, per source kind (:func:`.movement.movement_source`):
#: (absolute floor in the column's unit, share of the baseline median). ACC is in milli-g with a
#: known noise floor. Video motion energy (MEA) is a share of a region's pixels that depends on how
#: large the person is filmed (or an MEA export's own counts), so an absolute floor has no meaning:
#: 1.0 was always larger than any share (0-1) and video could never corroborate. Its floor is half
#: the baseline median: 30 s of video movement corroborates only when under half the person's usual
#: movement, and one robust spread below it.
MOVEMENT_SCALE_FLOORS: dict[StreamKind, tuple[float, float]] = {StreamKind.ACC: (1.0, 0.0),
                                                                 StreamKind.MOTION: (0.0, 0.5)}
_GROUP = {"vocal_arousal": "voice", "loudness_db": "voice", "f0_range_st": "voice", "pause_ratio": "voice",
          "movement": "movement", "eda_scl_us": "skin conductance"}


def median(values: list[float]) -> float:
    """Median of a non-empty list (the middle value, or the mean of the two middle ones)."""
    vals = sorted(values)
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


@dataclass
class ToleranceOptions:
    """Options of the ``tolerance`` family."""

    hyper_enter: float = 2.0  # arousal (clipped baseline z units) above which hyper may start
    hyper_exit: float = 1.0
    hypo_enter: float = 2.0  # hypo below -hypo_enter
    hypo_exit: float = 1.0
    sustain_s: float = 30.0  # seconds beyond the bound before a zone is called
    exit_sustain_s: float = 15.0
    unknown_after_s: float = 5.0  # debounce before quality loss makes the zone unknown
    min_baseline_values: int = 30  # baseline seconds needed per component
    corroboration_z: float = 1.0  # a channel corroborates hypo when this far on the low side
    corroboration_s: float = 30.0  # ... averaged over this many seconds
    component_bound: float = AROUSAL_BOUND  # every component's z is clipped to +-this: |arousal| never exceeds it
    min_confidence: float = 0.3  # zones need at least this share of the baseline's component weight
    max_disturbed_share: float = 0.2  # baseline seconds without heart data, with poor heart quality or moved, at most
    movement_factor: float = 3.0  # a baseline second "moved" above this times the median movement
    exertion_mg: float = 60.0  # ACC movement (mg, mean over exertion_s) above which a person exerts ...
    exertion_s: float = 30.0  # ... (and above movement_factor x the baseline median movement)
    exertion_hold_s: float = 60.0  # heart components stay out this long after exertion ends

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "ToleranceOptions":
        """The ``tolerance`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "tolerance", cls)


#: What a reader of ``arousal`` needs to draw and read it (the dashboard's band, the report's):
#: the zone thresholds, their hysteresis and sustain times, and the bound of the scale.
BOUND_FIELDS = ("hyper_enter", "hyper_exit", "hypo_enter", "hypo_exit", "sustain_s", "exit_sustain_s",
                "component_bound")


def tolerance_bounds(options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The thresholds in force (:data:`BOUND_FIELDS`): :class:`ToleranceOptions` defaults with the
    overrides of ``options["tolerance"]``.

    Parameters
    ----------
    options : mapping, optional
        ``PipelineConfig.options`` (or the ``options`` of its saved JSON, or of a session request).
        Anything that is not a mapping of numbers leaves the defaults in place: this describes
        the estimator's thresholds, it does not validate them.
    """
    bounds = {k: float(getattr(ToleranceOptions(), k)) for k in BOUND_FIELDS}
    family = options.get("tolerance") if isinstance(options, Mapping) else None
    for k, v in (family.items() if isinstance(family, Mapping) else ()):
        if k in bounds and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            bounds[k] = float(v)
    return bounds


def robust_stats(values: list[float], floor: float, relative_floor: float = 0.0) -> tuple[float, float]:
    """Median and max(1.4826 * MAD, floor, relative_floor * |median|) (Leys et al. 2013)."""
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    dev = sorted(abs(x - med) for x in v)
    mad = dev[n // 2] if n % 2 else 0.5 * (dev[n // 2 - 1] + dev[n // 2])
    return med, max(1.4826 * mad, floor, relative_floor * abs(med))


def composite(components: tuple[tuple[str, int, float, float, float], ...], values: Mapping[str, float],
              total: float, bound: float) -> tuple[float | None, float, dict[str, float]]:
    """The composite rule, from the components' values: their z-scores, then the weighted mean of the
    soft-clipped z (``bound * tanh(z / bound)``) of the available components, in one pass.

    Parameters
    ----------
    components : tuple of (str, int, float, float, float)
        ``(component, sign, baseline median, baseline spread, weight)`` of each component with a
        baseline, in the order of the composite's sums.
    values : mapping
        Value of each available component (those not in ``components`` are not read).
    total : float
        Weight of the components with a baseline (the denominator of the confidence).
    bound : float
        Bound of every component's soft-clipped z.

    Returns
    -------
    arousal : float or None
        The weighted mean of the soft-clipped z (None without an available component).
    confidence : float
        Available weight / ``total``.
    zs : dict
        The unclipped z of each available component, in ``components``' order.
    """
    zs: dict[str, float] = {}
    num = den = 0.0
    for k, sign, med, scale, weight in components:
        if k in values:
            z = zs[k] = sign * (values[k] - med) / scale
            num += weight * bound * math.tanh(z / bound)
            den += weight
    if den == 0 or total == 0:
        return None, 0.0, zs
    return num / den, den / total, zs


class ToleranceEstimator(RowEstimator):
    """Adds ``arousal``, ``arousal_confidence`` and ``zone``; emits baseline and zone-change events.

    Parameters
    ----------
    participant : str
        The person.
    config : PipelineConfig
        Baseline segment and the ``tolerance`` options.
    movement_kind : StreamKind, optional
        What feeds the person's ``movement`` (ACC or MOTION; :func:`.movement.movement_source`),
        which sets its floor as a corroborator (:data:`MOVEMENT_SCALE_FLOORS`).
    """

    baseline_family = "tolerance"  # key of its part of ``config.baseline_reference``

    def __init__(self, participant: str, config: PipelineConfig, movement_kind: StreamKind | None = None) -> None:
        self.participant = participant
        self.o = ToleranceOptions.from_config(config)
        self.cfloors: dict[str, tuple[float, float]] = {k: (floor, 0.0) for k, (_, floor) in CORROBORATION.items()}
        if movement_kind in MOVEMENT_SCALE_FLOORS:
            self.cfloors["movement"] = MOVEMENT_SCALE_FLOORS[movement_kind]
        self.b0, self.b1 = config.baseline_segment
        self.warmup_s = float(config.window_s)  # the HRV window fills during the session's first window_s
        # ordered (not a set): the stats keep this order, and the composite sums over it
        self.samples: dict[str, list[float]] = {k: [] for k in (*COMPONENTS, *CORROBORATION)}
        self.stats: dict[str, tuple[float, float]] | None = None
        self.cstats: dict[str, tuple[float, float]] = {}
        self.zone = "unknown"
        self.above = self.below = self.inside_hi = self.inside_lo = self.bad = 0
        #: corroborating channel -> (seconds, values) of its last ``corroboration_s``
        self.recent: dict[str, tuple[deque, deque]] = {k: (deque(), deque()) for k in CORROBORATION}
        self.corr_run = 0
        self.low: dict[str, float] = {}  # the newest final second's corroborating channels (for peek)
        self._hr_inst: deque[tuple[int, float]] = deque()
        self.exertion_gate = movement_kind == StreamKind.ACC  # only body-worn movement measures workload
        self._recent_movement: deque[tuple[int, float]] = deque()
        self._exertion_until = -math.inf  # heart components are left out up to this second
        self._movement_level = 0.0  # mean movement of the last exertion_s seconds (mg)
        self.exerting = False  # the newest final second's verdict (for peek)
        self._stretch: dict[str, Any] | None = None  # the exertion stretch in progress (its event at its end)
        self._last_t = 0
        # baseline seconds; after the HRV warm-up: all, with heart data, with poor heart quality
        self._baseline_seconds = self._settled = self._settled_heart = self._settled_poor = 0
        self._baseline_movement: list[float] = []
        self._pending: list[Event] = []
        # peek's answers since the newest update, keyed on its exact inputs (row held: compared by identity)
        self._peeked: tuple[Mapping[str, Any] | None, dict[tuple, dict[str, Any]]] = (None, {})
        # (row, exertion verdict, stats, its components but hr, arousal memo) of the newest
        # _peek_values (_peek_row_parts)
        self._peek_row: tuple | None = None
        # (stats, ((component, sign, median, spread, weight), ...), their total weight): _arousal's
        self._arousal_plan: tuple | None = None
        reference = (config.baseline_reference or {}).get(participant, {}).get("tolerance")
        if reference is not None:
            self._adopt(reference)

    # ------------------------------------------------------------------ inputs
    def _hr(self, t: int, row: Mapping[str, Any]) -> float | None:
        """The ``hr`` component's value: 10-s running median of beat-level HR, else ``hr_bpm``."""
        v = finite_or_none(row.get("hr_inst_bpm"))
        if v is not None:
            self._hr_inst.append((t, v))
        while self._hr_inst and self._hr_inst[0][0] <= t - HR_MEDIAN_S:
            self._hr_inst.popleft()
        if self._hr_inst:
            return median([x for _, x in self._hr_inst])
        return finite_or_none(row.get("hr_bpm"))

    def _exertion(self, t: int, row: Mapping[str, Any]) -> bool:
        """Whether the heart is left out for exertion in second ``t`` (see "Exertion is not threat")."""
        if not self.exertion_gate:
            return False
        o = self.o
        m = finite_or_none(row.get("movement"))
        if m is not None:
            self._recent_movement.append((t, m))
        while self._recent_movement and self._recent_movement[0][0] <= t - o.exertion_s:
            self._recent_movement.popleft()
        level = self._movement_level = (sum(x for _, x in self._recent_movement) / len(self._recent_movement)
                                        if self._recent_movement else 0.0)
        if len(self._recent_movement) >= o.exertion_s / 3:
            # before the baseline is frozen there is no usual level yet: the absolute one alone
            usual = self.cstats.get("movement", (0.0, 0.0))[0] if self.stats is not None else 0.0
            if level > o.exertion_mg and level > o.movement_factor * usual:
                self._exertion_until = t + o.exertion_hold_s
        return t <= self._exertion_until

    def _values(self, t: int, row: Mapping[str, Any]) -> dict[str, float]:
        """Available component values of this row (quality, reliability and exertion rules applied)."""
        self.exerting = self._exertion(t, row)
        poor_heart = row.get("quality") in ("none", "poor") or self.exerting
        out: dict[str, float] = {}
        hr = self._hr(t, row)
        for k, c in COMPONENTS.items():
            if c.heart and poor_heart:
                continue
            v = hr if k == "hr" else finite_or_none(row.get(k))
            if v is not None:
                out[k] = v
        return out

    def update(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        """Add ``arousal``, ``arousal_confidence`` and ``zone`` to one per-second row.

        Parameters
        ----------
        row : Mapping
            The participant's row of the second (heart, autonomic, movement and voice columns).

        Returns
        -------
        columns : dict
            The three columns (``None`` and ``unknown`` while the baseline is being collected).
        events : list of Event
            Baseline and zone-change events this second completed.
        """
        t = int(row["t_s"])
        self._peeked = (None, {})  # the state peek reads moves now
        values = self._values(t, row)
        events, self._pending = self._pending, []
        events += self._track_exertion(t, row, values)
        if self.stats is None:
            if self.b0 < t <= self.b1:
                self._collect(t, row, values)
            if t >= self.b1:
                events.append(self._freeze(t))
            if self.stats is None:
                return {"arousal": None, "arousal_confidence": None, "zone": "unknown"}, events
        arousal, confidence, zs = self._arousal(values)
        low = self.low = self._corroboration(t, row)
        new = self._next_zone(arousal, confidence, row, low)
        if new != self.zone:
            events.append(self._event(t, self.zone, new, arousal, zs, low, row))
            self.zone = new
        return {"arousal": arousal, "arousal_confidence": confidence if arousal is not None else None,
                "zone": self.zone}, events

    def finish(self) -> list[Event]:
        """End of data: the ``exertion`` event of a stretch still open at the last second."""
        return self._close_stretch()

    # ------------------------------------------------------------- exertion stretches
    def _track_exertion(self, t: int, row: Mapping[str, Any], values: Mapping[str, float]) -> list[Event]:
        """Count the seconds the exertion gate leaves the heart out; an ``exertion`` event when a
        stretch ends (so that the report and the closing summary can say how long, per person).

        Only seconds that had usable heart data (``quality`` good or fair) count: a second without
        heart data lost nothing to the gate.
        """
        self._last_t = t
        if not self.exerting:
            return self._close_stretch()
        if self._stretch is None:
            self._stretch = {"first": t, "heart_seconds": 0, "skin_only_seconds": 0, "empty_seconds": 0,
                             "baseline_seconds": 0, "peak_movement_mg": 0.0}
        s = self._stretch
        s["peak_movement_mg"] = max(s["peak_movement_mg"], self._movement_level)
        if row.get("quality") in ("good", "fair"):
            s["heart_seconds"] += 1
            if self.stats is None:  # kept out of the heart's baseline
                s["baseline_seconds"] += 1
            elif any(not COMPONENTS[k].heart for k in values if k in self.stats):
                s["skin_only_seconds"] += 1
            else:
                s["empty_seconds"] += 1
        return []

    def _close_stretch(self) -> list[Event]:
        s, self._stretch = self._stretch, None
        if s is None or s["heart_seconds"] == 0:
            return []
        o = self.o
        first, last = s["first"], self._last_t if self.exerting else self._last_t - 1
        seconds = last - first + 1
        evidence = {"seconds": seconds, **{k: v for k, v in s.items() if k != "first"}}
        evidence["peak_movement_mg"] = round(s["peak_movement_mg"], 1)
        return [Event(kind="exertion", t_start=float(first - 1), t_end=float(last), participant=self.participant,
                      rule=(f"{o.exertion_s:g}-s mean movement (accelerometer) above {o.exertion_mg:g} mg and "
                            f"{o.movement_factor:g}x the baseline median, and {o.exertion_hold_s:g} s after: "
                            "heart components left out of arousal"),
                      evidence=evidence,
                      label=(f"exertion: heart left out of arousal in {s['heart_seconds']} s "
                             f"(movement up to {s['peak_movement_mg']:.0f} mg)"))]

    def peek(self, row: Mapping[str, Any] | None, hr: float | None,
             newer: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Arousal and zone if the ``hr`` component were ``hr`` now; changes no state.

        For the live provisional tier (issue #15). ``hr`` is the running median of the newest
        provisional beat-level HR (:func:`median`, as :meth:`_hr` does with final seconds); the
        other components come from ``newer`` where it has them (columns of seconds not yet in a
        final row: skin conductance is known a second after its data, while the row waits for the
        heart's look-ahead), else from ``row``, the newest final row. Same baseline, z-scores and
        composite (:func:`composite`) as :meth:`update`; the heart is left out while the newest
        final second was in exertion (``exerting``), as :meth:`update` does.

        ``zone_provisional`` is the zone the final tier would call if this were the next final
        second: :meth:`_zone_step` on the sustain counters (read, not written), with the corroboration
        of the newest final second. It is evidence, not a call: only :meth:`update` moves the zone.

        Parameters
        ----------
        row : mapping or None
            The person's newest final row.
        hr : float or None
            The provisional ``hr`` component (None: not available).
        newer : mapping, optional
            Columns of seconds newer than ``row`` (the provisional tier's early seconds).

        Returns
        -------
        dict or None
            ``arousal``, ``arousal_confidence``, ``zone`` (the final tier's current zone) and
            ``zone_provisional``; None while the baseline is not frozen or without a final row.
        """
        if self.stats is None or row is None:
            return None
        # the same inputs on the same state give the same answer: the provisional dyad asks for the
        # same seconds at every evaluation (hashable inputs only: anything else is computed as is).
        # Equal keys are equal inputs here: every value is read through float() (finite_or_none) or
        # compared as a string, and +-0.0 give the same arousal (the composite's sum starts at +0.0)
        key: tuple | None = (hr, tuple(newer.items())) if newer else (hr, ())
        try:
            hash(key)
        except TypeError:
            key = None
        known = self._peeked[1].get(key) if key is not None and self._peeked[0] is row else None
        if known is not None:
            return dict(known)
        final = row
        if newer:
            row = {**row, **newer}
            arousal, confidence, _ = self._arousal(self._peek_values(row, hr))
        else:
            arousal, confidence, _ = self._final_row_arousal(row, hr)
        zone, _ = self._zone_step(arousal, confidence, row, self.low)  # the counters stay as they are
        answer = {"arousal": arousal, "arousal_confidence": confidence if arousal is not None else None,
                  "zone": self.zone, "zone_provisional": zone}
        if key is not None:
            if self._peeked[0] is not final or len(self._peeked[1]) >= PEEK_MEMO_SIZE:
                self._peeked = (final, {})
            self._peeked[1][key] = answer
        return dict(answer)

    def peek_zone_changes(self, row: Mapping[str, Any] | None,
                          hr_by_second: list[tuple[int, float | None]],
                          newer_by_second: Mapping[int, Mapping[str, Any]] | None = None) -> list[Event]:
        """The zone changes the final tier would make over the seconds after its newest one, if
        their ``hr`` component were ``hr_by_second``; changes no state.

        For provisional zone events (issue #15, :mod:`.provisional_events`): :meth:`peek` for
        each second in turn, with the sustain counters carried from one to the next on a copy
        (``hyper`` is called once arousal stayed above ``hyper_enter`` for ``sustain_s``
        seconds, counting the final seconds already above it and the provisional ones after).
        The other arousal components are the newest final row's. The ``hypo`` corroboration of
        each second is :meth:`_corroboration`'s rule stepped on copies of its recent values with
        the provisional seconds' columns (``newer_by_second``: voice, skin conductance, movement)
        for every channel whose provisional data reach that second; a channel whose data do not (a
        voice or movement second not in yet) keeps its verdict of the newest second it has data
        for, at first the newest final row's (:class:`.zone_peek.ZonePeeker`). So a change that
        turns on the corroboration alone (``hypo`` <-> ``hypo_candidate``) is found as soon as the
        corroborating channel's seconds are in. Each change is the :class:`Event`
        :meth:`update` would emit for it, dated at its second.

        Parameters
        ----------
        row : mapping or None
            The newest final row (``None``: nothing to say yet).
        hr_by_second : list of (int, float or None)
            ``(t_s, hr)`` for consecutive seconds after ``row``'s, in order.
        newer_by_second : mapping, optional
            ``t_s -> columns`` of the provisional seconds after ``row``'s, as the stream
            estimators emitted them (a column present, even as None, means its second is in).

        Returns
        -------
        list of Event
            Empty while the baseline is not frozen or without a final row.
        """
        # one implementation of the stepping: a peeker used once (the live tier keeps one per person
        # and resumes it, ProvisionalTier.zone_changes_between)
        return ZonePeeker().changes(self, row, hr_by_second, newer_by_second)

    def _peek_values(self, row: Mapping[str, Any], hr: float | None) -> dict[str, float]:
        """Available component values with ``hr`` for the ``hr`` component and the others from
        ``row`` (the quality and exertion rules of :meth:`_values`)."""
        values: dict[str, float] = {}
        for k, v in self._peek_row_parts(row)[3]:
            if k == "hr":
                v = None if hr is None else finite_or_none(hr)
            if v is not None:
                values[k] = v
        return values

    def _peek_row_parts(self, row: Mapping[str, Any]) -> tuple:
        """``(row, exertion verdict, stats, its components but hr, arousal memo)``: the row's part of
        :meth:`_peek_values`, read once per row, and :meth:`_final_row_arousal`'s answers on it."""
        # held and compared by identity, with the exertion verdict and the baseline they were read
        # with: the zone peeker and peek ask for every provisional second with the same newest final row
        known = self._peek_row
        if known is None or known[0] is not row or known[1] != self.exerting or known[2] is not self.stats:
            poor_heart = row.get("quality") in ("none", "poor") or self.exerting
            parts = tuple((k, None if k == "hr" else finite_or_none(row.get(k)))
                          for k, c in COMPONENTS.items() if not (c.heart and poor_heart))
            known = self._peek_row = (row, self.exerting, self.stats, parts, {})
        return known

    def _final_row_arousal(self, row: Mapping[str, Any], hr: float | None
                           ) -> tuple[float | None, float, dict[str, float]]:
        """:meth:`_arousal` of :meth:`_peek_values` ``(row, hr)``, ``row`` a final row as it is.

        :meth:`peek` (without newer columns) and the zone peeker's seconds ask for the same ``hr``
        on the same newest final row again and again (the HR median of a second's beats is often
        that of a beat's), so the answers are kept per row, at most ``PEEK_MEMO_SIZE``. The ``zs``
        dict returned is shared: read it, never change it.
        """
        known = self._peek_row_parts(row)
        memo = known[4]
        # hr falsy (None, 0.0) is computed as is: 0.0 and -0.0 are one key, but their z differ in sign
        answer = memo.get(hr) if hr else None
        if answer is None:
            answer = self._arousal(self._peek_values(row, hr))
            if hr and len(memo) < PEEK_MEMO_SIZE:
                memo[hr] = answer
        return answer

    # ------------------------------------------------------------------ baseline
    def _collect(self, t: int, row: Mapping[str, Any], values: Mapping[str, float]) -> None:
        for k in self.samples:
            v = values.get(k) if k in COMPONENTS else finite_or_none(row.get(k))
            if v is not None:
                self.samples[k].append(v)
        self._baseline_seconds += 1
        if t > self.warmup_s:  # warm-up seconds are neither missing nor disturbed
            self._settled += 1
            if row.get("quality") not in (None, "none"):
                self._settled_heart += 1
                self._settled_poor += row.get("quality") == "poor"
        m = finite_or_none(row.get("movement"))
        if m is not None:
            self._baseline_movement.append(m)

    def baseline_reference(self) -> dict[str, Any]:
        """The baseline as collected so far, frozen (for ``--baseline-from``: a resting recording
        analysed first hands this to the session's estimator through ``config.baseline_reference``)."""
        if self.stats is None:
            self._freeze(None)
        assert self.stats is not None
        return {"stats": {k: list(v) for k, v in self.stats.items()},
                "corroboration": {k: list(v) for k, v in self.cstats.items()},
                "verdict": self._verdict}

    def _adopt(self, reference: Mapping[str, Any]) -> None:
        self.stats = {k: (float(m), float(s)) for k, (m, s) in reference.get("stats", {}).items() if k in COMPONENTS}
        self.cstats = {k: (float(m), float(s)) for k, (m, s) in reference.get("corroboration", {}).items()
                       if k in CORROBORATION}
        self.samples = {}
        self._verdict = dict(reference.get("verdict") or {}, source=reference.get("origin", "separate recording"))
        self._pending.append(self._baseline_event(0))

    def _freeze(self, t: int | None) -> Event:
        n = self.o.min_baseline_values
        self.stats = {k: robust_stats(v, COMPONENTS[k].floor, COMPONENTS[k].relative_floor)
                      for k, v in self.samples.items() if k in COMPONENTS and len(v) >= n}
        self.cstats = {k: robust_stats(v, *self.cfloors[k]) for k, v in self.samples.items()
                       if k in CORROBORATION and len(v) >= n}
        counts = {k: len(v) for k, v in self.samples.items() if k in COMPONENTS}
        self.samples = {}
        self._verdict = self._baseline_verdict(counts)
        return self._baseline_event(t if t is not None else 0)

    def _baseline_verdict(self, counts: Mapping[str, int]) -> dict[str, Any]:
        """Can this baseline be trusted? ``short``: a component that has data has fewer than
        ``min_baseline_values`` seconds (or none has any); ``sparse``: too many seconds without
        heart data (after the HRV warm-up); ``disturbed``: too many of the seconds with heart data
        had poor quality, or too many moved."""
        o = self.o
        reasons = []
        short = sorted(k for k, n in counts.items() if 0 < n < o.min_baseline_values)
        if not any(counts.values()) and not self._settled_heart:  # voice only, say: nothing to judge
            return {"trusted": None, "reasons": [], "seconds": self._baseline_seconds, "values": dict(counts),
                    "source": "session"}
        if short or not self.stats:
            reasons.append("short: " + (", ".join(f"{k} {counts[k]} s" for k in short) or "no component")
                           + f" (need {o.min_baseline_values} s)")
        if self._settled_heart:  # the person has heart data: judge its coverage and quality
            absent = 1.0 - self._settled_heart / self._settled
            if absent > o.max_disturbed_share:
                reasons.append(f"sparse: no heart data in {absent:.0%} of it (after the {self.warmup_s:g}-s HRV warm-up)")
            poor = self._settled_poor / self._settled_heart
            if poor > o.max_disturbed_share:
                reasons.append(f"disturbed: heart quality poor in {poor:.0%} of its seconds with heart data")
        mv = sorted(self._baseline_movement)
        if len(mv) >= o.min_baseline_values:
            med = mv[len(mv) // 2]
            moved = sum(1 for m in mv if m > o.movement_factor * med) / len(mv) if med > 0 else 0.0
            if moved > o.max_disturbed_share:
                reasons.append(f"disturbed: movement above {o.movement_factor:g}x its median in {moved:.0%} of it")
        return {"trusted": not reasons, "reasons": reasons, "seconds": self._baseline_seconds,
                "values": dict(counts), "source": "session"}

    def _baseline_event(self, t: int) -> Event:
        v = self._verdict
        stats = {k: [round(m, 3), round(s, 3)] for k, (m, s) in (self.stats or {}).items()}
        if v.get("trusted") is None:
            label = "baseline: no arousal component in the data"
        elif v.get("trusted"):
            label = "baseline trusted"
        else:
            label = "baseline not trusted: " + "; ".join(v.get("reasons", []))
        if v.get("source", "session") != "session":
            label += f" (from the {v['source']})"
        return Event(kind="baseline", t_start=float(t), participant=self.participant,
                     rule=(f"median and max(1.4826*MAD, floor) of each arousal component over the baseline; "
                           f"at least {self.o.min_baseline_values} s per component; after the HRV warm-up at "
                           f"most {self.o.max_disturbed_share:.0%} of it without heart data, with poor heart "
                           f"quality or moved"),
                     evidence={**v, "median_spread": stats}, label=label)

    def _arousal(self, values: Mapping[str, float]) -> tuple[float | None, float, dict[str, float]]:
        stats = self.stats
        assert stats is not None
        # the baseline's part of the composite, read once per baseline (compared by identity)
        plan = self._arousal_plan
        if plan is None or plan[0] is not stats:
            plan = self._arousal_plan = (stats, tuple((k, COMPONENTS[k].sign, med, scale, COMPONENTS[k].weight)
                                                      for k, (med, scale) in stats.items()),
                                         sum(COMPONENTS[k].weight for k in stats))
        a, conf, zs = composite(plan[1], values, plan[2], self.o.component_bound)
        return a, round(conf, 3), zs

    # ---------------------------------------------------------------- hypo check
    def _corroboration(self, t: int, row: Mapping[str, Any]) -> dict[str, float]:
        """Channels whose recent mean is on the 'low arousal' side of their baseline."""
        low: dict[str, float] = {}
        for k in CORROBORATION:
            z = self._channel_low(k, self.recent[k], t, row.get(k))
            if z is not None:
                low[k] = z
        return low

    def _channel_low(self, k: str, window: tuple[deque, deque], t: int, value: Any) -> float | None:
        """One corroborating channel in second ``t``: add ``value`` to its recent ``window``
        (seconds, values; in place), drop those older than ``corroboration_s``, and return its
        rounded z on the 'low arousal' side when that reaches ``corroboration_z`` (else None)."""
        direction = CORROBORATION[k][0]
        times, values = window
        v = finite_or_none(value)
        if v is not None:
            times.append(t)
            values.append(v)
        while times and times[0] <= t - self.o.corroboration_s:
            times.popleft()
            values.popleft()
        med, scale = self.cstats.get(k, (0.0, 0.0))
        if scale > 0 and len(values) >= self.o.corroboration_s / 3:  # scale 0: a still baseline, nothing is lower
            z = direction * (sum(values) / len(values) - med) / scale
            if z >= self.o.corroboration_z:
                return round(z, 2)
        return None

    # --------------------------------------------------------------- zone logic
    def _next_zone(self, a: float | None, confidence: float, row: Mapping[str, Any], low: dict[str, float]) -> str:
        """Step the zone rule one second (:meth:`_zone_step`) and keep its sustain counters."""
        zone, (self.bad, self.above, self.below, self.inside_hi, self.inside_lo, self.corr_run) = \
            self._zone_step(a, confidence, row, low)
        return zone

    def _zone_step(self, a: float | None, confidence: float, row: Mapping[str, Any],
                   low: dict[str, float]) -> tuple[str, tuple[int, int, int, int, int, int]]:
        """The zone rule of one second, reading the sustain counters and writing none
        (:meth:`_zone_rule` on the estimator's zone and counters).

        Returns
        -------
        zone : str
            The zone the rule calls (module docstring, "Zones"; the hysteresis of ``hyper_enter`` /
            ``hyper_exit`` and ``hypo_enter`` / ``hypo_exit`` with ``sustain_s`` / ``exit_sustain_s``).
        counters : tuple of int
            ``bad``, ``above``, ``below``, ``inside_hi``, ``inside_lo``, ``corr_run`` after the second
            (:meth:`_next_zone` keeps them; :meth:`peek` only reads the zone, without copying the estimator).
        """
        return self._zone_rule(self.zone, (self.bad, self.above, self.below, self.inside_hi, self.inside_lo,
                                           self.corr_run), a, confidence, row, low)

    def _zone_rule(self, zone: str, counters: tuple[int, int, int, int, int, int], a: float | None,
                   confidence: float, row: Mapping[str, Any],
                   low: dict[str, float]) -> tuple[str, tuple[int, int, int, int, int, int]]:
        """The zone rule of one second from the zone and sustain counters given, not the estimator's:
        :meth:`_zone_step` passes its own, the provisional zone stepping (:class:`.zone_peek.ZonePeeker`)
        the ones it carries from second to second. Returns the zone and the counters after it."""
        o = self.o
        bad, above, below, inside_hi, inside_lo, corr_run = counters
        unusable = a is None or confidence < o.min_confidence or (row.get("quality") in ("none", "poor") and not any(
            finite_or_none(row.get(k)) is not None for k in ("eda_scl_us", "scr_per_min")))
        if unusable:
            bad += 1
            if zone == "unknown" or bad >= o.unknown_after_s:
                return "unknown", (bad, 0, 0, 0, 0, corr_run)
            return zone, (bad, above, below, inside_hi, inside_lo, corr_run)
        bad = 0
        above = above + 1 if a > o.hyper_enter else 0
        below = below + 1 if a < -o.hypo_enter else 0
        inside_hi = inside_hi + 1 if a < o.hyper_exit else 0
        inside_lo = inside_lo + 1 if a > -o.hypo_exit else 0
        corr_run = corr_run + 1 if low else 0
        counters = (bad, above, below, inside_hi, inside_lo, corr_run)
        z = zone
        if z == "unknown":
            z = "window"
        if z in ("window",) and above >= o.sustain_s:
            return "hyper", counters
        if z == "window" and below >= o.sustain_s:
            return ("hypo" if low else "hypo_candidate"), counters
        if z == "hyper" and inside_hi >= o.exit_sustain_s:
            return "window", counters
        if z in ("hypo", "hypo_candidate"):
            if inside_lo >= o.exit_sustain_s:
                return "window", counters
            if z == "hypo_candidate" and corr_run >= 10:
                return "hypo", counters
            if z == "hypo" and not low:
                return "hypo_candidate", counters
        return z, counters

    def _event(self, t: int, old: str, new: str, a: float | None, zs: dict[str, float],
               low: dict[str, float], row: Mapping[str, Any]) -> Event:
        o = self.o
        if old == "window":
            kind = "leave_window"
        elif new == "window" and old != "unknown":
            kind = "return_window"
        else:
            kind = "zone_change"
        rules = {
            "hyper": f"arousal > {o.hyper_enter:g} for {o.sustain_s:g} s",
            "hypo": f"arousal < -{o.hypo_enter:g} for {o.sustain_s:g} s, corroborated by " + ", ".join(sorted({_GROUP[k] for k in low})),
            "hypo_candidate": (f"arousal < -{o.hypo_enter:g} for {o.sustain_s:g} s, no corroboration "
                               "(voice, movement or skin conductance)"),
            "window": (f"arousal back inside (-{o.hypo_exit:g}, {o.hyper_exit:g}) for {o.exit_sustain_s:g} s"
                       if old != "unknown" else "baseline complete and data usable"),
            "unknown": "baseline incomplete, no usable arousal or heart quality too low",
        }
        evidence: dict[str, Any] = {
            "arousal": None if a is None or not math.isfinite(a) else round(a, 3),
            "components_z": {k: round(v, 3) for k, v in zs.items()},
            "component_bound": o.component_bound,
            "quality": row.get("quality"),
            "vagal_reliable": row.get("vagal_reliable"),
            "hr_bpm": finite_or_none(row.get("hr_bpm")),
            "rmssd_ms": finite_or_none(row.get("rmssd_ms")),
            "baseline": {k: [round(m, 3), round(s, 3)] for k, (m, s) in (self.stats or {}).items()},
        }
        if self.exertion_gate:  # the person wears an accelerometer: say whether the heart was left out
            evidence["exertion"] = self.exerting
        if new.startswith("hypo"):
            evidence["corroboration_z"] = low
        return Event(kind=kind, t_start=float(t), participant=self.participant, rule=rules[new],
                     evidence=evidence, label=f"{old} -> {new}")
