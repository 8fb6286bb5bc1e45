"""Session summary of the dyad rows, in the spirit of SUSY and rMEA.

SUSY (Tschacher & Meier 2020) and rMEA (Kleinbub & Ramseyer 2020) summarise windowed
cross-correlations over a session as the mean of the absolute and of the signed Fisher z, and
report synchrony as an effect against surrogates. :func:`summarize_dyad` does the same over the
rows of ``dyad.csv`` (as dicts), plus the share of time in significant synchrony, who led it, the
time each person spent in their window of tolerance and the counts of candidate events. Pure: no
I/O; used by the session report and the batch study table.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Mapping

from .base import Event, finite_or_none
from .dyad import SIGNALS

EVENT_KINDS = ("co_regulation", "rupture_candidate", "repair_candidate", "therapist_dysregulated")


def _mean(vals: list[float]) -> float | None:
    return sum(vals) / len(vals) if vals else None


def _truthy(v: Any) -> bool | None:
    """CSV-tolerant boolean: True/False, 1/0, "true"/"false"; None/"" = unknown."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    if isinstance(v, float) and math.isnan(v):
        return None
    return bool(v)


def summarize_dyad(rows: Iterable[Mapping[str, Any]],
                   events: Iterable[Event | Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Summary figures of one session's dyad rows.

    Parameters
    ----------
    rows : iterable of mappings
        ``dyad.csv`` rows (dicts with the :data:`~coregulate.models.columns.DYAD_COLUMNS`).
    events : iterable of Event or dict, optional
        The session's events; only the dyad kinds are counted. ``None`` -> counts are ``None``.

    Returns
    -------
    dict
        ``seconds``; per signal ``<s>_mean_abs_z``, ``<s>_mean_z``, ``<s>_windows``, and
        ``<s>_lag_median_s`` (lag sign: + = client leads); ``mean_effect``; ``significant_share``
        (of seconds where significance was computable) and ``<s>_significant_share`` (of the same
        seconds, those in which signal ``<s>`` carried the significant synchrony); ``client_leads_share``,
        ``therapist_leads_share``, ``simultaneous_share`` (of significant seconds);
        ``client_window_share``, ``therapist_window_share`` (of seconds with a known zone);
        ``n_<kind>`` for each dyad event kind. ``None`` wherever nothing was computable.
    """
    rows = list(rows)
    out: dict[str, Any] = {"seconds": len(rows)}
    for s in SIGNALS:
        zs = [z for z in (finite_or_none(r.get(f"sync_{s}_z")) for r in rows) if z is not None]
        lags = [lag for lag in (finite_or_none(r.get(f"sync_{s}_lag_s")) for r in rows) if lag is not None]
        out[f"{s}_windows"] = len(zs)
        out[f"{s}_mean_abs_z"] = _mean([abs(z) for z in zs])
        out[f"{s}_mean_z"] = _mean(zs)
        out[f"{s}_lag_median_s"] = statistics.median(lags) if lags else None
    out["mean_effect"] = _mean([e for e in (finite_or_none(r.get("sync_effect")) for r in rows) if e is not None])
    sig = [(_truthy(r.get("sync_significant")), r.get("leader")) for r in rows]
    known = [(b, leader) for b, leader in sig if b is not None]
    hits = [leader for b, leader in known if b]
    out["significant_share"] = len(hits) / len(known) if known else None
    # sync_significant is a dyad-level test (Bonferroni over the signals); the signal that carried
    # it is sync_signal, so a signal's share is the share of seconds it carried significant synchrony
    carried = [r.get("sync_signal") for r in rows if _truthy(r.get("sync_significant"))]
    for s in SIGNALS:
        out[f"{s}_significant_share"] = sum(c == s for c in carried) / len(known) if known else None
    for who in ("client", "therapist", "simultaneous"):
        key = f"{who}_leads_share" if who != "simultaneous" else "simultaneous_share"
        out[key] = sum(leader == who for leader in hits) / len(hits) if hits else None
    for who in ("client", "therapist"):
        zones = [r.get(f"{who}_zone") for r in rows]
        zk = [z for z in zones if z not in (None, "", "unknown")]
        out[f"{who}_window_share"] = sum(z == "window" for z in zk) / len(zk) if zk else None
    if events is None:
        for k in EVENT_KINDS:
            out[f"n_{k}"] = None
    else:
        kinds = [e.kind if isinstance(e, Event) else e.get("kind") for e in events]
        for k in EVENT_KINDS:
            out[f"n_{k}"] = sum(x == k for x in kinds)
    return out
