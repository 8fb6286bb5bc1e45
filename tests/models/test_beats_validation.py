"""Beat detection against references on real recordings (figures: bench/validate_heart.py).

Each test asserts what the detector reaches today; where that is short of issue #13's target the
target is named in a comment and the shortfall is reported in bench/RESULTS.md, not hidden.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("validate_heart", REPO / "bench" / "validate_heart.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def vh():
    return _bench()


@pytest.mark.realdata
@pytest.mark.parametrize("record, se_min, ppv_min", [("100", 99.8, 99.8), ("105", 99.0, 97.0)])
def test_mitbih_sensitivity_and_ppv(shared_data, vh, record, se_min, ppv_min):
    """Issue #13 targets, met: 100 Se and PPV >= 99.8 %; 105 Se >= 99 %, PPV >= 97 %."""
    m = vh.mitbih(shared_data, record)
    assert m["se"] >= se_min and m["ppv"] >= ppv_min, m


@pytest.mark.realdata
def test_welltory_finger_ppg_mean_hr_and_rmssd(shared_data, vh):
    """The user's path (csv reader, HeartEstimator's fused beats). Targets: mean HR within 2 % of
    the H10 on >= 18 of 21 (20 reached) and aligned RMSSD within 20 % on >= 15 of 21 (11
    reached); this guards what is reached. Before a rejected PPG beat ended its run, the same
    path had HR within 2 % on 7 of 21 (intervals across rejected beats); before a missed pulse
    ended its run (``beat_track.MISSED_PULSE_RATIO``), 17 of 21, and whole-recording RMSSD
    within 20 % on 9."""
    folders = sorted((shared_data / "welltory_phone_ppg_polar_rr" / "data").glob("subject_*"))
    rows = [vh.welltory(f) for f in folders]
    assert len(rows) == 21
    assert sum(r["hr_err"] <= 2 for r in rows) >= 20
    assert sum(r["aligned"] for r in rows) >= 15
    assert sum(bool(r["aligned"] and r["rmssd_a_err"] <= 20) for r in rows) >= 11
    assert sum(r["rmssd_err"] <= 20 for r in rows) >= 11
    assert np.median([r["coverage"] for r in rows]) >= 75
    # well-aligned recordings: the camera's beat timing noise stays at the tens-of-ms scale
    assert np.median([r["iv_sd"] for r in rows if r["aligned"]]) < 20


@pytest.mark.realdata
def test_verity_sense_ppg_intervals_match_device_ppi(shared_data, vh):
    """>= 95 % of compared intervals within 20 ms of the device's PPI (target met)."""
    v = vh.verity(shared_data)
    assert v["ppi_kept"] < v["ppi_rows"]  # the device's flagged intervals were dropped
    assert v["matched"] >= 0.85 * v["ppi_kept"] and v["compared"] >= 300
    assert v["within20"] >= 95.0, v


@pytest.mark.realdata
def test_wearable_ecg_quality_marks_the_unreadable_run(shared_data, vh):
    """Clean wearable recordings are graded good, the run labelled unreadable (gel, artefact
    degree 4) poor; the dry electrode's run reads as the running HR of the README (120-133 bpm).
    The issue's per-second 'within 2 % of gel' cannot be tested: the electrodes were recorded
    one after another, not together."""
    for el in ("01", "02", "03"):
        assert vh.wearable(shared_data, el, "klud")["poor_seconds"] <= 5
    gel, dry = vh.wearable(shared_data, "01", "beh"), vh.wearable(shared_data, "02", "beh")
    assert gel["artefact_degree"] == 4 and gel["poor_seconds"] >= 80
    assert dry["poor_seconds"] <= 5 and 118 <= dry["hr_good"] <= 135


@pytest.mark.realdata
def test_wearable_running_ecg_seconds_off_the_reference_detector_are_marked_poor(shared_data, vh):
    """Dry and textile runs: each second's HR against wfdb's XQRS on the same recording; every
    second more than 2 % off is marked poor, and most seconds agree."""
    for el in ("02", "03"):
        w = vh.wearable(shared_data, el, "beh")
        assert w["compared"] >= 55 and w["off_not_poor"] == 0
        assert w["within2"] >= 0.85 * w["compared"]


@pytest.mark.realdata
def test_polar_verity_files_read(shared_data):
    """The Verity Sense export's four data files open with the polar reader, as the right kinds."""
    from coregulate.sensors.chunk import StreamKind
    from coregulate.sensors.readers import detect_format, open_reader
    from coregulate.sensors.spec import parse_spec

    d = shared_data / "polar_verity_sense_ppg_biobss"
    kinds = {}
    for name in ("PPG", "PPI", "HR", "ACC"):
        p = d / f"Polar_Sense_{name}.txt"
        assert detect_format(p) == "polar"
        r = open_reader(parse_spec(f"client={p}"))
        n = sum(len(c) for c in r.chunks())
        kinds[name] = (r.streams[0].kind, n)
    assert kinds["PPG"] == (StreamKind.PPG, 28143) and kinds["ACC"] == (StreamKind.ACC, 26526)
    assert kinds["PPI"][0] == StreamKind.RR and 400 <= kinds["PPI"][1] < 442  # 21 blocker rows dropped
    assert kinds["HR"][0] == StreamKind.HR


@pytest.mark.realdata
def test_verity_sense_user_path_hr_coverage(shared_data, vh):
    """`coregulate analyze` on the Verity Sense PPG gives hr_bpm on >= 90 % of seconds (the
    device's own PPI: 64 %), agreeing with the PPI-derived hr_bpm where both exist."""
    u = vh.verity_user_path(shared_data, -16.0)
    assert u["hr_cov_ppg"] >= 90 and u["hr_cov_ppg"] > u["hr_cov_ppi"]
    n, median_rel, _ = u["hr_bpm"]
    assert n >= 250 and median_rel < 1.0


@pytest.mark.realdata
def test_ppg_intervals_match_simultaneous_ecg(shared_data, vh):
    """Finger PPG (NeuroKit, 100 Hz) and ICU PLETH a103l (250 Hz): >= 95 % of pulse intervals
    within 20 ms of the simultaneous RR; the ICU record v102s (a false VT alarm) reaches only
    ~56 % on 89 intervals and is reported, not asserted."""
    recs = {name.split()[1]: (ecg, ppg, fs) for name, ecg, ppg, fs in vh.ppg_ecg_records(shared_data)}
    for key in ("bio_resting_5min", "a103l"):
        r = vh.ppg_vs_ecg(*recs[key])
        assert r["compared"] >= 400 and r["within20"] >= 95.0, (key, r)
