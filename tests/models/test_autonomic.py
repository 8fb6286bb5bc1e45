import pytest

from coregulate.models.autonomic import NORMS, AutonomicEstimator
from coregulate.models.config import PipelineConfig


def _row(**kw):
    base = dict(t_s=100, hr_bpm=60000 / 926, rmssd_ms=42.0, sd1_ms=29.7, sd2_ms=64.2, stress_index=10.0,
                beats_in_window=65, beats_corrected=0, breathing_rpm=12.0, speaking=None)
    base.update(kw)
    return base


def test_population_average_gives_zero_indices():
    out, ev = AutonomicEstimator("client", PipelineConfig()).update(_row())
    assert out["pns_index"] == pytest.approx(0, abs=1e-3) and out["sns_index"] == pytest.approx(0, abs=1e-3)
    assert out["vagal_reliable"] is True and out["quality"] == "good" and ev == []


def test_directions():
    est = AutonomicEstimator("client", PipelineConfig())
    stressed, _ = est.update(_row(hr_bpm=95, rmssd_ms=12, sd1_ms=8.5, sd2_ms=30, stress_index=20, beats_in_window=95))
    relaxed, _ = est.update(_row(hr_bpm=58, rmssd_ms=70, sd1_ms=50, sd2_ms=90, stress_index=6, beats_in_window=58))
    assert stressed["sns_index"] > 2 > 0 > stressed["pns_index"]
    assert relaxed["pns_index"] > 1 and relaxed["sns_index"] < 0
    m, s = NORMS["rmssd_ms"]
    assert (m, s) == (42.0, 15.0)  # Nunan et al. 2010


@pytest.mark.parametrize("kw,expected", [
    ({"speaking": True}, False),
    ({"breathing_rpm": 6.0}, False),
    ({"breathing_rpm": 30.0}, False),
    ({"breathing_rpm": None}, True),
    ({"rmssd_ms": None}, None),
])
def test_vagal_reliability(kw, expected):
    out, _ = AutonomicEstimator("client", PipelineConfig()).update(_row(**kw))
    assert out["vagal_reliable"] is expected


@pytest.mark.parametrize("kw,expected", [
    ({}, "good"),
    ({"beats_corrected": 4}, "fair"),
    ({"beats_corrected": 10}, "poor"),
    ({"beats_in_window": 25}, "poor"),  # a gap left a third of the window
    ({"beats_in_window": 55}, "fair"),
    ({"hr_bpm": None, "beats_in_window": 0}, "none"),
    ({"rmssd_ms": 300.0}, "poor"),  # trigeminy-like irregularity, whatever was corrected
])
def test_quality(kw, expected):
    out, _ = AutonomicEstimator("client", PipelineConfig()).update(_row(**kw))
    assert out["quality"] == expected
