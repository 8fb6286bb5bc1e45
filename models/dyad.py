"""The dyad: per-second synchrony, leader, both zones, and co-regulation / rupture / repair candidates.

:class:`DyadPipeline` is the :class:`~coregulate.models.base.DyadEstimator` the session pipeline
feeds with both people's finished per-second rows. For each signal present in both rows it runs a
windowed cross-lagged correlation (Boker et al. 2002, :mod:`.synchrony`) with a segment-shift
surrogate null (Ramseyer & Tschacher 2010, 2011, :mod:`.surrogates`) and fills ``dyad.csv``
(:data:`~coregulate.models.columns.DYAD_COLUMNS`).

Roles: the participant called ``"client"`` is the client and ``"therapist"`` the therapist. If
those names are absent, the first participant listed is treated as the client and the second as
the therapist (further participants are ignored); the choice is in :attr:`DyadPipeline.roles`.

Lag sign: **positive lag = the client leads** (the therapist's series follows the client's).

Columns
-------
``sync_<signal>_z``, ``sync_<signal>_lag_s``
    Peak Fisher z (signed) and its lag for hr (``hr_inst_bpm``, the 1-s HR; else the windowed
    ``hr_bpm``, whose smoothing lowers the time resolution), arousal (``arousal``), vocal
    (``vocal_arousal``, else ``loudness_db``) and motion (``movement``). The column of a signal
    is chosen once (:attr:`DyadPipeline.columns`), so a window never mixes two kinds of series:
    the preferred column as soon as both people have it, a fallback once it has been the only
    one available for ``window_s`` seconds.
``sync_effect``
    Mean over signals of ``(|z| - mean_null) / sd_null`` (standardised against pseudo-synchrony).
``sync_significant``
    Any signal with surrogate ``p < alpha / m`` (Bonferroni over the ``m`` signals testable that
    second), so the dyad-level false-positive rate stays near ``alpha``.
``leader``
    ``client`` / ``therapist`` / ``simultaneous`` from the lag of the most significant signal when
    ``sync_significant``; ``none`` when synchrony is computable but not significant; empty otherwise.
``sync_signal``
    The signal that decided ``leader`` (the smallest p).
``client_zone``, ``therapist_zone``
    Copied from the rows (the window of tolerance of :mod:`.tolerance`).
``dyad_event``
    Candidate episodes open at this second (``rupture_candidate``, ``therapist_dysregulated``),
    comma-separated, so that a live display shows them before they close.

Events (``models.base.Event``, ``label="candidate for review"``, with ``t_start``, ``t_end``,
the ``rule`` that fired and its ``evidence``; emitted when they close, open ones are visible live
in ``dyad_event``). "Level" is the mean over the last ``level_s`` seconds of the effect of the
``event_signals`` (heart rate and arousal by default; see :class:`DyadParams`).

Dating. The client's zones come from trailing 60-s HRV windows, which start to move as soon as
the physiology does but take a minute to arrive, and the tolerance estimator then wants a
sustained crossing (30 s to leave, 15 s to return): on the simulator a zone change is confirmed
39-72 s (leaving) and 37-78 s (returning) after the scripted change
(``bench/bench_dyad_timing.py``). The *turning points* of the same ``arousal`` series are not
delayed that way, so the rupture and repair candidates are dated from them (their evidence
keeps the confirmed zone times): the *departure onset* is the last second before the client's zone left
the window at which arousal was still within ``onset_margin`` of the way from its calmest value
in the preceding ``onset_lookback_s`` to its value at the zone change; the *recovery onset* is
the last second before the return at which arousal was still within ``onset_margin`` of the way
from the episode's extreme to its value at the return. Without arousal, or for a purely vocal
withdrawal, the zone times themselves are used.

``rupture_candidate``
    The client is hyperaroused (zone ``hyper``) or withdrawn (``hypo``/``hypo_candidate``, or a
    mean ``pause_ratio`` >= ``withdrawal_pause_ratio``) for ``sustain_s`` while the level is
    <= ``low_effect``, and the client is not already on the way back (arousal has not come
    ``recovering_share`` of the way from the episode's extreme towards the baseline: a level
    shift in one person's series lowers windowed synchrony, so a recovering client would
    otherwise open a rupture in the middle of the repair). Starts at the departure onset of the
    episode; ends when the client returns or the level stays >= ``restore_effect`` for
    ``sustain_s`` (a later drop in the same episode starts a new candidate then).
``repair_candidate``
    After a rupture candidate of the same episode, the client returns to the window (held
    ``sustain_s``) with the level >= ``restore_effect``, restored before the return or within
    ``repair_within_s`` after it. Confirmed then (``t_end``); dated (``t_start``) from the
    restoration of synchrony or the client's recovery onset, whichever came first.
``co_regulation``
    From the client's episode onset until ``coreg_after_s`` after the return: the therapist was in
    the window >= ``therapist_window_share`` of the time, led >= ``therapist_lead_share`` of the
    significant seconds (and >= ``min_lead_s`` of them), and the level rose by >= ``rise_effect``
    over the episode's first ``episode_ref_s``. Starts at the first therapist-led significant
    second.
``therapist_dysregulated`` (participant = the therapist)
    Only when the dyad adds evidence to the tolerance estimator's own ``leave_window``: the
    therapist was out of the window for ``sustain_s`` *while the client was dysregulated too*
    (>= half the time: co-dysregulation) or *while significantly synchronised with the client
    leading* (>= half the time: the therapist being pulled along). A regulated therapist is the
    precondition of safety, so this is surfaced, not hidden.

Every threshold is in :class:`DyadParams`. Zone changes of either person
(``leave_window``/``return_window``) are emitted by the tolerance estimator, not repeated here.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Mapping

from .base import DyadEstimator, Event, finite_or_none
from .config import PipelineConfig, family_options
from .surrogates import SurrogateParams, SurrogateResult, SurrogateSynchrony
from .synchrony import SyncParams, lag_leader

#: Signal name -> candidate feature columns, in order of preference.
SIGNALS: dict[str, tuple[str, ...]] = {
    "hr": ("hr_inst_bpm", "hr_bpm"),
    "arousal": ("arousal",),
    "vocal": ("vocal_arousal", "loudness_db"),
    "motion": ("movement",),
}

LABEL = "candidate for review"
DYSREGULATED = frozenset({"hyper", "hypo", "hypo_candidate"})


@dataclass(frozen=True)
class DyadParams:
    """Every tunable number of the dyad estimators (override via ``config.options["dyad"]``).

    Synchrony (Boker et al. 2002)
        ``window_s`` (30), ``max_lag_s`` (5), ``step_s`` (1), ``min_valid_frac`` (0.75),
        ``detrend`` (False): see :class:`~coregulate.models.synchrony.SyncParams`.
    Surrogates (Ramseyer & Tschacher 2010, 2011)
        ``segment_s`` (30), ``n_surrogates`` (20), ``max_offset_s`` (600), ``pool_size``
        (12000), ``min_null`` (200), ``alpha`` (0.05), ``seed`` (0): see
        :class:`~coregulate.models.surrogates.SurrogateParams`.
        ``abs_signals`` (("motion",)): signals whose peak is the largest ``|r|`` (movement
        synchrony counts anti-phase coupling, as in Ramseyer & Tschacher 2011); the others use
        the largest ``r`` (in-phase physiological concordance).
        ``log_signals`` (("motion",)): these signals enter the correlation as ``log(1 + x)``:
        motion energy is heavy-tailed (a posture shift is a burst many times the median), and
        a few bursts would otherwise decide Pearson's r (on the 20 rMEA intake interviews the
        log keeps genuine > pseudo synchrony in 16/20 dyads, raw values in 12/20, in-sample:
        ``tests/server/offline/test_motion_energy_cli.py``; chosen on one half of them and checked
        on the other, 8/10 either way round: ``bench/validate_motion_holdout.py``). Negative values
        have no log: missing.
        ``tama_signals`` (("vocal",)) and ``tama_s`` (10): these signals are first smoothed by a
        time-aligned moving average over ``tama_s`` seconds (Kousidis et al. 2008; each person's
        mean over the seconds they spoke), because speech features exist only while a person
        talks and turns alternate. ``tama_s <= 1`` turns it off.
    Events (heuristic rules, candidates for review)
        ``sustain_s`` (10): a zone state counts once it has held this long (also the hysteresis
        for leaving it).
        ``level_s`` (30): synchrony level = mean ``sync_effect`` over the last ``level_s`` seconds
        (at least half of them computable).
        ``low_effect`` (0.5): level at or below this = synchrony dropped (near pseudo-synchrony).
        ``restore_effect`` (0.8): level at or above this = synchrony restored / high.
        ``withdrawal_pause_ratio`` (0.8) over ``level_s``: the client's mean ``pause_ratio`` at
        or above this counts as vocal withdrawal (in addition to a hypo/hypo_candidate zone).
        ``episode_ref_s`` (60): co-regulation compares the current level with the mean level in
        the first ``episode_ref_s`` of the client's episode.
        ``coreg_after_s`` (120): co-regulation is watched from the episode onset until this long
        after the client's return (the return may precede the rise of synchrony).
        ``rise_effect`` (0.5): minimal rise of the level for co-regulation.
        ``therapist_window_share`` (0.8): share of the episode the therapist must be in window.
        ``therapist_lead_share`` (0.5): share of significant seconds in which the therapist leads.
        ``min_lead_s`` (5): minimal number of significant therapist-led seconds.
        ``repair_within_s`` (120): synchrony must be restored within this time after the return,
        unless it was restored already (after the rupture, without a new drop) before it.
        ``repair_after_s`` (300): a repair must follow a rupture candidate that ended at most
        this long before the return.
        ``onset_margin`` (0.2) and ``onset_lookback_s`` (120): the turning points that date
        ruptures and repairs (module docstring, "Dating"); a second counts as still before the
        excursion (or still at its extreme) within this share of the way.
        ``recovering_share`` (0.1): a rupture candidate does not open once the client's arousal
        has come back this share of the way from the episode's extreme towards the baseline (0).
        ``event_signals`` (("hr", "arousal")): the signals whose effects make the level. Vocal
        and motion synchrony are reported in ``dyad.csv`` and the summaries but are left out of
        the rules by default: speech features exist only while a person talks, so turn-taking
        shapes their synchrony as much as the relationship does, and on the simulator (no
        scripted vocal coupling) averaging them in hid 3 of 16 scripted repairs.
    """

    window_s: int = 30
    max_lag_s: int = 5
    step_s: int = 1
    min_valid_frac: float = 0.75
    detrend: bool = False
    # the surrogate null's settings, flattened so that options={"dyad": {...}} reach them;
    # their defaults live in SurrogateParams only
    segment_s: int = SurrogateParams.segment_s
    n_surrogates: int = SurrogateParams.n_surrogates
    max_offset_s: int = SurrogateParams.max_offset_s
    pool_size: int = SurrogateParams.pool_size
    min_null: int = SurrogateParams.min_null
    alpha: float = SurrogateParams.alpha
    seed: int = SurrogateParams.seed
    abs_signals: tuple[str, ...] = ("motion",)
    log_signals: tuple[str, ...] = ("motion",)
    tama_signals: tuple[str, ...] = ("vocal",)
    tama_s: int = 10
    sustain_s: int = 10
    level_s: int = 30
    low_effect: float = 0.5
    restore_effect: float = 0.8
    withdrawal_pause_ratio: float = 0.8
    episode_ref_s: int = 60
    rise_effect: float = 0.5
    therapist_window_share: float = 0.8
    therapist_lead_share: float = 0.5
    min_lead_s: int = 5
    repair_within_s: int = 120
    repair_after_s: int = 300
    onset_margin: float = 0.2
    onset_lookback_s: int = 120
    recovering_share: float = 0.1
    coreg_after_s: int = 120
    event_signals: tuple[str, ...] = ("hr", "arousal")

    @classmethod
    def from_config(cls, config: PipelineConfig | None) -> "DyadParams":
        return family_options(config, "dyad", cls)

    @property
    def sync(self) -> SyncParams:
        return SyncParams(self.window_s, self.max_lag_s, self.step_s, self.min_valid_frac, detrend=self.detrend)

    def sync_for(self, signal: str) -> SyncParams:
        return replace(self.sync, peak="abs" if signal in self.abs_signals else "max")

    @property
    def surrogates(self) -> SurrogateParams:
        return SurrogateParams(self.segment_s, self.n_surrogates, self.max_offset_s, self.pool_size,
                               self.min_null, self.alpha, self.seed)


def pick_roles(participants: list[str]) -> tuple[str, str]:
    """(client, therapist): by name when both are present, else the first two listed."""
    if "client" in participants and "therapist" in participants:
        return "client", "therapist"
    if len(participants) < 2:
        raise ValueError(f"a dyad needs two participants, got {participants!r}")
    return participants[0], participants[1]


def _log1p_or_none(v: float | None) -> float | None:
    return math.log1p(v) if v is not None and v >= 0 else None


class _Tama:
    """Time-aligned moving average (Kousidis et al. 2008): mean of the finite values of the last
    ``span`` seconds, ``None`` if there are none. Speech features exist only while a person talks
    and people take turns, so two raw per-second vocal series are rarely defined together."""

    def __init__(self, span: int):
        self.buf: deque[float | None] = deque(maxlen=span)

    def push(self, v: float | None) -> float | None:
        self.buf.append(v)
        vals = [x for x in self.buf if x is not None]
        return sum(vals) / len(vals) if vals else None


class _Run:
    """Hysteresis on a boolean: ``on`` after ``sustain`` true seconds, off after ``sustain`` false."""

    def __init__(self, sustain: int):
        self.sustain = sustain
        self.on = False
        self.onset: int | None = None  # first second of the current true run
        self.last_true: int | None = None
        self._true = 0
        self._false = 0

    def step(self, t: int, value: bool | None) -> str | None:
        """Advance; returns ``"start"`` / ``"end"`` on a change, else ``None``. ``None`` = unknown."""
        if value is None:
            return None
        if value:
            if self._true == 0:
                self.onset = t if not self.on else self.onset
            self._true += 1
            self._false = 0
            self.last_true = t
            if not self.on and self._true >= self.sustain:
                self.on = True
                return "start"
        else:
            self._false += 1
            self._true = 0
            if self.on and self._false >= self.sustain:
                self.on = False
                return "end"
        return None


class DyadPipeline(DyadEstimator):
    """Synchrony, zones and dyad event candidates for a client-therapist pair.

    Parameters
    ----------
    participants : list of str
        Participant ids of the session; roles are picked by :func:`pick_roles`.
    config : PipelineConfig
        ``config.family("dyad")`` overrides fields of :class:`DyadParams`.
    """

    def __init__(self, participants: list[str], config: PipelineConfig | None = None):
        self.params = DyadParams.from_config(config)
        self.client, self.therapist = pick_roles(list(participants))
        self.roles = {"client": self.client, "therapist": self.therapist}
        self._sync = {s: SurrogateSynchrony(self.params.sync_for(s), self.params.surrogates) for s in SIGNALS}
        self.columns: dict[str, str | None] = dict.fromkeys(SIGNALS)
        self._first_seen: dict[str, dict[str, int]] = {sig: {} for sig in SIGNALS}
        self._seen_by: dict[str, dict[str, set[str]]] = {sig: {} for sig in SIGNALS}
        self._tama = {sig: (_Tama(self.params.tama_s), _Tama(self.params.tama_s))
                      for sig in self.params.tama_signals if self.params.tama_s > 1}
        p = self.params
        self._levels: deque[float | None] = deque(maxlen=p.level_s)
        self._pauses: deque[float | None] = deque(maxlen=p.level_s)
        # the client's (t, arousal): enough for the turning points of an episode and its lead-in
        self._arousal: deque[tuple[int, float]] = deque(maxlen=p.repair_after_s + p.onset_lookback_s)
        self._client_out = _Run(p.sustain_s)  # client dysregulated (hyper / withdrawal)
        self._client_in = _Run(p.sustain_s)  # client in window
        self._therapist_out = _Run(p.sustain_s)
        self._episode: dict[str, Any] | None = None  # current client dysregulation episode
        self._coreg: dict[str, Any] | None = None  # episode watched for co-regulation
        self._rupture: dict[str, Any] | None = None
        self._last_rupture: dict[str, Any] | None = None
        self._pending_repair: dict[str, Any] | None = None
        self._restored_since: int | None = None
        self._therapist_dys: dict[str, Any] | None = None
        self._t = 0
        self.counts: dict[str, int] = {}

    # -- synchrony -------------------------------------------------------------------------

    def _value(self, signal: str, row: Mapping[str, Any]) -> float | None:
        col = self.columns[signal]
        return finite_or_none(row.get(col)) if col else None

    def _choose_column(self, signal: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        """Lock the signal's column: the preferred one as soon as both people have had a value in
        it (not necessarily in the same second: speakers take turns); a fallback only after it has
        been the best available for a whole window (inputs start at different times, e.g. a
        baseline-normalised composite only after the baseline)."""
        if self.columns[signal] is not None:
            return
        seen, since = self._seen_by[signal], self._first_seen[signal]
        for col in SIGNALS[signal]:
            who = seen.setdefault(col, set())
            if finite_or_none(a.get(col)) is not None:
                who.add("client")
            if finite_or_none(b.get(col)) is not None:
                who.add("therapist")
            if len(who) == 2:
                since.setdefault(col, self._t)
        for rank, col in enumerate(SIGNALS[signal]):
            if col in since:
                if rank == 0 or self._t - since[col] >= self.params.window_s:
                    self.columns[signal] = col
                return

    def _synchrony(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, SurrogateResult]]:
        out: dict[str, Any] = {}
        results: dict[str, SurrogateResult] = {}
        for s, est in self._sync.items():
            self._choose_column(s, a, b)
            xa, xb = self._value(s, a), self._value(s, b)
            if s in self.params.log_signals:
                xa, xb = _log1p_or_none(xa), _log1p_or_none(xb)
            if s in self._tama:
                xa, xb = self._tama[s][0].push(xa), self._tama[s][1].push(xb)
            res = est.update(xa, xb)
            results[s] = res
            out[f"sync_{s}_z"] = res.sync.z if res.sync else None
            out[f"sync_{s}_lag_s"] = res.sync.lag if res.sync else None
        tested = {s: r for s, r in results.items() if r.p is not None}
        effects = [r.effect for r in results.values() if r.effect is not None]
        out["sync_effect"] = sum(effects) / len(effects) if effects else None
        if tested:
            best = min(tested, key=lambda s: (tested[s].p, -(tested[s].effect or 0.0)))
            sig = tested[best].p < self.params.alpha / len(tested)
            out["sync_significant"] = sig
            out["sync_signal"] = best
            out["leader"] = lag_leader(tested[best].sync.lag) if sig else "none"
        else:
            out["sync_significant"] = None
            out["sync_signal"] = None
            out["leader"] = None
        return out, results

    # -- events ----------------------------------------------------------------------------

    def _level(self) -> float | None:
        vals = [v for v in self._levels if v is not None]
        # half of the reported seconds must be computable (only every step_s-th is reported)
        if len(vals) * 2 * self.params.step_s < self._levels.maxlen:  # type: ignore[operator]
            return None
        return sum(vals) / len(vals)

    def _withdrawn_vocally(self) -> bool:
        vals = [v for v in self._pauses if v is not None]
        if len(vals) * 2 < self._pauses.maxlen:  # type: ignore[operator]
            return False
        return sum(vals) / len(vals) >= self.params.withdrawal_pause_ratio

    def _event(self, kind: str, start: int, end: int, rule: str, evidence: dict[str, Any],
               participant: str | None = None) -> Event:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return Event(kind=kind, t_start=float(start), t_end=float(end), participant=participant,
                     rule=rule, evidence=evidence, label=LABEL)

    def _events(self, t: int, cz: str | None, tz: str | None, row: dict[str, Any]) -> list[Event]:
        p = self.params
        ev: list[Event] = []
        level = self._level()
        low = None if level is None else level <= p.low_effect
        high = None if level is None else level >= p.restore_effect
        known_c = cz is not None and cz != "unknown"
        client_state = None
        if cz == "hyper":
            client_state = "hyper"
        elif cz in ("hypo", "hypo_candidate"):
            client_state = "withdrawal"
        elif self._withdrawn_vocally():
            client_state = "vocal_withdrawal"

        # Client episodes (dysregulated, with hysteresis) ------------------------------------
        out_change = self._client_out.step(t, client_state is not None if (known_c or client_state) else None)
        in_change = self._client_in.step(t, cz == "window" if known_c else None)
        if out_change == "start" and self._episode is None:
            onset = self._client_out.onset
            assert onset is not None
            departure, _ = self._turning_point(client_state, onset - p.onset_lookback_s, onset, leaving=True)
            self._episode = {"onset": onset, "state": client_state, "departure": departure, "arousal_state": None}
            # A new episode supersedes a co-regulation still being watched after a return.
            self._coreg = {"onset": self._client_out.onset, "state": client_state, "first": [],
                           "therapist_in": 0, "therapist_known": 0, "lead_t": 0, "sig": 0,
                           "first_lead": None, "return": None}
        if self._episode is not None and client_state in ("hyper", "withdrawal"):
            # an episode that began as vocal withdrawal is dated back by its zone's arousal
            self._episode["arousal_state"] = client_state
        if self._coreg is not None:
            ev.extend(self._watch_coregulation(t, tz, level, row))

        # Rupture candidate: dysregulated client and synchrony near pseudo-synchrony; closes when
        # the episode ends or synchrony is restored (level >= restore_effect) for sustain_s.
        if (self._episode is not None and self._client_out.on and client_state is not None and low
                and (self._rupture is not None or not self._recovering(self._episode))):
            if self._rupture is None:
                ep = self._episode
                first = self._last_rupture is None or self._last_rupture["episode"] != ep["onset"]
                self._rupture = {"start": ep["departure"] if first else t, "episode": ep["onset"], "low_since": t,
                                 "state": client_state, "last": t, "min_level": level, "restored": 0}
            r = self._rupture
            r["last"], r["restored"] = t, 0
            r["min_level"] = min(r["min_level"], level)
        elif self._rupture is not None:
            r = self._rupture
            r["restored"] = r["restored"] + 1 if high else 0
            if r["restored"] >= p.sustain_s or in_change == "start" or self._episode is None:
                ev.append(self._close_rupture())

        # Synchrony restored after this episode's rupture (may precede the zone return, which the
        # tolerance estimator confirms later): remember since when, forget on a new drop.
        rup = self._rupture or self._last_rupture
        ep_rupture = self._episode is not None and rup is not None and rup["episode"] == self._episode["onset"]
        if ep_rupture and self._rupture is None and high:
            self._restored_since = self._restored_since or t
        elif low or not ep_rupture:
            self._restored_since = None

        # Return to the window: repair candidates ----------------------------------------------
        if in_change == "start" and self._episode is not None:
            t_ret = self._client_in.onset or t
            if ep_rupture and t_ret - rup["last"] <= p.repair_after_s:
                self._pending_repair = {"return": t_ret, "rupture": rup, "restored": self._restored_since,
                                        "recovery": self._turning_point(self._episode["arousal_state"] or "vocal_withdrawal",
                                                                        self._episode["onset"], t_ret, leaving=False)}
            if self._coreg is not None:
                self._coreg["return"] = t_ret
            self._episode = None
            self._restored_since = None
        if self._pending_repair is not None:
            pr = self._pending_repair
            if pr["restored"] is not None or high:
                restored = pr["restored"] if pr["restored"] is not None else t
                rec_s, extreme = pr["recovery"]
                ev.append(self._event(
                    "repair_candidate", min(restored, rec_s), t,
                    f"client back in window after a rupture candidate, with synchrony level >= {p.restore_effect} "
                    f"(restored before the return, or within {p.repair_within_s} s after it); dated from the "
                    f"restoration or the client's recovery onset (arousal last within {p.onset_margin:.0%} "
                    "of the episode's extreme), whichever came first",
                    {"rupture_start_s": pr["rupture"]["start"], "rupture_end_s": pr["rupture"]["last"],
                     "recovery_onset_s": rec_s, "episode_extreme_arousal": extreme, "return_s": pr["return"],
                     "restored_s": restored, "confirmed_s": t, "level": level}))
                self._pending_repair = None
            elif t - pr["return"] > p.repair_within_s or self._episode is not None:
                self._pending_repair = None

        # Therapist dysregulated in a dyadic context ------------------------------------------
        t_out = tz in DYSREGULATED if tz is not None and tz != "unknown" else None
        change = self._therapist_out.step(t, t_out)
        if self._therapist_out.on:
            d = self._therapist_dys
            if d is None:
                d = self._therapist_dys = {"start": self._therapist_out.onset, "client_out": 0, "n": 0,
                                           "client_led_sig": 0, "zones": set()}
            d["n"] += 1
            d["last"] = t
            d["zones"].add(tz)
            d["client_out"] += bool(self._client_out.on)
            d["client_led_sig"] += bool(row.get("sync_significant") and row.get("leader") == "client")
        if change == "end" and self._therapist_dys is not None:
            ev.extend(self._close_therapist())

        open_kinds = [k for k, v in (("rupture_candidate", self._rupture),
                                     ("therapist_dysregulated", self._therapist_dys)) if v is not None]
        row["dyad_event"] = ",".join(open_kinds) or None
        return ev

    def _recovering(self, episode: Mapping[str, Any]) -> bool:
        """The client's arousal is on its way back: ``recovering_share`` of the way from the
        episode's extreme towards the baseline (0)."""
        state = episode["arousal_state"]
        if state is None or not self._arousal or self._arousal[-1][0] != self._t:
            return False
        sign = 1.0 if state == "hyper" else -1.0
        extreme = max(sign * a for s, a in self._arousal if s >= episode["onset"])
        return extreme > 0 and extreme - sign * self._arousal[-1][1] >= self.params.recovering_share * extreme

    def _turning_point(self, state: str, t0: int, t1: int, leaving: bool) -> tuple[int, float | None]:
        """(turning point, reference arousal) of the client's arousal over ``[t0, t1]``.

        Leaving (``t1`` = the zone change): the last second still within ``onset_margin`` of the
        way from the calmest value to the value at ``t1``; returning (``t1`` = the return): the
        last second still within it of the extreme. ``(t1, None)`` without a usable excursion.
        """
        if state not in ("hyper", "withdrawal"):  # vocal only: no arousal excursion to date it by
            return t1, None
        sign = 1.0 if state == "hyper" else -1.0  # oriented so that larger = further out
        seq = [(s, sign * a) for s, a in self._arousal if t0 <= s <= t1]
        if not seq:
            return t1, None
        end = seq[-1][1]
        ref = min(e for _, e in seq) if leaving else max(e for _, e in seq)
        span = end - ref if leaving else ref - end
        if span <= 0:
            return t1, None
        if leaving:
            level = ref + self.params.onset_margin * span
            return max(s for s, e in seq if e <= level), sign * ref
        level = ref - self.params.onset_margin * span
        return max(s for s, e in seq if e >= level), sign * ref

    def _close_rupture(self) -> Event:
        r = self._rupture
        assert r is not None
        self._rupture = None
        self._last_rupture = r
        p = self.params
        return self._event(
            "rupture_candidate", r["start"], r["last"],
            f"client {r['state']} sustained >= {p.sustain_s} s while synchrony level "
            f"(mean effect over {p.level_s} s) <= {p.low_effect}; a zone episode's first candidate is dated from "
            f"the departure onset (arousal last within {p.onset_margin:.0%} of its calmest value in the "
            f"{p.onset_lookback_s} s before the zone change)",
            {"client_state": r["state"], "zone_onset_s": r["episode"], "low_sync_since_s": r["low_since"],
             "min_level": r["min_level"]})

    def _watch_coregulation(self, t: int, tz: str | None, level: float | None, row: Mapping[str, Any]) -> list[Event]:
        """Track a client episode and up to ``coreg_after_s`` after the return; fire once."""
        p, c = self.params, self._coreg
        assert c is not None
        if t < c["onset"] + p.episode_ref_s and level is not None:
            c["first"].append(level)
        if tz is not None and tz != "unknown":
            c["therapist_known"] += 1
            c["therapist_in"] += tz == "window"
        if row.get("sync_significant"):
            c["sig"] += 1
            if row.get("leader") == "therapist":
                c["lead_t"] += 1
                c["first_lead"] = c["first_lead"] or t
        if c["return"] is None:
            return []
        if t - c["return"] > p.coreg_after_s:
            self._coreg = None
            return []
        rise = level - sum(c["first"]) / len(c["first"]) if c["first"] and level is not None else None
        th_share = c["therapist_in"] / c["therapist_known"] if c["therapist_known"] else None
        lead_share = c["lead_t"] / c["sig"] if c["sig"] else None
        if (rise is None or rise < p.rise_effect or th_share is None or th_share < p.therapist_window_share
                or lead_share is None or lead_share < p.therapist_lead_share or c["lead_t"] < p.min_lead_s):
            return []
        self._coreg = None
        return [self._event(
            "co_regulation", c["first_lead"] or c["onset"], t,
            f"client returned to window (watched up to {p.coreg_after_s} s after); therapist in window "
            f">= {p.therapist_window_share:.0%} of the time; therapist led >= {p.therapist_lead_share:.0%} "
            f"of significant seconds (>= {p.min_lead_s} s); synchrony level rose >= {p.rise_effect} "
            f"since the episode's first {p.episode_ref_s} s",
            {"episode_onset_s": c["onset"], "client_state": c["state"], "return_s": c["return"],
             "level_rise": rise, "therapist_window_share": th_share, "therapist_lead_share": lead_share,
             "therapist_led_s": c["lead_t"]})]

    def _close_therapist(self) -> list[Event]:
        d = self._therapist_dys
        self._therapist_dys = None
        if d is None:
            return []
        co = d["client_out"] / d["n"]
        led = d["client_led_sig"] / d["n"]
        # Only surfaced when the dyad adds evidence; a lone zone change is the tolerance
        # estimator's leave_window/return_window event already.
        if co < 0.5 and led < 0.5:
            return []
        rule = ("therapist out of window while the client is out of window too (co-dysregulation)" if co >= 0.5
                else "therapist out of window while significantly synchronised with the client leading")
        return [self._event("therapist_dysregulated", d["start"], d["last"], rule,
                            {"zones": sorted(d["zones"]), "client_out_share": co, "client_led_share": led},
                            participant=self.therapist)]

    # -- estimator protocol ----------------------------------------------------------------

    def update(self, t_s: int, rows: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[Event]]:
        a = rows.get(self.client) or {}
        b = rows.get(self.therapist) or {}
        self._t = t_s
        out, results = self._synchrony(a, b)
        cz, tz = a.get("zone"), b.get("zone")
        out["client_zone"] = cz
        out["therapist_zone"] = tz
        rule_effects = [r.effect for s, r in results.items() if r.effect is not None and s in self.params.event_signals]
        self._levels.append(sum(rule_effects) / len(rule_effects) if rule_effects else None)
        self._pauses.append(finite_or_none(a.get("pause_ratio")))
        arousal = finite_or_none(a.get("arousal"))
        if arousal is not None:
            self._arousal.append((t_s, arousal))
        events = self._events(t_s, cz, tz, out)
        return out, events

    def finish(self) -> tuple[list[dict[str, Any]], list[Event]]:
        ev: list[Event] = []
        if self._rupture is not None:
            ev.append(self._close_rupture())
        if self._therapist_dys is not None:
            ev.extend(self._close_therapist())
        return [], ev
