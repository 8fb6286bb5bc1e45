"""``coregulate batch``: manifests, folder layout, resumability, per-session errors, study table,
and the Dask path giving byte-identical features to the local process pool."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from coregulate.models.columns import ZONES
from coregulate.models.config import PipelineConfig
from coregulate.sensors.errors import InputError
from coregulate.server.offline import batch
from coregulate.server.offline.batch import read_manifest, run_batch
from coregulate.server.cli.main import main

SIM = "sim?seed={}&duration=360&audio=0"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_rr(path: Path, seed: int, seconds: float = 400.0) -> Path:
    """A plain RR text file (ms per line): a breathing-modulated rhythm around 800 ms."""
    rng = np.random.default_rng(seed)
    t, out = 0.0, []
    while t < seconds:
        rr = 800 + 40 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 8)
        out.append(f"{rr:.1f}")
        t += rr / 1000
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


def write_manifest(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def sim_batch(tmp_path_factory):
    """Two simulated sessions with metadata, analysed once on 2 local processes."""
    d = tmp_path_factory.mktemp("simbatch")
    man = write_manifest(d / "study.csv", [
        "session_id,specs,baseline,site,condition",
        f"s1,{SIM.format(1)},,zurich,tau",
        f"s2,{SIM.format(2)},0-240,bern,cbt",
    ])
    res = run_batch(read_manifest(man), d / "out", jobs=2, report=False)
    return d, man, res


def test_manifest_metadata_and_study_table(sim_batch):
    d, man, res = sim_batch
    assert res.analysed == ["s1", "s2"] and not res.failed and not res.skipped
    study = rows(d / "out" / "study.csv")
    assert [(r["session_id"], r["participant"]) for r in study] == [
        ("s1", "client"), ("s1", "therapist"), ("s2", "client"), ("s2", "therapist")]
    assert [r["site"] for r in study] == ["zurich", "zurich", "bern", "bern"]
    assert [r["condition"] for r in study] == ["tau", "tau", "cbt", "cbt"]
    for r in study:
        feats = [f for f in rows(d / "out" / r["session_id"] / "features.csv") if f["participant"] == r["participant"]]
        assert float(r["minutes"]) == pytest.approx(len(feats) / 60, abs=1e-3)
        assert 5.5 <= float(r["minutes"]) <= 6.1
        shares = [float(r[f"share_{z}"]) for z in ZONES]
        assert sum(shares) == pytest.approx(1.0)
        window = sum(f["zone"] == "window" for f in feats) / len(feats)
        assert float(r["share_window"]) == pytest.approx(window, abs=1e-6)
        assert int(r["hyper_s"]) == sum(f["zone"] == "hyper" for f in feats)
        assert sum(float(r[f"quality_{q}_share"]) for q in ("good", "fair", "poor", "none")) == pytest.approx(1.0)
        assert r["dyad_seconds"] != ""  # the dyad summary is repeated on each person's row
    # the same dyad summary on both rows of a session
    assert study[0]["dyad_mean_effect"] == study[1]["dyad_mean_effect"]
    # each session writes its summary.csv, with the session's own baseline (s2: 0-240 s)
    for sid, b1 in (("s1", 300), ("s2", 240)):
        summary = rows(d / "out" / sid / "summary.csv")
        assert [(r["row"], r["participant"]) for r in summary] == [("person", "client"), ("person", "therapist"),
                                                                     ("dyad", "")]
        feats = [f for f in rows(d / "out" / sid / "features.csv") if f["participant"] == "client" and f["hr_bpm"]]
        base = [float(f["hr_bpm"]) for f in feats if int(f["t_s"]) <= b1]
        assert float(summary[0]["hr_bpm_baseline_mean"]) == pytest.approx(sum(base) / len(base), rel=1e-6)
        assert [r["warnings"] for r in study if r["session_id"] == sid] == [r["warnings"] for r in summary[:2]]
    # the per-row baseline reached the pipeline config
    cfg = json.loads(json.loads((d / "out" / "s2" / "batch.json").read_text())["config"])
    assert cfg["baseline"] == [0.0, 240.0]
    assert rows(d / "out" / "errors.csv") == []


def test_second_run_skips_changed_settings_or_outputs_rerun(sim_batch, tmp_path):
    d, man, _ = sim_batch
    out = d / "out"
    before = {s: (out / s / "features.csv").stat().st_mtime_ns for s in ("s1", "s2")}
    study_before = (out / "study.csv").read_bytes()
    res = run_batch(read_manifest(man), out, jobs=2, report=False)
    assert res.skipped == ["s1", "s2"] and not res.analysed
    assert {s: (out / s / "features.csv").stat().st_mtime_ns for s in ("s1", "s2")} == before
    assert (out / "study.csv").read_bytes() == study_before  # skipped sessions give the same rows
    # other settings (window, report, version...) change the fingerprint: not complete for them
    done = json.loads((out / "s1" / "batch.json").read_text())
    assert batch.is_complete(out / "s1", batch.fingerprint(done["specs"], done["config"], done["settings"]))
    other = PipelineConfig.from_json(done["config"])
    other.window_s = 90.0
    assert not batch.is_complete(out / "s1", batch.fingerprint(done["specs"], other.to_json(), done["settings"]))
    assert not batch.is_complete(out / "s1", batch.fingerprint(done["specs"], done["config"],
                                                               {**done["settings"], "report": True}))
    # a session whose outputs lost a file is not complete any more
    (out / "s1" / "dyad.csv").unlink()
    res = run_batch(read_manifest(man), out, jobs=1, report=False)
    assert res.analysed == ["s1"] and res.skipped == ["s2"]
    assert (out / "study.csv").read_bytes() == study_before  # deterministic re-analysis


def test_failing_sessions_reported_and_others_run(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01garbage" * 50)
    write_rr(tmp_path / "ok" / "c.txt", 5)
    # a bad baseline is a row error too, not a whole-batch error
    man = write_manifest(tmp_path / "m.csv", [
        "session_id,specs,site,baseline",
        "missing,client=nowhere/c.txt;therapist=nowhere/t.txt,a,",
        "junk,client=junk.bin,a,",
        "good,client=ok/c.txt,b,",
        f"badbase,{SIM.format(4)},b,9-3",
    ])
    out = tmp_path / "out"
    code = main(["batch", str(man), "--out", str(out), "--jobs", "2", "--no-report", "--quiet"])
    assert code == 65
    errs = {r["session_id"]: r for r in rows(out / "errors.csv")}
    assert set(errs) == {"missing", "junk", "badbase"}
    assert errs["missing"]["manifest_line"] == "2" and "nowhere" in errs["missing"]["error"]
    assert errs["missing"]["exit_code"] == "66" and f"{man}:2" in errs["missing"]["error"]
    assert errs["junk"]["exit_code"] in ("65", "66") and "junk.bin" in errs["junk"]["error"]
    assert errs["junk"]["error"].startswith(f"{man}:3: ")  # analysis-time errors name the row too
    assert errs["badbase"]["manifest_line"] == "5" and "baseline" in errs["badbase"]["error"]
    assert {r["session_id"] for r in rows(out / "study.csv")} == {"good"}
    assert (out / "good" / "batch.json").exists() and not (out / "junk" / "batch.json").exists()


def test_duplicate_ids_name_both_rows(tmp_path):
    man = write_manifest(tmp_path / "m.csv", [
        "session_id,specs",
        f"a,{SIM.format(1)}",
        f"a,{SIM.format(2)}",
        "../up,sim",
    ])
    sessions = read_manifest(man)
    assert sessions[0].error is None
    assert f"{man}:3" in str(sessions[1].error) and "line 2" in str(sessions[1].error)
    assert "folder name" in str(sessions[2].error) and f"{man}:4" in str(sessions[2].error)


@pytest.mark.parametrize("lines,needle", [
    (["id,specs", "a,sim"], "missing column(s) session_id"),
    (["session_id,files", "a,sim"], "missing column(s) specs"),
    ([], "empty"),
])
def test_wrong_columns_is_a_clear_manifest_error(tmp_path, capsys, lines, needle):
    man = write_manifest(tmp_path / "m.csv", lines) if lines else tmp_path / "m.csv"
    if not lines:
        man.write_text("")
    with pytest.raises(InputError) as ei:
        read_manifest(man)
    assert needle in str(ei.value) and str(ei.value).startswith(f"{man}:1")
    assert main(["batch", str(man), "--out", str(tmp_path / "o"), "--quiet"]) == 65
    assert needle in capsys.readouterr().err


def test_ragged_row_and_toml_manifest(tmp_path):
    write_rr(tmp_path / "data" / "c.txt", 1)
    man = write_manifest(tmp_path / "m.csv", ["session_id,specs,site", "a,sim,x,extra"])
    assert "4 cells for 3 columns" in str(read_manifest(man)[0].error)
    toml = tmp_path / "m.toml"
    toml.write_text('[[session]]\nsession_id = "t1"\nspecs = ["client=data/c.txt"]\nsite = "zurich"\nweek = 3\n\n'
                    '[[session]]\nsession_id = "t2"\nspecs = "client=data/none.txt"\n\n'
                    '[[session]]\nspecs = ["sim"]\n')
    with pytest.raises(InputError, match=r"m\.toml:11.*lacks session_id"):
        read_manifest(toml)
    toml.write_text(toml.read_text().rsplit("[[session]]", 1)[0])
    s1, s2 = read_manifest(toml)
    assert s1.error is None and s1.specs == [f"client={tmp_path / 'data' / 'c.txt'}"]
    assert s1.meta == {"site": "zurich", "week": "3"}
    assert s2.error is not None and f"{toml}:7" in str(s2.error) and "none.txt" in str(s2.error)


def test_folder_layout_resumes_and_reruns_touched_input(tmp_path):
    root = tmp_path / "archive"
    write_rr(root / "p01" / "client.txt", 1)
    write_rr(root / "p01" / "therapist.txt", 2)
    write_rr(root / "p02" / "client_rr.txt", 3)
    write_rr(root / "p02" / "therapist_rr.txt", 4)
    (root / "p02" / "notes.md").write_text("not an input")
    (root / "p03").mkdir()
    sessions = read_manifest(root)
    assert [s.session_id for s in sessions] == ["p01", "p02", "p03"]
    assert sorted(sp.split("=")[0] for sp in sessions[1].specs) == ["client", "therapist"]
    assert "no client.* or therapist.*" in str(sessions[2].error)
    out = tmp_path / "out"
    res = run_batch(sessions, out, jobs=2, report=False)
    assert res.analysed == ["p01", "p02"] and res.failed == ["p03"]
    assert {r["participant"] for r in rows(out / "study.csv")} == {"client", "therapist"}
    f = root / "p01" / "therapist.txt"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    res = run_batch(read_manifest(root), out, jobs=2, report=False)
    assert res.analysed == ["p01"] and res.skipped == ["p02"]


def test_dask_cluster_gives_identical_features(sim_batch, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    d, man, _ = sim_batch
    # one worker process (with its nanny): the sessions still travel to another process and back;
    # a second worker only cost its start-up (the bench, bench_batch.py, measures two)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = run_batch(read_manifest(man), tmp_path / "dask", dask=cluster.scheduler_address, report=False)
    assert res.analysed == ["s1", "s2"]
    for s in ("s1", "s2"):
        for name in ("features.csv", "dyad.csv", "events.csv"):
            assert (tmp_path / "dask" / s / name).read_bytes() == (d / "out" / s / name).read_bytes(), (s, name)
    assert (tmp_path / "dask" / "study.csv").read_bytes() == (d / "out" / "study.csv").read_bytes()


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(batch.execution, "DASK_CONNECT_TIMEOUT", "1s")
    man = write_manifest(tmp_path / "m.csv", ["session_id,specs", f"a,{SIM.format(1)}"])
    code = main(["batch", str(man), "--out", str(tmp_path / "o"), "--dask", "tcp://127.0.0.1:1", "--quiet"])
    assert code == 69 and "Dask scheduler" in capsys.readouterr().err


def test_folder_layout_roles_from_names_and_export_folders(tmp_path):
    """client/ therapist/ sub-folders (Empatica E4 exports) and client_*.csv files become SPECs;
    other files are ignored; the session id is the folder name."""
    s = tmp_path / "arch" / "visit-7"
    (s / "client").mkdir(parents=True)
    (s / "therapist_ecg.csv").write_text("t,ecg\n")
    (s / "clientele.txt").write_text("not a role")  # 'client' must be followed by '.', '_' or '-'
    (s / ".client.txt").write_text("hidden")
    (sess,) = read_manifest(tmp_path / "arch")
    assert sess.session_id == "visit-7" and sess.error is None
    assert sess.specs == [f"client={s / 'client'}", f"therapist={s / 'therapist_ecg.csv'}"]
