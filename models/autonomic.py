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

Flags never contradict each other: ``vagal_reliable`` is never true when ``quality`` is poor or
the rhythm is irregular (one place decides both: :func:`heart_flags`), and
:func:`hrv_warnings` turns a session's rows into per-person statements (a code and plain text) such as
"HRV uninterpretable: irregular rhythm (...)" for the CLI's closing lines and the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .base import Event, RowEstimator, finite_or_none
from .config import PipelineConfig, family_options

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
    #: heart_coverage below this: at best fair. (No "poor" coverage threshold: below the heart
    #: estimator's ``HeartOptions.min_coverage`` it gives no beat features at all, so such a row
    #: has no beat-based hr_bpm to qualify.)
    fair_coverage: float = 0.9
    #: share of a person's HRV windows with an irregular rhythm from which :func:`hrv_warnings`
    #: calls their HRV uninterpretable
    uninterpretable_share: float = 0.25
    #: share of seconds without hr_bpm (or on the device's HR only) from which a warning is given
    missing_share: float = 0.2

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "AutonomicOptions":
        """The ``autonomic`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "autonomic", cls)


def _z(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    m, s = NORMS[name]
    return (value - m) / s


def _mean(zs: list[float | None]) -> float | None:
    vals = [z for z in zs if z is not None]
    return sum(vals) / len(vals) if len(vals) == len(zs) else None


@dataclass(frozen=True)
class HeartFlags:
    """What one row says about the reliability of its heart features (see :func:`heart_flags`)."""

    has_hr: bool
    device_hr: bool  # hr_bpm is the device's own HR: no beat-level check possible
    corrected_share: float | None  # beats_corrected / beats_in_window
    poor_share: float | None  # beats_poor / beats_in_window (poor waveform: template correlation)
    coverage: float | None  # share of the window covered by beats
    irregular: bool  # normalised RMSSD above poor_cvsd, or too many corrected (ectopic) beats


def heart_flags(row: Mapping[str, Any], window_s: float, o: AutonomicOptions) -> HeartFlags:
    """The facts :func:`quality_of`, ``vagal_reliable`` and :func:`hrv_warnings` share.

    ``irregular``: RMSSD / mean RR above ``poor_cvsd`` (Dash et al. 2009) or more than
    ``poor_corrected_share`` of the window's beats corrected (Lipponen & Tarvainen 2019 count
    ectopic beats among them; Kubios: > 5 % corrected makes results questionable).
    """
    hr = finite_or_none(row.get("hr_bpm"))
    n = finite_or_none(row.get("beats_in_window"))
    device = row.get("heart_source") == "device_hr"
    if hr is None or device or n is None or n <= 0:
        return HeartFlags(hr is not None, hr is not None, None, None, None, False)
    share = (finite_or_none(row.get("beats_corrected")) or 0.0) / n
    poor = (finite_or_none(row.get("beats_poor")) or 0.0) / n
    coverage = finite_or_none(row.get("heart_coverage"))
    if coverage is None:  # rows without the column (older sessions): beats present vs expected
        coverage = n / (window_s * hr / 60.0)
    rmssd = finite_or_none(row.get("rmssd_ms"))
    irregular = (rmssd is not None and rmssd * hr / 60000.0 > o.poor_cvsd) or share > o.poor_corrected_share
    return HeartFlags(True, False, share, poor, coverage, irregular)


def quality_of(row: Mapping[str, Any], window_s: float, o: AutonomicOptions) -> str:
    """'none' (no heart data), 'poor', 'fair' or 'good' from the share of corrected beats, the
    share of beats with a poor waveform (``beats_poor``: same thresholds as corrected beats), the
    share of the window covered by beats (gaps, dropouts, PPG beats dropped for a poor waveform
    or strong motion lower it) and rhythm irregularity.
    Seconds whose ``hr_bpm`` is the device's own HR are 'fair' at best (no beat-level check)."""
    f = heart_flags(row, window_s, o)
    if not f.has_hr:
        return "none"
    if f.device_hr:
        return "fair"
    assert f.corrected_share is not None and f.coverage is not None and f.poor_share is not None
    if f.irregular or f.poor_share > o.poor_corrected_share:
        return "poor"
    if (f.corrected_share > o.fair_corrected_share or f.poor_share > o.fair_corrected_share
            or f.coverage < o.fair_coverage or row.get("rmssd_ms") is None):
        return "fair"
    return "good"


@dataclass(frozen=True)
class HeartWarning:
    """One plain statement about a person's heart data: a stable ``code`` to match on, and ``text``.

    Codes: ``hrv_uninterpretable``, ``heart_rate_missing``, ``heart_rate_device_only``.
    """

    code: str
    text: str


def hrv_warnings(rows: Iterable[Mapping[str, Any]], window_s: float = 60.0,
                 options: AutonomicOptions | None = None) -> dict[str, list[HeartWarning]]:
    """Plain statements about each person's heart data, for a session's closing summary and report.

    Parameters
    ----------
    rows : iterable of mapping
        Feature rows (``features.csv`` rows or the pipeline's dicts; numbers may be strings, empty
        cells ``""`` or ``None``); needs ``participant``, ``t_s``, ``hr_bpm``, ``rmssd_ms``,
        ``beats_in_window``, ``beats_corrected`` and, when present, ``heart_source`` and
        ``heart_coverage``.
    window_s : float
        The session's HRV window (``PipelineConfig.window_s``); the first window of seconds is not
        counted as missing (it is warm-up, not loss).
    options : AutonomicOptions, optional
        Thresholds (defaults as in the pipeline).

    Returns
    -------
    dict
        ``{participant: [HeartWarning, ...]}`` with an entry for every participant (an empty list
        when nothing is wrong). Warnings (code: text), each given when its share reaches the threshold:

        - ``hrv_uninterpretable``: "HRV uninterpretable: irregular rhythm (...on N % of windows)":
          the windows with HRV indices that are irregular (:func:`heart_flags`) reach
          ``uninterpretable_share``;
        - ``heart_rate_missing``: "heart rate missing on N % of seconds" (after the first window)
          reaching ``missing_share``;
        - ``heart_rate_device_only``: "heart rate from the device's own HR on N % of seconds (no HRV
          there)", same threshold.
    """
    by_person: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_person.setdefault(str(r.get("participant")), []).append(r)
    return {who: person_hrv_warnings(rs, window_s, options) for who, rs in by_person.items()}


def person_hrv_warnings(rows: Iterable[Mapping[str, Any]], window_s: float = 60.0,
                        options: AutonomicOptions | None = None) -> list[HeartWarning]:
    """:func:`hrv_warnings` for the rows of one person (no ``participant`` needed)."""
    o = options or AutonomicOptions()
    warn: list[HeartWarning] = []
    counted = [r for r in rows if (finite_or_none(r.get("t_s")) or 0.0) > window_s]
    hrv = [r for r in counted if finite_or_none(r.get("rmssd_ms")) is not None]
    irregular = sum(heart_flags(r, window_s, o).irregular for r in hrv)
    if hrv and irregular / len(hrv) >= o.uninterpretable_share:
        warn.append(HeartWarning(
            "hrv_uninterpretable",
            f"HRV uninterpretable: irregular rhythm (ectopic or corrected beats above "
            f"{100 * o.poor_corrected_share:.0f} % or RMSSD above {100 * o.poor_cvsd:.0f} % of mean RR "
            f"on {100 * irregular / len(hrv):.0f} % of windows)"))
    if counted:
        missing = sum(finite_or_none(r.get("hr_bpm")) is None for r in counted) / len(counted)
        device = sum(r.get("heart_source") == "device_hr" for r in counted) / len(counted)
        if missing >= o.missing_share:
            warn.append(HeartWarning("heart_rate_missing", f"heart rate missing on {100 * missing:.0f} % of seconds"))
        if device >= o.missing_share:
            warn.append(HeartWarning("heart_rate_device_only",
                                     f"heart rate from the device's own HR on {100 * device:.0f} % of seconds (no HRV there)"))
    return warn


class AutonomicEstimator(RowEstimator):
    """Adds ``pns_index``, ``sns_index``, ``vagal_reliable`` and ``quality`` to each row."""

    def __init__(self, participant: str, config: PipelineConfig) -> None:
        self.participant = participant
        self.window_s = float(config.window_s)
        self.o = AutonomicOptions.from_config(config)

    def update(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        """Add the autonomic indices to one per-second row.

        Parameters
        ----------
        row : Mapping
            The participant's row of the second (``hr_bpm``, ``rmssd_ms``, ``sd1_ms``, ``sd2_ms``,
            ``stress_index``, quality columns).

        Returns
        -------
        columns : dict
            ``pns_index``, ``sns_index`` (means of z-scores against population norms, module docstring),
            ``vagal_reliable`` and ``quality``.
        events : list of Event
            Always empty: the indices raise no events of their own.
        """
        g = {k: finite_or_none(row.get(k)) for k in ("hr_bpm", "rmssd_ms", "sd1_ms", "sd2_ms", "stress_index")}
        mean_rr = 60000.0 / g["hr_bpm"] if g["hr_bpm"] else None
        pns = _mean([_z("mean_rr_ms", mean_rr), _z("rmssd_ms", g["rmssd_ms"]), _z("sd1_ms", g["sd1_ms"])])
        z_sd2 = _z("sd2_ms", g["sd2_ms"])
        sns = _mean([_z("hr_bpm", g["hr_bpm"]), _z("stress_index", g["stress_index"]), None if z_sd2 is None else -z_sd2])
        quality = quality_of(row, self.window_s, self.o)
        return {
            "pns_index": pns,
            "sns_index": sns,
            "vagal_reliable": self._vagal_reliable(row, g["rmssd_ms"], quality),
            "quality": quality,
        }, []

    def _vagal_reliable(self, row: Mapping[str, Any], rmssd: float | None, quality: str) -> bool | None:
        """False while speaking or breathing outside 9-24 /min: RMSSD/HF then reflect speech and
        breathing mechanics as much as vagal tone (Bernardi et al. 2000, Psychophysiology 37;
        Laborde et al. 2017); False when ``quality`` is poor or the rhythm irregular (ectopic
        beats, atrial fibrillation: RMSSD then measures the arrhythmia, not vagal tone).
        None when there is no vagal index to qualify."""
        if rmssd is None:
            return None
        if quality in ("poor", "none") or heart_flags(row, self.window_s, self.o).irregular:
            return False
        speaking = finite_or_none(row.get("speaking"))  # bool or 0/1 from the voice estimator
        if speaking:
            return False
        br = finite_or_none(row.get("breathing_rpm"))
        if br is not None and not (self.o.breathing_min_rpm <= br <= self.o.breathing_max_rpm):
            return False
        return True
