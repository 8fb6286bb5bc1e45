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
    # (a window under half covered has no beat-based hr_bpm at all: models/heart.py min_coverage)
    ({"beats_poor": 4}, "fair"),  # ECG beats whose waveform does not match the template
    ({"beats_poor": 10}, "poor"),
    ({"beats_in_window": 55}, "fair"),
    ({"hr_bpm": None, "beats_in_window": 0}, "none"),
    ({"rmssd_ms": 300.0}, "poor"),  # trigeminy-like irregularity, whatever was corrected
])
def test_quality(kw, expected):
    out, _ = AutonomicEstimator("client", PipelineConfig()).update(_row(**kw))
    assert out["quality"] == expected


@pytest.mark.parametrize("kw", [
    {"beats_corrected": 10},  # poor: many corrected beats
    {"rmssd_ms": 300.0, "sd1_ms": 212.0},  # irregular rhythm
    {"beats_poor": 12},  # poor: many ECG beats with a poor waveform
])
def test_vagal_reliable_never_with_poor_quality_or_irregular_rhythm(kw):
    out, _ = AutonomicEstimator("client", PipelineConfig()).update(_row(**kw))
    assert out["quality"] == "poor" and out["vagal_reliable"] is False


def test_device_hr_seconds_are_fair_at_best():
    row = _row(rmssd_ms=None, sd1_ms=None, sd2_ms=None, stress_index=None, heart_source="device_hr",
               beats_in_window=20, beats_corrected=0)
    out, _ = AutonomicEstimator("client", PipelineConfig()).update(row)
    assert out["quality"] == "fair" and out["vagal_reliable"] is None


def test_heart_coverage_column_decides_coverage():
    est = AutonomicEstimator("client", PipelineConfig())
    assert est.update(_row(heart_coverage=0.95))[0]["quality"] == "good"
    assert est.update(_row(heart_coverage=0.7))[0]["quality"] == "fair"


def test_hrv_warnings_name_the_reason_per_person():
    from coregulate.models.autonomic import hrv_warnings

    rows = []
    for t in range(1, 301):
        irregular = t % 5 < 2  # 40 % of windows
        rows.append(_row(t_s=t, participant="client", rmssd_ms=300.0 if irregular else 42.0))
        rows.append(_row(t_s=t, participant="therapist"))
        dev = t > 140
        rows.append(_row(t_s=t, participant="wrist", hr_bpm=70.0 if t % 10 else None,
                         rmssd_ms=None if dev else 40.0, heart_source="device_hr" if dev else "ppg"))
    # CSV rows carry strings and empty cells
    as_csv = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
    for given in (rows, as_csv):
        w = hrv_warnings(given, window_s=60.0)
        assert w["therapist"] == []
        assert [x.code for x in w["client"]] == ["hrv_uninterpretable"]
        assert w["client"][0].text.startswith("HRV uninterpretable: irregular rhythm")
        assert "on 40 % of windows" in w["client"][0].text
        assert [(x.code, x.text) for x in w["wrist"]] == [
            ("heart_rate_device_only", "heart rate from the device's own HR on 67 % of seconds (no HRV there)")]
