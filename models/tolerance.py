"""Arousal relative to the person's own baseline and the window of tolerance (zone).

``arousal`` is the mean of robust z-scores against the person's own baseline segment
(``config.baseline_segment``, default the first 300 s), signed so that positive means towards
sympathetic activation / threat:

=================  ====  ===============================================================
column             sign  why
=================  ====  ===============================================================
hr_bpm             +     HR rises with sympathetic activation and vagal withdrawal
ln_rmssd           -     vagal withdrawal under threat (Thayer & Lane 2000; Laborde 2017)
eda_scl_us         +     skin conductance is sympathetic only (Boucsein 2012)
scr_per_min        +     non-specific SCR rate, idem
=================  ====  ===============================================================

The stress index is deliberately *not* a component: its MxDMn term (RR range) widens whenever HR
changes inside the window, so SI falls at the very onset of an activation (non-stationarity);
it stays in ``sns_index``.

z = (x - median_baseline) / max(1.4826 * MAD_baseline, floor): median/MAD are robust to the
odd artefact in a short baseline (Leys et al. 2013, J Exp Soc Psychol 49:764); the floors stop
a very steady baseline from turning tiny changes into large z. Heart components are left out
when ``quality`` is poor.

Zones ("window of tolerance", Siegel 1999; Corrigan, Fisher & Nutt 2011) on ``arousal``:
``hyper`` once arousal stays above ``hyper_enter`` for ``sustain_s`` (30 s), left after it
stays below ``hyper_exit`` for ``exit_sustain_s`` (hysteresis). ``hypo`` likewise below
``-hypo_enter``, but only when corroborated by another channel -- flat, quiet voice or long
pauses, low movement or low skin conductance relative to baseline -- because low HR with high
HRV looks the same in calm rest and in freeze/shutdown; otherwise ``hypo_candidate``.
``unknown`` until the baseline is complete and whenever arousal cannot be computed or quality
is too low. Every change is an :class:`Event` with the numbers that fired it. These are
candidates for a human to review, not clinical judgements.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any, Mapping

from .base import Event, RowEstimator, finite_or_none
from .config import PipelineConfig

#: column -> (sign, scale floor)
COMPONENTS: dict[str, tuple[int, float]] = {
    "hr_bpm": (+1, 2.0),
    "ln_rmssd": (-1, 0.10),
    "eda_scl_us": (+1, 0.10),
    "scr_per_min": (+1, 0.5),
}
HEART = ("hr_bpm", "ln_rmssd")
#: corroborating channels for hypoarousal: column -> (direction that means "low", scale floor)
CORROBORATION: dict[str, tuple[int, float]] = {
    "vocal_arousal": (-1, 0.2),
    "loudness_db": (-1, 2.0),
    "f0_range_st": (-1, 0.3),
    "pause_ratio": (+1, 0.05),
    "movement": (-1, 1.0),
    "eda_scl_us": (-1, 0.10),
}
_GROUP = {"vocal_arousal": "voice", "loudness_db": "voice", "f0_range_st": "voice", "pause_ratio": "voice",
          "movement": "movement", "eda_scl_us": "skin conductance"}


@dataclass
class ToleranceOptions:
    """Options of the ``tolerance`` family."""

    hyper_enter: float = 2.0  # arousal (baseline z units) above which hyper may start
    hyper_exit: float = 1.0
    hypo_enter: float = 2.0  # hypo below -hypo_enter
    hypo_exit: float = 1.0
    sustain_s: float = 30.0  # seconds beyond the bound before a zone is called
    exit_sustain_s: float = 15.0
    unknown_after_s: float = 5.0  # debounce before quality loss makes the zone unknown
    min_baseline_values: int = 30  # baseline seconds needed per component
    corroboration_z: float = 1.0  # a channel corroborates hypo when this far on the low side
    corroboration_s: float = 30.0  # ... averaged over this many seconds

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "ToleranceOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.family("tolerance").items() if k in names})


def robust_stats(values: list[float], floor: float) -> tuple[float, float]:
    """Median and max(1.4826 * MAD, floor) (Leys et al. 2013)."""
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    dev = sorted(abs(x - med) for x in v)
    mad = dev[n // 2] if n % 2 else 0.5 * (dev[n // 2 - 1] + dev[n // 2])
    return med, max(1.4826 * mad, floor)


class ToleranceEstimator(RowEstimator):
    """Adds ``arousal`` and ``zone``; emits zone-change events."""

    def __init__(self, participant: str, config: PipelineConfig) -> None:
        self.participant = participant
        self.o = ToleranceOptions.from_config(config)
        self.b0, self.b1 = config.baseline_segment
        self.samples: dict[str, list[float]] = {k: [] for k in set(COMPONENTS) | set(CORROBORATION)}
        self.stats: dict[str, tuple[float, float]] | None = None
        self.cstats: dict[str, tuple[float, float]] = {}
        self.zone = "unknown"
        self.above = self.below = self.inside_hi = self.inside_lo = self.bad = 0
        self.recent: dict[str, deque] = {k: deque() for k in CORROBORATION}
        self.corr_run = 0

    def update(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        t = int(row["t_s"])
        if self.stats is None:
            if self.b0 < t <= self.b1:
                for k in self.samples:
                    v = finite_or_none(row.get(k))
                    if v is not None and not (k in HEART and row.get("quality") in ("none", "poor")):
                        self.samples[k].append(v)
            if t >= self.b1:
                self._freeze()
            if self.stats is None:
                return {"arousal": None, "zone": "unknown"}, []
        arousal, zs = self._arousal(row)
        low = self._corroboration(t, row)
        new = self._next_zone(arousal, row, low)
        events = []
        if new != self.zone:
            events.append(self._event(t, self.zone, new, arousal, zs, low, row))
            self.zone = new
        return {"arousal": arousal, "zone": self.zone}, events

    # ------------------------------------------------------------------ baseline
    def _freeze(self) -> None:
        n = self.o.min_baseline_values
        self.stats = {k: robust_stats(v, COMPONENTS[k][1]) for k, v in self.samples.items() if k in COMPONENTS and len(v) >= n}
        self.cstats = {k: robust_stats(v, CORROBORATION[k][1]) for k, v in self.samples.items() if k in CORROBORATION and len(v) >= n}
        self.samples = {}

    def _arousal(self, row: Mapping[str, Any]) -> tuple[float | None, dict[str, float]]:
        assert self.stats is not None
        poor_heart = row.get("quality") in ("none", "poor")
        zs: dict[str, float] = {}
        for k, (med, scale) in self.stats.items():
            if k in HEART and poor_heart:
                continue
            v = finite_or_none(row.get(k))
            if v is not None:
                zs[k] = COMPONENTS[k][0] * (v - med) / scale
        if not zs:
            return None, zs
        return sum(zs.values()) / len(zs), zs

    # ---------------------------------------------------------------- hypo check
    def _corroboration(self, t: int, row: Mapping[str, Any]) -> dict[str, float]:
        """Channels whose recent mean is on the 'low arousal' side of their baseline."""
        low: dict[str, float] = {}
        for k, (direction, _) in CORROBORATION.items():
            dq = self.recent[k]
            v = finite_or_none(row.get(k))
            if v is not None:
                dq.append((t, v))
            while dq and dq[0][0] <= t - self.o.corroboration_s:
                dq.popleft()
            if k in self.cstats and len(dq) >= self.o.corroboration_s / 3:
                med, scale = self.cstats[k]
                z = direction * (sum(x for _, x in dq) / len(dq) - med) / scale
                if z >= self.o.corroboration_z:
                    low[k] = round(z, 2)
        return low

    # --------------------------------------------------------------- zone logic
    def _next_zone(self, a: float | None, row: Mapping[str, Any], low: dict[str, float]) -> str:
        o = self.o
        unusable = a is None or (row.get("quality") in ("none", "poor") and not any(
            finite_or_none(row.get(k)) is not None for k in ("eda_scl_us", "scr_per_min")))
        if unusable:
            self.bad += 1
            if self.zone == "unknown" or self.bad >= o.unknown_after_s:
                self.above = self.below = self.inside_hi = self.inside_lo = 0
                return "unknown"
            return self.zone
        self.bad = 0
        self.above = self.above + 1 if a > o.hyper_enter else 0
        self.below = self.below + 1 if a < -o.hypo_enter else 0
        self.inside_hi = self.inside_hi + 1 if a < o.hyper_exit else 0
        self.inside_lo = self.inside_lo + 1 if a > -o.hypo_exit else 0
        self.corr_run = self.corr_run + 1 if low else 0
        z = self.zone
        if z == "unknown":
            z = "window"
        if z in ("window",) and self.above >= o.sustain_s:
            return "hyper"
        if z == "window" and self.below >= o.sustain_s:
            return "hypo" if low else "hypo_candidate"
        if z == "hyper" and self.inside_hi >= o.exit_sustain_s:
            return "window"
        if z in ("hypo", "hypo_candidate"):
            if self.inside_lo >= o.exit_sustain_s:
                return "window"
            if z == "hypo_candidate" and self.corr_run >= 10:
                return "hypo"
            if z == "hypo" and not low:
                return "hypo_candidate"
        return z

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
            "quality": row.get("quality"),
            "vagal_reliable": row.get("vagal_reliable"),
            "hr_bpm": finite_or_none(row.get("hr_bpm")),
            "rmssd_ms": finite_or_none(row.get("rmssd_ms")),
            "baseline": {k: [round(m, 3), round(s, 3)] for k, (m, s) in (self.stats or {}).items()},
        }
        if new.startswith("hypo"):
            evidence["corroboration_z"] = low
        return Event(kind=kind, t_start=float(t), participant=self.participant, rule=rules[new],
                     evidence=evidence, label=f"{old} -> {new}")
