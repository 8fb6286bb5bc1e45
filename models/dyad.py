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
(``bench/bench_dyad_timing.py``). The same ``arousal`` series shows the change much earlier, so
the rupture and repair candidates are dated from it (their evidence keeps the confirmed zone
times): a candidate starts at the last second at which the client's arousal was still inside the
*band of the state being left* -- the median +- ``band_k`` robust SDs (1.4826 x MAD, at least
``band_floor``) of ``band_s`` seconds that surely belong to that state. Only the band's edge
towards the change counts. The *departure onset* leaves the window's band, made of the ``band_s``
seconds up to the calmest second of the ``onset_lookback_s`` before the zone change; the
*recovery onset* leaves the episode's band, made of the episode's ``band_s`` seconds up to its last
second at least as far out as the episode's median, and is the last second inside it before the
*first* exit after that second (a slow wave back into the episode's band after the client has left
it does not postpone the recovery; a departure keeps the last second inside, see
:meth:`~coregulate.models.dyad_events.ArousalTrace.band_exit`). ``band_k`` = 2.5 is Leys et al.'s (2013, J Exp
Soc Psychol 49:764) "moderately conservative" MAD criterion for a value not belonging to a sample.
Why a band and not a share of the excursion: the rule it replaces took the last second within 20 %
of the way from the *calmest* value of the look-back (a noise extreme) to the value at the zone
change, a margin in units of the excursion rather than of the state's own fluctuation, so a slow
HR wave dipping just before a shallow withdrawal dated the rupture 5-11 s before the scripted
onset on 4 of 12 simulated sessions; and within a soft-clipped hyperarousal the same 20 % of the
way back from the extreme showed only once the clip let go (``bench/RESULTS.md``, "Event dating
by the band of the state being left"). Without arousal, or for a purely vocal withdrawal, the
zone times themselves are used.

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

Every threshold is in :class:`DyadParams`; each event kind is one small state machine of
:mod:`.dyad_events`, its state a dataclass. Zone changes of either person
(``leave_window``/``return_window``) are emitted by the tolerance estimator, not repeated here.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Mapping

from .base import DyadEstimator, Event, finite_or_none
from .config import PipelineConfig, family_options
from .dyad_events import (
    LABEL, ArousalTrace, ClientEpisodes, CoregulationRule, DyadSecond, PendingRepair, RepairRule, RuptureRule,
    TherapistRule,
)
from .surrogates import SurrogateParams, SurrogateResult, SurrogateSynchrony
from .synchrony import SyncParams, lag_leader

#: Signal name -> candidate feature columns, in order of preference.
SIGNALS: dict[str, tuple[str, ...]] = {
    "hr": ("hr_inst_bpm", "hr_bpm"),
    "arousal": ("arousal",),
    "vocal": ("vocal_arousal", "loudness_db"),
    "motion": ("movement",),
}


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
        ``onset_lookback_s`` (120), ``band_s`` (60), ``band_k`` (2.5) and ``band_floor`` (0.1,
        arousal units): how ruptures and repairs are dated (module docstring, "Dating"): the
        look-back before a zone change searched for the departure, the seconds that make the
        band of the state being left, its half-width in robust SDs and the floor of that SD (a
        stretch near the soft clip of ``arousal`` barely fluctuates).
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
    onset_lookback_s: int = 120
    band_s: int = 60
    band_k: float = 2.5
    band_floor: float = 0.1
    recovering_share: float = 0.1
    coreg_after_s: int = 120
    event_signals: tuple[str, ...] = ("hr", "arousal")

    @classmethod
    def from_config(cls, config: PipelineConfig | None) -> "DyadParams":
        """The ``dyad`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "dyad", cls)

    @property
    def sync(self) -> SyncParams:
        """Parameters of the windowed cross-lagged correlation (peak of the signed correlation)."""
        return SyncParams(self.window_s, self.max_lag_s, self.step_s, self.min_valid_frac, detrend=self.detrend)

    def sync_for(self, signal: str) -> SyncParams:
        """The correlation parameters for ``signal``: its peak is taken on ``|r|`` if the signal is one of
        ``abs_signals`` (in-phase and anti-phase both count), else on the signed maximum.
        """
        return replace(self.sync, peak="abs" if signal in self.abs_signals else "max")

    @property
    def surrogates(self) -> SurrogateParams:
        """Parameters of the segment-shift surrogate null of the synchrony."""
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
        # one state machine per event kind (:mod:`.dyad_events`), stepped in _events
        self._arousal = ArousalTrace(p)
        self._episodes = ClientEpisodes(p, self._arousal)
        self._ruptures = RuptureRule(p, self._arousal, self._event)
        self._repair = RepairRule(p, self._event)
        self._coreg = CoregulationRule(p, self._event)
        self._therapist = TherapistRule(p, self.therapist, self._event)
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

    def _synchrony_many(self, t0: int, seconds: list[Mapping[str, Mapping[str, Any]]]
                        ) -> list[tuple[dict[str, Any], dict[str, SurrogateResult]]]:
        """The synchrony columns and per-signal results of the seconds ``t0, t0 + 1, ...`` (each
        second's rows by role): each signal's values a second at a time (its column, log, moving
        average), then its estimator over all of them at once (:meth:`.SurrogateSynchrony.update_many`:
        the same results as one second at a time; the rules read none of it before it is done)."""
        values: dict[str, list[tuple[float | None, float | None]]] = {s: [] for s in self._sync}
        for k, rows in enumerate(seconds):
            a = rows.get(self.client) or {}
            b = rows.get(self.therapist) or {}
            self._t = t0 + k
            for s in self._sync:
                self._choose_column(s, a, b)
                xa, xb = self._value(s, a), self._value(s, b)
                if s in self.params.log_signals:
                    xa, xb = _log1p_or_none(xa), _log1p_or_none(xb)
                if s in self._tama:
                    xa, xb = self._tama[s][0].push(xa), self._tama[s][1].push(xb)
                values[s].append((xa, xb))
        per_signal = {s: est.update_many(values[s]) for s, est in self._sync.items()}
        return [self._synchrony_columns({s: per_signal[s][k] for s in self._sync}) for k in range(len(seconds))]

    def _synchrony_columns(self, results: dict[str, SurrogateResult]) -> tuple[dict[str, Any], dict[str, SurrogateResult]]:
        out: dict[str, Any] = {}
        for s, res in results.items():
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
        if (len(self._pauses) - self._pauses.count(None)) * 2 < self._pauses.maxlen:  # type: ignore[operator]
            return False  # fewer than half known (the values are floats or None)
        vals = [v for v in self._pauses if v is not None]
        return sum(vals) / len(vals) >= self.params.withdrawal_pause_ratio

    def _event(self, kind: str, start: int, end: int, rule: str, evidence: dict[str, Any],
               participant: str | None = None) -> Event:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return Event(kind=kind, t_start=float(start), t_end=float(end), participant=participant,
                     rule=rule, evidence=evidence, label=LABEL)

    def _second(self, t: int, cz: str | None, tz: str | None, row: dict[str, Any]) -> DyadSecond:
        p = self.params
        level = self._level()
        if cz == "hyper":
            state: str | None = "hyper"
        elif cz in ("hypo", "hypo_candidate"):
            state = "withdrawal"
        elif self._withdrawn_vocally():
            state = "vocal_withdrawal"
        else:
            state = None
        return DyadSecond(t, cz, tz, state, level, None if level is None else level <= p.low_effect,
                          None if level is None else level >= p.restore_effect, row)

    def _events(self, t: int, cz: str | None, tz: str | None, row: dict[str, Any]) -> list[Event]:
        # the order matters: each rule reads what the ones before it decided this second
        s = self._second(t, cz, tz, row)
        began = self._episodes.step(s)
        if began is not None:
            self._coreg.begin(began)
        ev = self._coreg.step(s)
        ev += self._ruptures.step(s, self._episodes)
        self._ruptures.track_restoration(s, self._episodes.current)
        if self._episodes.back and self._episodes.current is not None:
            self._client_returned(s)
        ev += self._repair.step(s, self._episodes.current is not None)
        ev += self._therapist.step(s, self._episodes.out.on)
        open_kinds = [k for k, v in (("rupture_candidate", self._ruptures.open),
                                     ("therapist_dysregulated", self._therapist.spell)) if v is not None]
        row["dyad_event"] = ",".join(open_kinds) or None
        return ev

    def _client_returned(self, s: DyadSecond) -> None:
        """The client is confirmed back in the window: a repair is awaited if this episode had a
        rupture candidate recently enough; co-regulation is watched a while longer."""
        rup = self._ruptures.of_episode(self._episodes.current)
        restored = self._ruptures.restored_since
        ep, t_ret = self._episodes.end(s.t)
        if rup is not None and t_ret - rup.last <= self.params.repair_after_s:
            recovery = self._arousal.band_exit(ep.arousal_state or "vocal_withdrawal", ep.onset, t_ret, leaving=False)
            self._repair.pending = PendingRepair(t_ret, rup, restored, recovery)
        self._coreg.client_returned(t_ret)
        self._ruptures.restored_since = None

    # -- estimator protocol ----------------------------------------------------------------

    def update(self, t_s: int, rows: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[Event]]:
        """The dyad row and the events of one second.

        Parameters
        ----------
        t_s : int
            The second (session time).
        rows : Mapping
            Each participant's finished row of the second, by role (the client's and the therapist's).

        Returns
        -------
        row : dict
            Synchrony per signal (with its surrogate significance and leader) and both zones.
        events : list of Event
            Rupture, repair, co-regulation and therapist events this second completed.
        """
        (out, results), = self._synchrony_many(t_s, [rows])
        return out, self._rules(t_s, rows, out, results)

    def updates(self, t0: int, seconds: list[Mapping[str, Mapping[str, Any]]]
                ) -> Iterator[tuple[dict[str, Any], list[Event]]]:
        """:meth:`update` of the seconds ``t0, t0 + 1, ...`` (``seconds``: each one's rows), one
        after the other: the same rows and events. The synchrony of all of them is computed first,
        together (:meth:`_synchrony_many`), then the rules a second at a time, each second's row and
        events yielded once its rules have run (the caller can read the state after each second,
        as :mod:`.provisional_dyad` does); meant to be consumed to the end."""
        for k, ((out, results), rows) in enumerate(zip(self._synchrony_many(t0, seconds), seconds)):
            yield out, self._rules(t0 + k, rows, out, results)

    def _rules(self, t_s: int, rows: Mapping[str, Mapping[str, Any]], out: dict[str, Any],
               results: dict[str, SurrogateResult]) -> list[Event]:
        """One second after its synchrony: the zones into its row, the level, pauses and arousal
        traces, and the event rules (:meth:`_events`)."""
        a = rows.get(self.client) or {}
        b = rows.get(self.therapist) or {}
        cz, tz = a.get("zone"), b.get("zone")
        out["client_zone"] = cz
        out["therapist_zone"] = tz
        rule_effects = [r.effect for s, r in results.items() if r.effect is not None and s in self.params.event_signals]
        self._levels.append(sum(rule_effects) / len(rule_effects) if rule_effects else None)
        self._pauses.append(finite_or_none(a.get("pause_ratio")))
        self._arousal.push(t_s, finite_or_none(a.get("arousal")))
        return self._events(t_s, cz, tz, out)

    def finish(self) -> tuple[list[dict[str, Any]], list[Event]]:
        """End of session: close the rupture candidate and the therapist spell still open.

        Returns
        -------
        rows : list of dict
            Always empty (no dyad row is produced after the last second).
        events : list of Event
            The events the close completed.
        """
        ev: list[Event] = []
        if self._ruptures.open is not None:
            ev.append(self._ruptures.close())
        ev.extend(self._therapist.close())
        return [], ev

    def open_candidates(self, held: bool = False) -> list[Event]:
        """The rupture candidate open now, and the therapist's spell open now if the dyad adds
        evidence to it so far (:meth:`~.dyad_events.TherapistRule.open_event`), as the events
        their close would give if they closed at their last second (``t_end`` None: still open);
        changes no state, counts nothing.

        For provisional dyad events (:mod:`.provisional_dyad`): one pushed on provisional data is
        held (not withdrawn) while the final tier has the matching candidate open; ``held``: the
        candidates that hold one, with the therapist's spell whether its evidence holds so far or
        not (its close decides, as the dyad rows' ``dyad_event`` shows it open).
        """
        spell = self._therapist.open_event(undecided=held)
        r = self._ruptures.open
        if r is None:
            return [spell] if spell is not None else []
        p = self.params
        rule = (f"client {r.state} sustained >= {p.sustain_s} s while synchrony level (mean effect over "
                f"{p.level_s} s) <= {p.low_effect}; open (closes on the return or on restored synchrony)")
        return [Event(kind="rupture_candidate", t_start=float(r.start), t_end=None, rule=rule,
                      evidence={"client_state": r.state, "zone_onset_s": r.episode, "low_sync_since_s": r.low_since,
                                "min_level": r.min_level, "open_at_s": r.last}, label=LABEL)] + \
            ([spell] if spell is not None else [])

    def therapist_active(self) -> bool:
        """The therapist's out-of-window run is under way or a spell is open: the therapist rule
        may fire in the next seconds even while the client is :meth:`quiet`."""
        return self._therapist.active

    def coregulation_possible(self, ahead_s: int) -> bool:
        """The co-regulation rule could fire within the next ``ahead_s`` seconds: an episode is
        watched and the client's return is confirmed already or could be by then (the rule is only
        decided after the return, :class:`~.dyad_events.CoregulationRule`). An upper bound of
        :meth:`coregulation_ahead`, which needs the client's zones of those seconds."""
        watch = self._coreg.watch
        return watch is not None and (watch.return_s is not None
                                      or self._episodes.inside.true_run + ahead_s >= self.params.sustain_s)

    def coregulation_ahead(self, client_zones: Iterable[str | None]) -> bool:
        """The co-regulation rule could fire in the next seconds, whose client zones are
        ``client_zones`` (None or ``"unknown"`` where unknown, as in the rows :meth:`update` reads).

        Exact where :meth:`coregulation_possible` is an upper bound: the rule decides only after the
        client's return is confirmed (:class:`~.dyad_events.CoregulationRule`), and the return is the
        client's in-window :class:`~.dyad_events.Hysteresis` turning on
        (:meth:`~.dyad_events.ClientEpisodes.step`; unknown zones skipped). A copy of it is stepped
        over the zones: a watch whose return is not confirmed already can be decided only from the
        second after one of these seconds confirms it (the return is read after the rule's step of
        the same second, :meth:`_events`), so the last zone cannot open the gate. Changes no state.
        """
        watch = self._coreg.watch
        if watch is None:
            return False
        if watch.return_s is not None:
            return True
        inside = copy.copy(self._episodes.inside)
        zones = list(client_zones)
        for t, zone in enumerate(zones[:-1]):
            known = zone is not None and zone != "unknown"
            if inside.step(t, zone == "window" if known else None) == "start":
                return True
        return False

    def quiet(self, pauses_ahead: Iterable[float | None] = ()) -> bool:
        """No rupture or repair candidate can come in the next seconds unless the client's zone leaves
        the window: no client episode open or building up, no rupture open, no repair awaited, and no
        vocal withdrawal now or with the client's ``pause_ratio`` of the next seconds
        (``pauses_ahead``, None where unknown) added to the level window as :meth:`update` would.
        For the provisional tier (:mod:`.provisional_dyad`), which then has nothing to evaluate."""
        if (self._episodes.current is not None or self._episodes.out.on or self._episodes.out.building
                or self._ruptures.open is not None or self._repair.pending is not None or self._withdrawn_vocally()):
            return False
        ahead = list(pauses_ahead)
        # the mean (_withdrawn_vocally's) is needed only once the known values are half of the window:
        # never if those in it now and every one ahead are fewer (ECG-only sessions, without pause
        # ratios, have none), so the window need not slide
        known = len(self._pauses) - self._pauses.count(None)
        if (known + sum(v is not None for v in ahead)) * 2 < self._pauses.maxlen:  # type: ignore[operator]
            return True
        window = deque(self._pauses, maxlen=self._pauses.maxlen)
        for v in ahead:  # the known values in the window counted as it slides
            if len(window) == window.maxlen and window[0] is not None:
                known -= 1  # the value the append pushes out
            window.append(finite_or_none(v))
            known += window[-1] is not None
            if known * 2 < window.maxlen:  # type: ignore[operator]
                continue
            vals = [x for x in window if x is not None]
            if sum(vals) / len(vals) >= self.params.withdrawal_pause_ratio:
                return False
        return True

    def rules_copy(self, synchrony: bool = False) -> "DyadPipeline":
        """A throwaway copy for the provisional tier (:mod:`.provisional_dyad`).

        Parameters
        ----------
        synchrony : bool
            False: the copy's :meth:`update` gives the same rupture and repair candidates at less
            cost, leaving out the synchrony of the signals outside ``event_signals``. Those make
            only ``sync_significant``, ``leader`` and ``sync_effect`` (read by the co-regulation and
            therapist rules), not the level these rules read; and the signals kept give their effect
            only (:attr:`~.surrogates.SurrogateSynchrony.level_only`: the same floats, without the
            peak's lag, ``p`` and significance). True: a whole copy, for when the
            co-regulation or therapist rule can fire in the seconds stepped (:meth:`coregulation_ahead`,
            :meth:`therapist_active`, the therapist's zones). The copy's rows are not meant to be used, nor, without
            ``synchrony``, its co-regulation and therapist events.

        Either way the copy's synchrony is tested against the surrogate null pool of this (the newest
        final) second, without the pseudo-pairs of the seconds it steps
        (:meth:`~.surrogates.SurrogateSynchrony.freeze_null`): the same null for both kinds of copy.
        """
        # Shared, not copied: the frozen parameters; and the arousal trace's points are (second,
        # arousal) tuples, so a new deque of the same tuples is their deep copy (deepcopy's own walk
        # over the several hundred tuples was most of a copy's cost).
        points = self._arousal.points
        memo: dict[int, Any] = {id(self.params): self.params, id(points): deque(points, maxlen=points.maxlen)}
        if not synchrony:
            memo.update({id(est): None for s, est in self._sync.items() if s not in self.params.event_signals})
        probe = copy.deepcopy(self, memo)
        probe._sync = {s: est for s, est in probe._sync.items() if est is not None}
        for est in probe._sync.values():
            est.level_only = not synchrony
            est.freeze_null()
        return probe
