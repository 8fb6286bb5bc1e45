"""``--baseline-from``: the baseline from a separate resting recording, used from the first second."""

from __future__ import annotations

import csv

from coregulate.models.config import PipelineConfig
from coregulate.server.offline.analysis import analyze_session
from coregulate.server.offline.baseline import FROM_RECORDING, with_baseline_from


def test_baseline_from_a_separate_recording(tmp_path):
    rest = ["sim?seed=1&duration=400&audio=0"]  # a separate recording (the whole of it is the baseline)
    cfg = with_baseline_from(rest, PipelineConfig(), ["client", "therapist"])
    ref = cfg.baseline_reference
    assert set(ref) == {"client", "therapist"} and ref["client"]["tolerance"]["origin"] == FROM_RECORDING
    res = analyze_session(["sim?seed=2&duration=400&audio=0"], tmp_path / "s", config=cfg, report=False)
    assert any(n.startswith("baseline of client: separate resting recording") for n in res.notes)
    with open(tmp_path / "s" / "features.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["participant"] == "client"]
    # the session's own first 300 s would leave arousal empty until t = 300; here it starts at once
    with_arousal = [int(r["t_s"]) for r in rows if r["arousal"]]
    assert with_arousal and with_arousal[0] < 120
    with open(tmp_path / "s" / "events.csv") as f:
        labels = [r["label"] for r in csv.DictReader(f) if r["kind"] == "baseline"]
    assert labels and all("from the separate resting recording" in x for x in labels)
