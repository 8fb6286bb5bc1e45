"""Per-person session summary and the session's warnings in plain words (pure: no I/O).

:func:`summarize_person` turns one person's per-second rows (``features.csv``) into one row of
``summary.csv``: time in each zone of the window of tolerance, mean and median of heart rate,
RMSSD, skin conductance, arousal and vocal arousal during the baseline and outside it, the share
of good/fair/poor seconds, corrected beats and the heart source used.

:func:`session_warnings` runs every rule of :data:`WARNING_RULES` over a :class:`SessionFacts`
and returns what a reader of the report must know before trusting its numbers (e.g. every
second of a person is ``quality=poor``). **Adding a source of warnings is one function** taking
the facts and yielding :class:`SessionWarning` **and one line** appending it to
:data:`WARNING_RULES`. An estimator can also raise a warning without touching this module by
emitting an event of kind ``"warning"``: its ``label`` is shown as the warning's text.

The thresholds below are reporting conventions, not physiology: they decide when a number is
flagged for the reader, never what is computed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .base import finite_or_none
from .columns import ZONES

#: Per-second columns summarised as mean and median, during the baseline and outside it.
SUMMARY_SIGNALS = ("hr_bpm", "rmssd_ms", "eda_scl_us", "arousal", "vocal_arousal")

#: Labels of the ``quality`` column (models/autonomic.py); an empty cell counts as ``none``.
QUALITY_LEVELS = ("good", "fair", "poor", "none")

#: Columns of a person's summary row, in ``summary.csv`` order (after ``row``/``participant``/``code``).
PERSON_COLUMNS: tuple[str, ...] = (
    "minutes",
    *(f"{z}_share" for z in ZONES),
    *(f"{s}_{part}_{stat}" for s in SUMMARY_SIGNALS for part in ("baseline", "rest") for stat in ("mean", "median")),
    *(f"quality_{q}_share" for q in QUALITY_LEVELS),
    "beats_corrected_share",
    "beats_corrected_approx",
    "heart_source",
)


def _in_segment(t_s: float, segment: tuple[float, float]) -> bool:
    # t_s is the end of the one-second step (t_s - 1, t_s]
    return segment[0] < t_s <= segment[1]


def _stats(vals: list[float]) -> tuple[float | None, float | None]:
    if not vals:
        return None, None
    return sum(vals) / len(vals), statistics.median(vals)


def heart_source(rows: Sequence[Mapping[str, Any]], stream_kinds: Iterable[str] = ()) -> str:
    """Which heart input fed a person's rows.

    The per-second ``heart_source`` column when the rows carry one (shares of each source, most
    used first, e.g. ``"rr 97%, ecg 3%"``); otherwise (rows of sessions older than that column)
    the best source among ``stream_kinds`` in the heart estimator's own default order
    (``models.heart.HeartOptions.beat_sources``), or ``device_hr`` for a device HR stream alone,
    as the column would name them; ``""`` when no second has a heart rate (a source that gave
    nothing was not used).
    """
    from .heart import DEVICE_HR, HeartOptions

    if not any(finite_or_none(r.get("hr_bpm")) is not None for r in rows):
        return ""
    used = Counter(str(r["heart_source"]) for r in rows if r.get("heart_source") not in (None, ""))
    if used:
        n = sum(used.values())
        return ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in used.most_common())
    kinds = set(stream_kinds)
    best = next((k for k in HeartOptions.beat_sources if k in kinds), None)
    return best or (DEVICE_HR if "hr" in kinds else "")


def summarize_person(rows: Sequence[Mapping[str, Any]], baseline: tuple[float, float], *, window_s: float,
                     stream_kinds: Iterable[str] = ()) -> dict[str, Any]:
    """One person's row of ``summary.csv`` (see :data:`PERSON_COLUMNS`).

    Parameters
    ----------
    rows : sequence of mappings
        The person's per-second feature rows, one per second, in time order.
    baseline : (float, float)
        The baseline segment in session seconds; ``rest`` is every second outside it.
    window_s : float
        The HRV window length: each beat is counted in about ``window_s`` consecutive windows,
        so ``sum(beats_corrected) / window_s`` approximates the number of corrected beats.
    stream_kinds : iterable of str
        Kinds of the person's recorded streams (for :func:`heart_source`).

    Returns
    -------
    dict
        Shares are fractions of the person's seconds (0-1); ``None`` where nothing was computable.
    """
    n = len(rows)
    out: dict[str, Any] = {"minutes": round(n / 60, 3)}
    zones = Counter(r.get("zone") or "unknown" for r in rows)
    for z in ZONES:
        out[f"{z}_share"] = zones[z] / n if n else None
    for s in SUMMARY_SIGNALS:
        parts: dict[str, list[float]] = {"baseline": [], "rest": []}
        for r in rows:
            v = finite_or_none(r.get(s))
            if v is not None:
                parts["baseline" if _in_segment(float(r["t_s"]), baseline) else "rest"].append(v)
        for part, vals in parts.items():
            out[f"{s}_{part}_mean"], out[f"{s}_{part}_median"] = _stats(vals)
    quality = Counter(r.get("quality") or "none" for r in rows)
    for q in QUALITY_LEVELS:
        out[f"quality_{q}_share"] = quality[q] / n if n else None
    corrected = sum(finite_or_none(r.get("beats_corrected")) or 0.0 for r in rows)
    in_window = sum(finite_or_none(r.get("beats_in_window")) or 0.0 for r in rows)
    out["beats_corrected_share"] = corrected / in_window if in_window else None
    out["beats_corrected_approx"] = round(corrected / window_s) if in_window else None
    out["heart_source"] = heart_source(rows, stream_kinds)
    return out


# ---------------------------------------------------------------------------------------------
# Warnings


@dataclass(frozen=True)
class SessionWarning:
    """One thing the reader must know, in plain words.

    Parameters
    ----------
    who : str
        A participant role, ``"dyad"`` or ``"session"``.
    code : str
        Stable machine-readable name (e.g. ``"hrv_not_interpretable"``).
    text : str
        What is wrong and what it affects, e.g. ``"heart-rate variability not interpretable:
        quality poor in every second"``.
    """

    who: str
    code: str
    text: str

    def plain(self) -> str:
        """``"client: heart-rate variability not interpretable: ..."``."""
        return f"{self.who}: {self.text}"


@dataclass(frozen=True)
class SessionFacts:
    """What the warning rules look at: everything of a finished session but the raw samples.

    Parameters
    ----------
    rows : mapping of role -> sequence of mappings
        Each person's per-second feature rows in time order.
    dyad : sequence of mappings
        The dyad rows (empty for one person).
    events : sequence of mappings
        Events as dicts (``kind``, ``t_start``, ``t_end``, ``participant``, ``label``, ``evidence``).
    baseline : (float, float)
        The baseline segment in force.
    duration_s : float
        Session length.
    stream_kinds : mapping of role -> tuple of str
        Kinds of each person's recorded streams.
    gaps : sequence of mappings
        Recorded gaps (``stream`` key ``"<role>/<kind>"``, ``t_start``, ``t_end``).
    status : str
        The session's status (``complete``, ``interrupted``, ...).
    window_s : float
        The HRV window in force (the first window of seconds is warm-up, not missing data).
    baseline_origin : mapping
        Person -> where their baseline came from when it is not the session's own segment (a
        separate resting recording, or the whole of a recording shorter than the segment;
        ``PipelineConfig.baseline_reference``). Such a baseline is in force from the first second.
    """

    rows: Mapping[str, Sequence[Mapping[str, Any]]]
    dyad: Sequence[Mapping[str, Any]] = ()
    events: Sequence[Mapping[str, Any]] = ()
    baseline: tuple[float, float] = (0.0, 300.0)
    duration_s: float = 0.0
    stream_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    gaps: Sequence[Mapping[str, Any]] = ()
    status: str = "complete"
    window_s: float = 60.0
    baseline_origin: Mapping[str, str] = field(default_factory=dict)

    def baseline_end(self, who: str) -> float:
        """The second from which ``who``'s arousal and zones have a baseline to stand on."""
        return 0.0 if who in self.baseline_origin else self.baseline[1]


WarningRule = Callable[[SessionFacts], Iterable[SessionWarning]]

#: Share of a person's heart-data seconds rated ``poor`` above which HRV is flagged.
POOR_SHARE = 0.5
#: Share of the seconds after the baseline with zone ``unknown`` above which it is flagged.
UNKNOWN_SHARE = 0.5
#: Share of the session lost in gaps (per stream) above which it is flagged.
GAP_SHARE = 0.05
#: Share of heart seconds with ``vagal_reliable`` false above which it is flagged.
VAGAL_UNRELIABLE_SHARE = 0.5


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _has_heart(r: Mapping[str, Any]) -> bool:
    return finite_or_none(r.get("hr_bpm")) is not None


def no_heart_data(f: SessionFacts) -> Iterable[SessionWarning]:
    """A person with no heart rate at all: HR, HRV, arousal and zones stay empty."""
    for who, rows in f.rows.items():
        if rows and not any(_has_heart(r) for r in rows):
            yield SessionWarning(who, "no_heart_data", "no heart data: heart rate, HRV, arousal and the window of "
                                 "tolerance are empty for the whole session")


def hrv_not_interpretable(f: SessionFacts) -> Iterable[SessionWarning]:
    """Most (or all) heart seconds rated poor (corrected beats > 15 %, gaps, irregular rhythm), or
    an irregular rhythm on a large share of the HRV windows (:func:`.autonomic.person_hrv_warnings`
    names it)."""
    from .autonomic import person_hrv_warnings

    for who, rows in f.rows.items():
        rated = [r.get("quality") for r in rows if (r.get("quality") or "none") != "none"]
        if not rated:
            continue
        irregular = next((w.text for w in person_hrv_warnings(rows, f.window_s) if w.code == "hrv_uninterpretable"), None)
        poor = sum(q == "poor" for q in rated) / len(rated)
        if poor >= POOR_SHARE:
            where = "in every second with heart data" if poor == 1 else f"in {_pct(poor)} of the seconds with heart data"
            cause = irregular.split(": ", 1)[1] if irregular else "many corrected beats, gaps in the beats or an irregular rhythm"
            yield SessionWarning(who, "hrv_not_interpretable",
                                 f"heart-rate variability not interpretable: quality is poor {where} ({cause}); RMSSD, "
                                 "HRV indices and arousal from them should not be read")
        elif irregular:
            yield SessionWarning(who, "hrv_not_interpretable", irregular)


def heart_rate_device_only(f: SessionFacts) -> Iterable[SessionWarning]:
    """Heart rate only from the device's own HR (no beats, no HRV) on a large share of the seconds
    (:func:`.autonomic.person_hrv_warnings`; missing heart rate is left to the gap rules)."""
    from .autonomic import person_hrv_warnings

    for who, rows in f.rows.items():
        for w in person_hrv_warnings(rows, f.window_s):
            if w.code == "heart_rate_device_only":
                yield SessionWarning(who, w.code, w.text)


def vagal_unreliable(f: SessionFacts) -> Iterable[SessionWarning]:
    """Vagal (HRV) estimates confounded by speech or breathing outside 9-24 /min most of the time
    (seconds of poor quality, never vagal-reliable, are :func:`hrv_not_interpretable`'s)."""
    for who, rows in f.rows.items():
        flags = [r.get("vagal_reliable") for r in rows
                 if _has_heart(r) and r.get("vagal_reliable") is not None and r.get("quality") != "poor"]
        if flags:
            bad = sum(not bool(v) for v in flags) / len(flags)
            if bad >= VAGAL_UNRELIABLE_SHARE:
                yield SessionWarning(who, "vagal_unreliable",
                                     f"vagal (HRV) estimates unreliable in {_pct(bad)} of the seconds (speaking, or "
                                     "breathing outside 9-24 /min; Laborde et al. 2017)")


def baseline_incomplete(f: SessionFacts) -> Iterable[SessionWarning]:
    """The heart data end before the baseline segment does: no baseline at all.

    (A baseline that was frozen but holds too little or too poor data is
    :func:`baseline_not_trusted`'s, from the tolerance estimator's verdict: one fact, one warning.)
    """
    b0, b1 = f.baseline
    for who, rows in f.rows.items():
        if not rows or not any(_has_heart(r) for r in rows):
            continue  # no_heart_data says it
        if who in f.baseline_origin:
            continue  # taken from a whole recording; the tolerance estimator's verdict says if it is weak
        end = max(float(r["t_s"]) for r in rows if _has_heart(r))
        if end < b1:
            yield SessionWarning(who, "baseline_too_short",
                                 f"baseline too short: the heart data end at {end / 60:.1f} min, before the "
                                 f"baseline segment ({b0 / 60:.1f}-{b1 / 60:.1f} min) is complete; arousal and zones "
                                 "stay empty/unknown")


def zone_mostly_unknown(f: SessionFacts) -> Iterable[SessionWarning]:
    """After the baseline, the zone is unknown most of the time (missing or poor data)."""
    for who, rows in f.rows.items():
        after = [r for r in rows if float(r["t_s"]) > f.baseline_end(who)]
        if not after or not any(_has_heart(r) for r in rows):
            continue
        unknown = sum((r.get("zone") or "unknown") == "unknown" for r in after) / len(after)
        if unknown >= UNKNOWN_SHARE:
            yield SessionWarning(who, "zone_mostly_unknown",
                                 f"window of tolerance unknown for {_pct(unknown)} of the time after the baseline "
                                 "(data missing or of poor quality)")


def signal_gaps(f: SessionFacts) -> Iterable[SessionWarning]:
    """Streams that lost more than :data:`GAP_SHARE` of the session to gaps (never interpolated)."""
    if f.duration_s <= 0:
        return
    lost: dict[str, list[float]] = {}
    for g in f.gaps:
        lost.setdefault(str(g["stream"]), []).append(max(0.0, float(g["t_end"]) - float(g["t_start"])))
    for stream, spans in sorted(lost.items()):
        share = sum(spans) / f.duration_s
        if share > GAP_SHARE:
            who, _, kind = stream.partition("/")
            yield SessionWarning(who, "signal_gaps",
                                 f"{kind or stream} signal missing for {sum(spans) / 60:.1f} min ({_pct(share)} of the "
                                 f"session) in {len(spans)} gap(s); features are empty there, never interpolated")


def session_interrupted(f: SessionFacts) -> Iterable[SessionWarning]:
    """A session whose recording process died: what follows its end is missing."""
    if f.status == "interrupted":
        yield SessionWarning("session", "interrupted",
                             f"the recording was interrupted at {f.duration_s / 60:.1f} min; later data is missing")


def synchrony_not_computable(f: SessionFacts) -> Iterable[SessionWarning]:
    """Two or more people but not a single synchrony window."""
    if len(f.rows) >= 2 and not any(finite_or_none(r.get("sync_effect")) is not None for r in f.dyad):
        yield SessionWarning("dyad", "no_synchrony",
                             "synchrony not computable: no signal was present for both people long enough (30-s "
                             "windows with at least 75% valid pairs)")


def baseline_not_trusted(f: SessionFacts) -> Iterable[SessionWarning]:
    """The window-of-tolerance estimator judged a person's baseline short, sparse or disturbed
    (its ``baseline`` event, :mod:`coregulate.models.tolerance`): arousal and zones rest on it."""
    for e in f.events:
        if e.get("kind") == "baseline" and (e.get("evidence") or {}).get("trusted") is False:
            yield SessionWarning(e.get("participant") or "session", "baseline_not_trusted",
                                 f"{e.get('label')}; arousal and zones are measured against this baseline")


def exertion_heart_left_out(f: SessionFacts) -> Iterable[SessionWarning]:
    """How long the exertion gate of the window of tolerance (:mod:`coregulate.models.tolerance`,
    "Exertion is not threat") left a person's heart out of arousal, from its ``exertion`` events:
    seconds, share of the seconds with heart data, and what arousal rested on meanwhile."""
    spans: dict[str, list[Mapping[str, Any]]] = {}
    for e in f.events:
        if e.get("kind") == "exertion" and (e.get("evidence") or {}).get("heart_seconds"):
            spans.setdefault(e.get("participant") or "session", []).append(e["evidence"])
    for who, evs in spans.items():
        total = {k: sum(int(ev.get(k) or 0) for ev in evs)
                 for k in ("heart_seconds", "skin_only_seconds", "empty_seconds", "baseline_seconds")}
        heart = sum(1 for r in f.rows.get(who, ()) if r.get("quality") in ("good", "fair"))
        share = f" ({_pct(total['heart_seconds'] / heart)} of the seconds with heart data)" if heart else ""
        parts = []
        if total["skin_only_seconds"]:
            parts.append(f"arousal from skin conductance alone in {total['skin_only_seconds']} s")
        if total["empty_seconds"]:
            parts.append(f"arousal empty (zone unknown) in {total['empty_seconds']} s")
        if total["baseline_seconds"]:
            parts.append(f"{total['baseline_seconds']} s in the baseline segment, kept out of the heart's baseline")
        yield SessionWarning(who, "exertion_heart_left_out",
                             f"exertion (accelerometer): heart left out of arousal in {total['heart_seconds']} s"
                             f"{share} in {len(evs)} stretch(es): " + ", ".join(parts))


def estimator_warnings(f: SessionFacts) -> Iterable[SessionWarning]:
    """Events of kind ``warning`` raised by an estimator; their label is the text."""
    for e in f.events:
        if e.get("kind") == "warning":
            yield SessionWarning(e.get("participant") or "session", str(e.get("rule") or "warning"),
                                 str(e.get("label") or e.get("rule") or "warning"))


#: Every rule, in the order the report lists their warnings. Add a rule here (one line).
WARNING_RULES: list[WarningRule] = [
    session_interrupted,
    no_heart_data,
    hrv_not_interpretable,
    heart_rate_device_only,
    baseline_incomplete,
    baseline_not_trusted,
    zone_mostly_unknown,
    vagal_unreliable,
    exertion_heart_left_out,
    signal_gaps,
    synchrony_not_computable,
    estimator_warnings,
]


def session_warnings(facts: SessionFacts, rules: Sequence[WarningRule] | None = None) -> list[SessionWarning]:
    """Every warning of every rule (default :data:`WARNING_RULES`), in rule order."""
    return [w for rule in (WARNING_RULES if rules is None else rules) for w in rule(facts)]
