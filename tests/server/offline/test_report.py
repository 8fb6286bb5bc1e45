"""summary.csv and report.html from the user's path (`coregulate analyze` with defaults):
the rows and columns promised, numbers that agree with features.csv/events.csv, the warnings
in plain words, and a self-contained, printable report."""

from __future__ import annotations

import csv
import re
import statistics

import numpy as np
import pytest

from coregulate.models.columns import ZONES
from coregulate.server.cli.main import main
from coregulate.server.offline.summary import SUMMARY_COLUMNS


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def sim(analyzed_sim):
    return analyzed_sim  # read only


def _rr_file(path, seconds: float, irregular: bool, seed: int = 0) -> None:
    """RR intervals in ms: a steady rhythm, or an irregular one (RMSSD / mean RR > 0.25: the
    rhythm the quality flag calls poor, as with frequent ectopy)."""
    rng = np.random.default_rng(seed)
    rr, t = [], 0.0
    while t < seconds:
        v = rng.uniform(450, 1300) if irregular else 850 + 25 * np.sin(t / 5) + rng.normal(0, 8)
        rr.append(v)
        t += v / 1000
    path.write_text("".join(f"{v:.0f}\n" for v in rr))


def test_summary_rows_and_columns_agree_with_the_per_second_tables(sim):
    summary = _rows(sim / "summary.csv")
    assert list(summary[0]) == list(SUMMARY_COLUMNS)
    assert [(r["row"], r["participant"]) for r in summary] == [("person", "client"), ("person", "therapist"),
                                                                 ("dyad", "")]
    feats = _rows(sim / "features.csv")
    for r in summary[:2]:
        mine = [f for f in feats if f["participant"] == r["participant"]]
        assert float(r["minutes"]) == pytest.approx(len(mine) / 60, abs=1e-3)
        assert sum(float(r[f"{z}_share"]) for z in ZONES) == pytest.approx(1.0)
        assert float(r["window_share"]) == pytest.approx(sum(f["zone"] == "window" for f in mine) / len(mine), abs=1e-6)
        rest = [float(f["hr_bpm"]) for f in mine if f["hr_bpm"] and int(f["t_s"]) > 300]
        assert float(r["hr_bpm_rest_median"]) == pytest.approx(statistics.median(rest), rel=1e-6)
        base = [float(f["rmssd_ms"]) for f in mine if f["rmssd_ms"] and int(f["t_s"]) <= 300]
        assert float(r["rmssd_ms_baseline_mean"]) == pytest.approx(sum(base) / len(base), rel=1e-6)
        assert sum(float(r[f"quality_{q}_share"]) for q in ("good", "fair", "poor", "none")) == pytest.approx(1.0)
        assert r["heart_source"] == "rr 100%"  # the simulated strap gives RR: the fusion's first choice, every second
        assert r["eda_scl_us_rest_mean"] == "" and r["vocal_arousal_rest_mean"] == ""  # no EDA, no audio: empty
        assert r["hr_mean_abs_z"] == ""  # dyad columns stay empty on a person's row
    dyad = summary[2]
    events = _rows(sim / "events.csv")
    for kind in ("rupture_candidate", "repair_candidate", "co_regulation"):
        assert int(dyad[f"n_{kind}"]) == sum(e["kind"] == kind for e in events)
    zs = [abs(float(r["sync_hr_z"])) for r in _rows(sim / "dyad.csv") if r["sync_hr_z"]]
    assert float(dyad["hr_mean_abs_z"]) == pytest.approx(sum(zs) / len(zs), rel=1e-6)
    assert 0 < float(dyad["significant_share"]) < 1
    shares = [float(dyad[f"{w}_leads_share"]) for w in ("client", "therapist")] + [float(dyad["simultaneous_share"])]
    assert sum(shares) == pytest.approx(1.0)
    assert dyad["hr_bpm_rest_mean"] == ""


def test_report_shows_summary_then_plots_inputs_settings_and_stays_self_contained(sim):
    doc = (sim / "report.html").read_text()
    order = [doc.index(f'<section id="{s}"') for s in
             ("summary", "warnings", "timecourse", "events", "annotations", "inputs", "settings", "methods")]
    assert order == sorted(order)
    assert "not a diagnostic device" in doc and "@page" in doc and "size: A4" in doc and "break-before: page" in doc
    # no network: no external script, stylesheet, image or font
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', doc) and "@import" not in doc and "url(" not in doc
    assert doc.count("data:image/png;base64,") == 1
    # event times in minutes, zone changes from -> to with friendly names
    assert "start (min)" in doc and "Client left the window (hyperarousal)" in doc
    assert "window → hyperarousal" in doc
    assert "sim?duration=480&amp;audio=0&amp;seed=3" in doc  # the input as given
    assert "60 s" in doc and "0–300 s" in doc  # settings: window and baseline
    assert "Lipponen" in doc and "Ramseyer" in doc  # methods cited
    assert "No warnings" in doc


def test_export_csv_writes_the_same_summary(sim, tmp_path):
    assert main(["export", str(sim), "--format", "csv", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "summary.csv").read_text() == (sim / "summary.csv").read_text()


def test_a_recording_of_poor_quality_says_so_in_plain_words(tmp_path, capsys):
    """Every row quality=poor: the report and summary.csv tell HRV is not interpretable; a
    recording shorter than the baseline says the baseline is too short."""
    _rr_file(tmp_path / "irregular.txt", 420, irregular=True)
    _rr_file(tmp_path / "short.txt", 200, irregular=False, seed=1)
    out = tmp_path / "o"
    code = main(["analyze", f"client=rr:{tmp_path}/irregular.txt", f"therapist=rr:{tmp_path}/short.txt",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    # said on the terminal too, not only in the report
    assert "warnings (4):\n  client: heart-rate variability not interpretable" in printed.out
    assert "client: baseline not trusted: " in printed.out  # the tolerance estimator's own verdict
    feats = [f for f in _rows(out / "features.csv") if f["participant"] == "client" and f["quality"] not in ("", "none")]
    assert feats and {f["quality"] for f in feats} == {"poor"}
    client, therapist, dyad = _rows(out / "summary.csv")
    assert client["warnings"].startswith("heart-rate variability not interpretable: quality is poor in every second with heart data")
    assert "baseline too short" in therapist["warnings"] and "3.3 min" in therapist["warnings"]
    assert "heart-rate variability" not in therapist["warnings"]
    doc = (out / "report.html").read_text()
    assert '<li data-code="hrv_not_interpretable"><b>Client:</b> heart-rate variability not interpretable' in doc
    assert '<li data-code="baseline_too_short"><b>Therapist:</b> baseline too short' in doc
    assert "No warnings" not in doc


def test_one_person_has_no_dyad_row_and_no_dyad_section(tmp_path):
    _rr_file(tmp_path / "rr.txt", 400, irregular=False, seed=2)
    out = tmp_path / "one"
    assert main(["analyze", f"client=rr:{tmp_path}/rr.txt", "--out", str(out), "--quiet"]) == 0
    summary = _rows(out / "summary.csv")
    assert [(r["row"], r["participant"]) for r in summary] == [("person", "client")]
    assert summary[0]["heart_source"] == "rr 100%" and float(summary[0]["quality_good_share"]) > 0.8
    doc = (out / "report.html").read_text()
    assert "<h3>Dyad</h3>" not in doc and "synchrony" not in doc.split('<section id="timecourse">')[1].split("</p>")[0]
    assert '<section id="warnings"><h2>Warnings (0)</h2>' in doc


def test_annotations_are_marked_on_the_time_course_and_listed_in_minutes(sim, tmp_path):
    import shutil

    from coregulate.server.session.store import SessionStore
    from coregulate.server.offline.report import write_report

    shutil.copy(sim / "session.sqlite", tmp_path / "session.sqlite")
    with SessionStore(tmp_path / "session.sqlite") as store:
        store.add_annotation(400.0, "client looks away", author="rater1")
        store.add_annotation(30.0, "door <opens>", author="rater1")
        doc = write_report(store, tmp_path / "report.html").read_text()
    ann = doc.split('<section id="annotations">')[1].split("</section>")[0]
    assert "<h2>Annotations (2)</h2>" in ann
    assert "<td>A</td><td>0.5</td><td>rater1</td><td>door &lt;opens&gt;</td>" in ann  # in time order, escaped
    assert "<td>B</td><td>6.7</td><td>rater1</td><td>client looks away</td>" in ann
    assert "the annotations (A, B, ...) below" in doc


def test_exertion_that_left_the_heart_out_is_said_on_the_terminal_in_summary_and_report(tmp_path, capsys):
    """A chest strap's RR and an accelerometer with a 2-min walk after the baseline, through
    ``analyze`` with defaults: the closing lines, summary.csv and report.html say for how long the
    heart was left out of arousal; the same RR without the accelerometer says nothing of it."""
    _rr_file(tmp_path / "rr.txt", 660, irregular=False, seed=2)
    rng = np.random.default_rng(4)
    t = np.arange(0, 660 * 25) / 25.0
    swing = np.where((t > 400) & (t <= 520), 250.0, 5.0)  # mg: walking, else sitting
    z = 1000.0 + swing * np.sin(2 * np.pi * 1.8 * t) + rng.normal(0, 2, len(t))
    (tmp_path / "acc.csv").write_text("x,y,z\n" + "".join(f"{rng.normal(0, 2):.1f},{rng.normal(0, 2):.1f},{v:.1f}\n"
                                                         for v in z))
    out = tmp_path / "o"
    code = main(["analyze", f"client=rr:{tmp_path}/rr.txt", f"client=csv:{tmp_path}/acc.csv?rate=25&acc=x,y,z:mg",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    events = [e for e in _rows(out / "events.csv") if e["kind"] == "exertion"]
    assert len(events) == 1
    gated = [f for f in _rows(out / "features.csv") if f["arousal"] == "" and f["quality"] in ("good", "fair")
             and float(f["t_s"]) > 300]
    said = f"client: exertion (accelerometer): heart left out of arousal in {len(gated)} s ("
    assert 120 <= len(gated) <= 120 + 60 + 30 and said in printed.out  # the walk and the 60-s hold
    assert "arousal empty (zone unknown) in" in printed.out  # no skin conductance to fall back on
    (client,) = _rows(out / "summary.csv")
    assert "exertion (accelerometer): heart left out of arousal" in client["warnings"]
    assert '<li data-code="exertion_heart_left_out"><b>Client:</b> exertion (accelerometer)' in (out / "report.html").read_text()

    code = main(["analyze", f"client=rr:{tmp_path}/rr.txt", "--out", str(tmp_path / "plain"), "--quiet", "--no-report"])
    assert code == 0 and "heart left out of arousal" not in capsys.readouterr().out
