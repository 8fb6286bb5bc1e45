"""Kubios-like parasympathetic (PNS) and sympathetic (SNS) indices, reliability flag, quality.

Kubios HRV (Tarvainen et al. 2014; Kubios HRV user's guide, "PNS and SNS indexes") reports a
PNS index from mean RR, RMSSD and SD1 and an SNS index from mean HR, Baevsky's stress index
and SD2, each compared with normal population values. Kubios does not publish its weights or
its exact normative table, so this module is **Kubios-like, not Kubios**: every index is the
plain mean of z-scores against the published norms below, with equal weights.

Normative values (short-term, 5-min, healthy adults, supine/seated rest):

=================  ======  =====  ====================================================
feature            mean    SD     source
=================  ======  =====  ====================================================
mean RR (ms)       926     90     Nunan, Sandercock & Brodie (2010), PACE 33:1407, Table
RMSSD (ms)         42      15     Nunan et al. (2010)
SDNN (ms)          50      16     Nunan et al. (2010) (used to derive SD2)
SD1 (ms)           29.7    10.6   derived: SD1 = RMSSD / sqrt(2) (Brennan et al. 2001)
mean HR (bpm)      64.8    6.3    derived: 60000 / 926; SD by the delta method 60000*90/926²
SD2 (ms)           64.2    24.9   derived: SD2² = 2 SDNN² - SD1² (Brennan et al. 2001);
                                  SD by the delta method from SDNN's SD (covariance ignored)
sqrt stress index  10.0    2.6    derived: Baevsky & Chernikova (2017) give SI 50-150 as the
                                  normal range; read as mean 100 +- 1 SD of 50, in sqrt units
=================  ======  =====  ====================================================

``pns_index = mean(z(meanRR), z(RMSSD), z(SD1))``;
``sns_index = mean(z(meanHR), z(sqrt SI), -z(SD2))`` (lower SD2 = more sympathetic, as in
Kubios). Population norms place a person relative to healthy adults, which is *not* the
within-person change used for the window of tolerance (see :mod:`.tolerance`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from .base import Event, RowEstimator, finite_or_none
from .config import PipelineConfig

NORMS: dict[str, tuple[float, float]] = {
    "mean_rr_ms": (926.0, 90.0),
    "rmssd_ms": (42.0, 15.0),
    "sd1_ms": (29.7, 10.6),
    "hr_bpm": (64.8, 6.3),
    "sd2_ms": (64.2, 24.9),
    "stress_index": (10.0, 2.6),
}


@dataclass
class AutonomicOptions:
    """Options of the ``autonomic`` family."""

    breathing_min_rpm: float = 9.0  # vagal indices track RSA only for breathing in 9-24 /min
    breathing_max_rpm: float = 24.0  # (Laborde, Mosley & Thayer 2017, Front Psychol 8:213)
    poor_corrected_share: float = 0.15  # share of corrected beats in the window above which: poor
    fair_corrected_share: float = 0.05  # ... fair (Kubios user guide: > 5 % corrected makes results questionable)
    #: RMSSD / mean RR above this: the rhythm itself is irregular (frequent ectopy, atrial
    #: fibrillation; Dash et al. 2009, Ann Biomed Eng 37:1701 use normalised RMSSD for AF), and
    #: Lipponen-Tarvainen's adaptive threshold stops flagging ectopics once they are common.
    #: Sinus arrhythmia at rest stays well below 0.2. HRV indices are then not interpretable.
    poor_cvsd: float = 0.25
    poor_coverage: float = 0.5  # beats_in_window / beats expected from mean HR
    fair_coverage: float = 0.9

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "AutonomicOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.family("autonomic").items() if k in names})


def _z(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    m, s = NORMS[name]
    return (value - m) / s


def _mean(zs: list[float | None]) -> float | None:
    vals = [z for z in zs if z is not None]
    return sum(vals) / len(vals) if len(vals) == len(zs) else None


def quality_of(row: Mapping[str, Any], window_s: float, o: AutonomicOptions) -> str:
    """'none' (no heart data), 'poor', 'fair' or 'good' from the share of corrected beats, the
    share of the window covered by beats (gaps and dropouts lower it) and rhythm irregularity."""
    hr = finite_or_none(row.get("hr_bpm"))
    n = finite_or_none(row.get("beats_in_window"))
    if hr is None:
        return "none"
    if n is None or n <= 0:  # heart rate only (HR stream): no beat-level check possible
        return "fair"
    share = (finite_or_none(row.get("beats_corrected")) or 0.0) / n
    coverage = n / (window_s * hr / 60.0)
    rmssd = finite_or_none(row.get("rmssd_ms"))
    irregular = rmssd is not None and rmssd * hr / 60000.0 > o.poor_cvsd
    if share > o.poor_corrected_share or coverage < o.poor_coverage or irregular:
        return "poor"
    if share > o.fair_corrected_share or coverage < o.fair_coverage or row.get("rmssd_ms") is None:
        return "fair"
    return "good"


class AutonomicEstimator(RowEstimator):
    """Adds ``pns_index``, ``sns_index``, ``vagal_reliable`` and ``quality`` to each row."""

    def __init__(self, participant: str, config: PipelineConfig) -> None:
        self.participant = participant
        self.window_s = float(config.window_s)
        self.o = AutonomicOptions.from_config(config)

    def update(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        g = {k: finite_or_none(row.get(k)) for k in ("hr_bpm", "rmssd_ms", "sd1_ms", "sd2_ms", "stress_index")}
        mean_rr = 60000.0 / g["hr_bpm"] if g["hr_bpm"] else None
        pns = _mean([_z("mean_rr_ms", mean_rr), _z("rmssd_ms", g["rmssd_ms"]), _z("sd1_ms", g["sd1_ms"])])
        z_sd2 = _z("sd2_ms", g["sd2_ms"])
        sns = _mean([_z("hr_bpm", g["hr_bpm"]), _z("stress_index", g["stress_index"]), None if z_sd2 is None else -z_sd2])
        quality = quality_of(row, self.window_s, self.o)
        return {
            "pns_index": pns,
            "sns_index": sns,
            "vagal_reliable": self._vagal_reliable(row, g["rmssd_ms"]),
            "quality": quality,
        }, []

    def _vagal_reliable(self, row: Mapping[str, Any], rmssd: float | None) -> bool | None:
        """False while speaking or breathing outside 9-24 /min: RMSSD/HF then reflect speech and
        breathing mechanics as much as vagal tone (Bernardi et al. 2000, Psychophysiology 37;
        Laborde et al. 2017). None when there is no vagal index to qualify."""
        if rmssd is None:
            return None
        speaking = finite_or_none(row.get("speaking"))  # bool or 0/1 from the voice estimator
        if speaking:
            return False
        br = finite_or_none(row.get("breathing_rpm"))
        if br is not None and not (self.o.breathing_min_rpm <= br <= self.o.breathing_max_rpm):
            return False
        return True
