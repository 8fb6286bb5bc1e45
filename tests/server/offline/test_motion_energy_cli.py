"""The README's motion-synchrony validation, reproduced from the user's path: ``coregulate
analyze`` (default options) on the 20 rMEA psychotherapy intake interviews, then genuine pairs
(each dyad's ``dyad.csv``) against pseudo-pairs (each patient's ``movement`` from
``features.csv`` with every other dyad's therapist, through the same windowed cross-lagged
correlation)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from coregulate.models.dyad import DyadParams
from coregulate.models.synchrony import peak_statistic, wclc_offline
from coregulate.server.cli.main import main


def _movement(out: Path) -> tuple[np.ndarray, np.ndarray]:
    series: dict[str, list[float]] = {"client": [], "therapist": []}
    with open(out / "features.csv") as fh:
        for row in csv.DictReader(fh):
            series[row["participant"]].append(float(row["movement"]) if row["movement"] else np.nan)
    return np.array(series["client"]), np.array(series["therapist"])


def _mean_abs_motion_z(out: Path) -> float:
    with open(out / "dyad.csv") as fh:
        z = [abs(float(r["sync_motion_z"])) for r in csv.DictReader(fh) if r["sync_motion_z"]]
    return float(np.mean(z))


@pytest.mark.realdata
def test_genuine_dyads_synchronise_more_than_pseudo_dyads_from_the_cli(shared_data, tmp_path, capsys):
    files = sorted((shared_data / "psychotherapy_motion_dyads").glob("*/*.txt"))
    if len(files) != 20:
        pytest.skip("psychotherapy_motion_dyads not present")
    genuine, moves = {}, {}
    for f in files:
        out = tmp_path / f.stem
        assert main(["analyze", f"client={f}?column=pat", f"therapist={f}?column=th", "--out", str(out),
                     "--quiet", "--no-report"]) == 0
        genuine[f.stem] = _mean_abs_motion_z(out)
        moves[f.stem] = _movement(out)
    # one SPEC naming both people (mea:FILE: first column client, second therapist) is the same analysis
    one = tmp_path / "one_spec"
    assert main(["analyze", f"mea:{files[0]}", "--out", str(one), "--quiet", "--no-report"]) == 0
    for name in ("features.csv", "dyad.csv"):
        assert (one / name).read_bytes() == (tmp_path / files[0].stem / name).read_bytes()
    capsys.readouterr()
    params = DyadParams()  # what analyze used: |r| peak and log(1 + motion energy)
    sync = params.sync_for("motion")
    assert "motion" in params.log_signals

    def score(x, y):
        n = min(len(x), len(y))
        return float(np.nanmean(np.abs(peak_statistic(wclc_offline(np.log1p(x[:n]), np.log1p(y[:n]), sync), sync.peak))))

    ids = sorted(genuine)
    # the offline correlation of the CLI's movement columns is the CLI's own dyad.csv figure
    for i in ids[:3]:
        assert score(*moves[i]) == pytest.approx(genuine[i], abs=1e-6)  # CSV rounding
    g = np.array([genuine[i] for i in ids])
    pseudo = np.array([np.mean([score(moves[i][0], moves[j][1]) for j in ids if j != i]) for i in ids])
    higher = int(np.sum(g > pseudo))
    print(f"\nrMEA dyads via analyze: genuine mean peak |z| {g.mean():.3f} vs pseudo {pseudo.mean():.3f}; "
          f"genuine > pseudo in {higher}/20")
    # the README quotes these figures
    assert round(g.mean(), 3) == 0.503 and round(pseudo.mean(), 3) == 0.471 and higher == 16
