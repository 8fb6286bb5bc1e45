"""The dyad's event candidates: one small state machine per event kind, fed one second at a time.

The rules, their thresholds and how candidates are dated are described once, in :mod:`.dyad`
(module docstring, "Events" and "Dating") and :class:`~coregulate.models.dyad.DyadParams`; this
module holds their state as dataclasses and their steps as small classes, each testable alone:

- :class:`ClientEpisodes`: the client's dysregulation episodes (hysteresis on being out of the
  window and on being back in it);
- :class:`RuptureRule`: ``rupture_candidate``, and since when synchrony is restored after one;
- :class:`RepairRule`: ``repair_candidate``, awaited after the client's return;
- :class:`CoregulationRule`: ``co_regulation``, watched from an episode's onset until after the return;
- :class:`TherapistRule`: ``therapist_dysregulated``.

They read one :class:`DyadSecond` each and :class:`~coregulate.models.dyad.DyadPipeline` steps
them in a fixed order (episodes, co-regulation, rupture, restoration, return, repair, therapist),
because a later rule reads what an earlier one decided in the same second.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .base import Event

if TYPE_CHECKING:
    from .dyad import DyadParams

DYSREGULATED = frozenset({"hyper", "hypo", "hypo_candidate"})
#: The label of every dyad event: each is a candidate for a clinician's review, not a finding.
LABEL = "candidate for review"

#: ``emit(kind, start, end, rule, evidence, participant=None) -> Event`` (counts the event too)
Emit = Callable[..., Event]


class Hysteresis:
    """A boolean with hysteresis: ``on`` after ``sustain`` true seconds, off after ``sustain`` false."""

    def __init__(self, sustain: int):
        self.sustain = sustain
        self.on = False
        self.onset: int | None = None  # first second of the current true run
        self.last_true: int | None = None
        self._true = 0
        self._false = 0

    @property
    def building(self) -> bool:
        """A true run is under way (it may turn ``on`` with more true seconds)."""
        return self._true > 0

    @property
    def true_run(self) -> int:
        """Consecutive true seconds up to now (0 after a false one)."""
        return self._true

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


@dataclass(frozen=True)
class DyadSecond:
    """What the rules see of one second."""

    t: int
    client_zone: str | None
    therapist_zone: str | None
    #: ``hyper``, ``withdrawal`` (hypo zones), ``vocal_withdrawal`` (long pauses) or None
    client_state: str | None
    level: float | None  # synchrony level (mean effect of the event signals over level_s)
    low: bool | None  # level <= low_effect (None: level unknown)
    high: bool | None  # level >= restore_effect
    row: Mapping[str, Any]  # the dyad row of the second (sync_significant, leader)


@dataclass(frozen=True)
class Band:
    """The arousal band of the state the client is leaving (:meth:`ArousalTrace.band_exit`)."""

    median: float  # arousal (baseline z), not oriented
    half_width: float  # band_k robust SDs, in arousal units

    def evidence(self, prefix: str) -> dict[str, float]:
        """The band as evidence fields ``<prefix>_median`` and ``<prefix>_half_width``."""
        return {f"{prefix}_median": self.median, f"{prefix}_half_width": self.half_width}


def _median(xs: list[float]) -> float:
    v = sorted(xs)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


class ArousalTrace:
    """The client's recent ``(second, arousal)``: the band exits that date departures and
    recoveries (:mod:`.dyad`, "Dating"), and whether the client is already on the way back."""

    def __init__(self, params: DyadParams):
        self.p = params
        # enough for an episode's recovery and for a departure's look-back plus its band's stretch
        self.points: deque[tuple[int, float]] = deque(
            maxlen=params.repair_after_s + params.onset_lookback_s + params.band_s)

    def push(self, t: int, arousal: float | None) -> None:
        """Remember the client's arousal at second ``t`` (a missing value is skipped)."""
        if arousal is not None:
            self.points.append((t, arousal))

    def recovering(self, episode: Episode, t: int) -> bool:
        """The client's arousal at ``t`` has come ``recovering_share`` of the way from the
        episode's extreme back towards the baseline (0)."""
        state = episode.arousal_state
        if state is None or not self.points or self.points[-1][0] != t:
            return False
        sign = 1.0 if state == "hyper" else -1.0
        extreme = max(sign * a for s, a in self.points if s >= episode.onset)
        return extreme > 0 and extreme - sign * self.points[-1][1] >= self.p.recovering_share * extreme

    def band_exit(self, state: str, t0: int, t1: int, leaving: bool) -> tuple[int, Band | None]:
        """(the second the change is dated from, the band of the state being left) over ``[t0, t1]``.

        Leaving (``t0`` = ``t1`` - ``onset_lookback_s``, ``t1`` = the zone change): the state
        left is the window, and its band is made of the ``band_s`` seconds up to the calmest
        second of the look-back (surely before the excursion; they may precede ``t0``).
        Returning (``t0`` = the zone change, ``t1`` = the return): the state left is the episode,
        and its band is made of the ``band_s`` seconds (within ``[t0, t1]``) up to the last second
        at least as far out as the median of ``[t0, t1]`` (surely still in the episode). The band
        is the median of those seconds +- ``band_k`` robust SDs (``1.4826 * MAD``, at least
        ``band_floor``; Leys et al. 2013, J Exp Soc Psychol 49:764); only its edge towards the
        change counts. ``(t1, None)`` without arousal to date by.

        The date differs by direction, because the two errors differ:

        - a departure is dated at the *last* second from the anchor on still inside the window's
          band, so that a calm swing before the change that stays within the window's own
          fluctuation does not date the change early;
        - a recovery is dated at the last second inside the episode's band *before its first
          exit* from it after the anchor. Taking the last second inside over the whole return
          let a slow wave back into the episode's band, after the client had already left it,
          postpone the date (the scripted ``repair`` 42-49 s late on 3 of 20
          simulated sessions; ``bench/RESULTS.md``, "Event dating by the band of the state
          being left" and "Repair dated at its first exit from the episode's band").
        """
        if state not in ("hyper", "withdrawal"):  # vocal only: no arousal excursion to date it by
            return t1, None
        sign = 1.0 if state == "hyper" else -1.0  # oriented so that larger = further out
        seq = [(s, sign * a) for s, a in self.points if t0 <= s <= t1]
        if not seq:
            return t1, None
        if leaving:
            calmest = min(e for _, e in seq)
            anchor = max(s for s, e in seq if e == calmest)
            pool = [(s, sign * a) for s, a in self.points if s <= anchor]
        else:
            middle = _median([e for _, e in seq])
            anchor = max(s for s, e in seq if e >= middle)
            pool = seq
        ref = [e for s, e in pool if anchor - self.p.band_s < s <= anchor]
        centre = _median(ref)
        half = self.p.band_k * max(1.4826 * _median([abs(e - centre) for e in ref]), self.p.band_floor)
        band = Band(sign * centre, half)
        if leaving:
            inside = [s for s, e in seq if s >= anchor and e <= centre + half]
            return max(inside, default=anchor), band
        last_inside = anchor
        for s, e in seq:
            if s < anchor:
                continue
            if e < centre - half:  # the first exit towards the baseline
                break
            last_inside = s
        return last_inside, band


# -- client episodes -------------------------------------------------------------------------

@dataclass
class Episode:
    """One dysregulation episode of the client, from its confirmed onset to the return."""

    onset: int  # first second of the sustained dysregulation
    state: str  # client_state when it was confirmed
    departure: int  # departure onset: the last second inside the window's band (ArousalTrace.band_exit)
    band: Band | None = None  # that band (None: dated by the zone change itself)
    arousal_state: str | None = None  # hyper / withdrawal once a zone says so (dates the recovery)


class ClientEpisodes:
    """The client's episodes: dysregulated for ``sustain_s`` opens one; back in the window for
    ``sustain_s`` (:attr:`back`, that second only) ends it (:meth:`end`)."""

    def __init__(self, params: DyadParams, trace: ArousalTrace):
        self.p, self.trace = params, trace
        self.out = Hysteresis(params.sustain_s)  # client dysregulated (hyper / withdrawal)
        self.inside = Hysteresis(params.sustain_s)  # client in window
        self.current: Episode | None = None
        self.back = False  # the return to the window was confirmed this second

    def step(self, s: DyadSecond) -> Episode | None:
        """Advance one second; returns the episode that began in it, if any."""
        known = s.client_zone is not None and s.client_zone != "unknown"
        state = s.client_state
        began = self.out.step(s.t, state is not None if (known or state) else None) == "start"
        self.back = self.inside.step(s.t, s.client_zone == "window" if known else None) == "start"
        new = None
        if began and self.current is None:
            onset = self.out.onset
            assert onset is not None
            departure, band = self.trace.band_exit(state, onset - self.p.onset_lookback_s, onset, leaving=True)
            new = self.current = Episode(onset, state, departure, band)
        if self.current is not None and state in ("hyper", "withdrawal"):
            # an episode that began as vocal withdrawal is dated back by its zone's arousal
            self.current.arousal_state = state
        return new

    def end(self, t: int) -> tuple[Episode, int]:
        """Close the current episode at the confirmed return; (the episode, the return second)."""
        ep = self.current
        assert ep is not None
        self.current = None
        return ep, self.inside.onset or t


# -- rupture ---------------------------------------------------------------------------------

@dataclass
class Rupture:
    """An open (or the last closed) rupture candidate."""

    start: int
    episode: int  # onset of the episode it belongs to
    low_since: int
    state: str
    last: int  # last second with a dysregulated client and low synchrony
    min_level: float
    restored: int = 0  # consecutive seconds with synchrony restored
    band: Band | None = None  # the departure's band, for a zone episode's first candidate


class RuptureRule:
    """``rupture_candidate``, and since when synchrony has been restored after one."""

    def __init__(self, params: DyadParams, trace: ArousalTrace, emit: Emit):
        self.p, self.trace, self.emit = params, trace, emit
        self.open: Rupture | None = None
        self.last: Rupture | None = None
        self.restored_since: int | None = None

    def step(self, s: DyadSecond, episodes: ClientEpisodes) -> list[Event]:
        """Open or extend a candidate while the client is dysregulated and synchrony is low (and
        the client not already recovering); close it on the return, the episode's end, or after
        ``sustain_s`` seconds of restored synchrony."""
        ep = episodes.current
        if (ep is not None and episodes.out.on and s.client_state is not None and s.low
                and (self.open is not None or not self.trace.recovering(ep, s.t))):
            if self.open is None:
                first = self.last is None or self.last.episode != ep.onset
                self.open = Rupture(ep.departure if first else s.t, ep.onset, s.t, s.client_state, s.t, s.level,
                                    band=ep.band if first else None)
            r = self.open
            r.last, r.restored = s.t, 0
            r.min_level = min(r.min_level, s.level)
        elif self.open is not None:
            r = self.open
            r.restored = r.restored + 1 if s.high else 0
            if r.restored >= self.p.sustain_s or episodes.back or ep is None:
                return [self.close()]
        return []

    def of_episode(self, episode: Episode | None) -> Rupture | None:
        """The open or last rupture candidate if it belongs to ``episode``."""
        rup = self.open or self.last
        return rup if episode is not None and rup is not None and rup.episode == episode.onset else None

    def track_restoration(self, s: DyadSecond, episode: Episode | None) -> None:
        """Synchrony restored after this episode's rupture (may precede the zone return, which the
        tolerance estimator confirms later): remember since when, forget on a new drop."""
        ours = self.of_episode(episode) is not None
        if ours and self.open is None and s.high:
            self.restored_since = self.restored_since or s.t
        elif s.low or not ours:
            self.restored_since = None

    def close(self) -> Event:
        """Close the open rupture candidate (there must be one) and return its event."""
        r = self.open
        assert r is not None
        self.open = None
        self.last = r
        p = self.p
        return self.emit(
            "rupture_candidate", r.start, r.last,
            f"client {r.state} sustained >= {p.sustain_s} s while synchrony level "
            f"(mean effect over {p.level_s} s) <= {p.low_effect}; a zone episode's first candidate is dated from "
            f"the departure onset (arousal last inside the band of the window before the zone change: median "
            f"+- {p.band_k} robust SDs of the {p.band_s} s up to the calmest second of the {p.onset_lookback_s} s "
            "before it)",
            {"client_state": r.state, "zone_onset_s": r.episode, "low_sync_since_s": r.low_since,
             "min_level": r.min_level, **(r.band.evidence("departure_band") if r.band else {})})


# -- repair ----------------------------------------------------------------------------------

@dataclass
class PendingRepair:
    """A return to the window after a rupture candidate, waiting for synchrony to be restored."""

    return_s: int
    rupture: Rupture
    restored: int | None  # since when synchrony was restored before the return, if it was
    recovery: tuple[int, Band | None]  # (recovery onset, the episode's band it left)


class RepairRule:
    """``repair_candidate``: confirmed once synchrony is restored, before or within
    ``repair_within_s`` after the return."""

    def __init__(self, params: DyadParams, emit: Emit):
        self.p, self.emit = params, emit
        self.pending: PendingRepair | None = None

    def step(self, s: DyadSecond, episode_open: bool) -> list[Event]:
        """Confirm or drop the pending repair with one more second.

        Parameters
        ----------
        s : DyadSecond
            The dyad second (synchrony level, zones).
        episode_open : bool
            Whether a new client episode has begun (a pending repair is then dropped).

        Returns
        -------
        list of Event
            The ``repair_candidate`` if synchrony is restored (before the return, or within
            ``repair_within_s`` after it), else empty.
        """
        pr, p = self.pending, self.p
        if pr is None:
            return []
        if pr.restored is not None or s.high:
            restored = pr.restored if pr.restored is not None else s.t
            rec_s, band = pr.recovery
            self.pending = None
            return [self.emit(
                "repair_candidate", min(restored, rec_s), s.t,
                f"client back in window after a rupture candidate, with synchrony level >= {p.restore_effect} "
                f"(restored before the return, or within {p.repair_within_s} s after it); dated from the "
                f"restoration or the client's recovery onset (arousal last inside the episode's band before it first "
                f"left it: median "
                f"+- {p.band_k} robust SDs of its last {p.band_s} s at least as far out as its median), "
                "whichever came first",
                {"rupture_start_s": pr.rupture.start, "rupture_end_s": pr.rupture.last,
                 "recovery_onset_s": rec_s, **(band.evidence("episode_band") if band else {}),
                 "return_s": pr.return_s, "restored_s": restored, "confirmed_s": s.t, "level": s.level})]
        if s.t - pr.return_s > p.repair_within_s or episode_open:
            self.pending = None
        return []


# -- co-regulation ---------------------------------------------------------------------------

@dataclass
class CoregulationWatch:
    """A client episode watched for co-regulation, from its onset until ``coreg_after_s`` after the return."""

    onset: int
    state: str
    first: list[float] = field(default_factory=list)  # levels of the episode's first episode_ref_s
    therapist_in: int = 0  # seconds with the therapist in the window
    therapist_known: int = 0  # seconds with the therapist's zone known
    lead_t: int = 0  # significant seconds led by the therapist
    sig: int = 0  # significant seconds
    first_lead: int | None = None
    return_s: int | None = None


class CoregulationRule:
    """``co_regulation``: fires once per watched episode."""

    def __init__(self, params: DyadParams, emit: Emit):
        self.p, self.emit = params, emit
        self.watch: CoregulationWatch | None = None

    def begin(self, episode: Episode) -> None:
        """Watch a new client episode (supersedes one still watched after its return)."""
        # a new episode supersedes a co-regulation still being watched after a return
        self.watch = CoregulationWatch(episode.onset, episode.state)

    def client_returned(self, t_return: int) -> None:
        """The client came back to the window at ``t_return`` (s): the watch runs ``coreg_after_s`` more."""
        if self.watch is not None:
            self.watch.return_s = t_return

    def step(self, s: DyadSecond) -> list[Event]:
        """Count one more second of the watched episode and decide once the client has returned.

        Returns
        -------
        list of Event
            One ``co_regulation`` event when the therapist was in the window and leading enough and
            synchrony rose enough (thresholds in :class:`DyadParams`), else empty.
        """
        c, p = self.watch, self.p
        if c is None:
            return []
        self._count(c, s)
        if c.return_s is None:
            return []
        if s.t - c.return_s > p.coreg_after_s:
            self.watch = None
            return []
        rise = s.level - sum(c.first) / len(c.first) if c.first and s.level is not None else None
        th_share = c.therapist_in / c.therapist_known if c.therapist_known else None
        lead_share = c.lead_t / c.sig if c.sig else None
        if (rise is None or rise < p.rise_effect or th_share is None or th_share < p.therapist_window_share
                or lead_share is None or lead_share < p.therapist_lead_share or c.lead_t < p.min_lead_s):
            return []
        self.watch = None
        return [self.emit(
            "co_regulation", c.first_lead or c.onset, s.t,
            f"client returned to window (watched up to {p.coreg_after_s} s after); therapist in window "
            f">= {p.therapist_window_share:.0%} of the time; therapist led >= {p.therapist_lead_share:.0%} "
            f"of significant seconds (>= {p.min_lead_s} s); synchrony level rose >= {p.rise_effect} "
            f"since the episode's first {p.episode_ref_s} s",
            {"episode_onset_s": c.onset, "client_state": c.state, "return_s": c.return_s,
             "level_rise": rise, "therapist_window_share": th_share, "therapist_lead_share": lead_share,
             "therapist_led_s": c.lead_t})]

    def _count(self, c: CoregulationWatch, s: DyadSecond) -> None:
        if s.t < c.onset + self.p.episode_ref_s and s.level is not None:
            c.first.append(s.level)
        tz = s.therapist_zone
        if tz is not None and tz != "unknown":
            c.therapist_known += 1
            c.therapist_in += tz == "window"
        if s.row.get("sync_significant"):
            c.sig += 1
            if s.row.get("leader") == "therapist":
                c.lead_t += 1
                c.first_lead = c.first_lead or s.t


# -- therapist -------------------------------------------------------------------------------

@dataclass
class TherapistSpell:
    """The therapist out of the window (sustained), with what the client did meanwhile."""

    start: int
    last: int
    n: int = 0  # seconds of the spell
    client_out: int = 0  # seconds with the client dysregulated too
    client_led_sig: int = 0  # seconds significantly synchronised with the client leading
    zones: set[str] = field(default_factory=set)


class TherapistRule:
    """``therapist_dysregulated``: only when the dyad adds evidence to the zone change itself."""

    def __init__(self, params: DyadParams, therapist: str, emit: Emit):
        self.therapist, self.emit = therapist, emit
        self.out = Hysteresis(params.sustain_s)
        self.spell: TherapistSpell | None = None

    def step(self, s: DyadSecond, client_out: bool) -> list[Event]:
        """Follow the therapist's zone for one second.

        Parameters
        ----------
        s : DyadSecond
            The dyad second (therapist zone, synchrony, leader).
        client_out : bool
            Whether the client is out of the window this second.

        Returns
        -------
        list of Event
            The ``therapist_dysregulated`` event when a sustained spell ends and the dyad adds evidence
            to it (see :meth:`close`), else empty.
        """
        tz = s.therapist_zone
        change = self.out.step(s.t, tz in DYSREGULATED if tz is not None and tz != "unknown" else None)
        if self.out.on:
            if self.spell is None:
                self.spell = TherapistSpell(self.out.onset, s.t)
            d = self.spell
            d.n += 1
            d.last = s.t
            if tz is not None:  # no row of the therapist this second (e.g. their data ended): no zone to list
                d.zones.add(tz)
            d.client_out += bool(client_out)
            d.client_led_sig += bool(s.row.get("sync_significant") and s.row.get("leader") == "client")
        if change == "end" and self.spell is not None:
            return self.close()
        return []

    @property
    def active(self) -> bool:
        """A spell is open or the therapist's out-of-window run that would open one is under way."""
        return self.out.on or self.out.building or self.spell is not None

    def _verdict(self, d: TherapistSpell) -> tuple[str, dict[str, Any]] | None:
        """The rule and evidence of spell ``d`` as it stands, or None when the dyad adds no evidence."""
        co = d.client_out / d.n
        led = d.client_led_sig / d.n
        # Only surfaced when the dyad adds evidence; a lone zone change is the tolerance
        # estimator's leave_window/return_window event already.
        if co < 0.5 and led < 0.5:
            return None
        rule = ("therapist out of window while the client is out of window too (co-dysregulation)" if co >= 0.5
                else "therapist out of window while significantly synchronised with the client leading")
        return rule, {"zones": sorted(d.zones), "client_out_share": co, "client_led_share": led}

    def open_event(self, undecided: bool = False) -> Event | None:
        """The open spell as the event its close would give if it closed at its last second
        (``t_end`` None), when the dyad adds evidence to it so far, or with ``undecided`` whether it
        does or not (its close decides); changes no state, counts nothing."""
        d = self.spell
        if d is None or not d.n:
            return None
        verdict = self._verdict(d)
        if verdict is None and not undecided:
            return None
        rule, evidence = verdict or ("therapist out of window; the dyad's evidence is decided when it closes", {})
        return Event(kind="therapist_dysregulated", t_start=float(d.start), t_end=None, participant=self.therapist,
                     rule=rule + "; open", evidence={**evidence, "open_at_s": d.last}, label=LABEL)

    def close(self) -> list[Event]:
        """End the current spell; an event only if the client was out of the window too, or led a
        significant synchrony, for at least half of it.
        """
        d = self.spell
        self.spell = None
        verdict = None if d is None else self._verdict(d)
        if d is None or verdict is None:
            return []
        return [self.emit("therapist_dysregulated", d.start, d.last, verdict[0], verdict[1],
                          participant=self.therapist)]
