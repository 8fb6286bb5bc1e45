"""Validate ``arousal`` and ``vocal_arousal`` against labels someone else made, through the
user's path (``coregulate analyze`` with default options), with the simplest baselines beside.

Prints, per data set:

- drivedb (Healey & Picard 2005; rest vs driving, our reading of the marker channel in
  ``segments_inferred.csv``): within-record AUC of ``arousal`` beside each single component's AUC
  on the same seconds (the seconds after the 300-s baseline that carry ``arousal``), coverage, and
  the composite's gap to its best single input with a moving-block bootstrap interval.
- vocal arousal: per-speaker files (each clip of one speaker in a 10-s slot: the clip, then
  silence), analysed with default options; each clip is scored by the second ending 5 s into its
  slot (the default 5-s voice window then covers the clip and nothing else). AUC high vs low
  arousal of ``vocal_arousal`` beside speaker-normalised median F0 alone (``f0_st`` minus the
  speaker's median over their clips) and the other single features; coverage.
- scale: ``|arousal|`` and ``|vocal_arousal|`` p50/p90/p99/max and the largest clipped
  component z on every shared recording ``analyze`` can read, and on the simulator.

Usage: ``.venv/bin/python bench/validate_arousal.py [--data DIR] [--only drivedb,voice,scale]``.
Real recordings are read from ``$COREGULATE_DATA`` (default ``../shared/data``); nothing is
written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

REPO = Path(__file__).resolve().parents[1]
CLI = [str(REPO / ".venv" / "bin" / "coregulate")] if (REPO / ".venv" / "bin" / "coregulate").exists() \
    else [sys.executable, "-m", "coregulate.server.cli.main"]


def auc(scores, labels) -> float:
    """Mann-Whitney AUC (ties count half); nan when a class is empty."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def analyze(specs: list[str], out: Path) -> pd.DataFrame:
    """``coregulate analyze SPEC... --out OUT`` with default options; the features table."""
    cmd = [*CLI, "analyze", *specs, "--out", str(out), "--quiet", "--no-report", "--overwrite"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(specs)}: exit {res.returncode}: {res.stderr.strip()[-300:]}")
    analyze.last_stdout = res.stdout
    return pd.read_csv(out / "features.csv")


# --------------------------------------------------------------------------------------- drivedb
DRIVEDB_COMPONENTS = (("hr_bpm", +1), ("hr_inst_bpm", +1), ("ln_rmssd", -1), ("eda_scl_us", +1), ("scr_per_min", +1),
                      ("breathing_rpm", +1))
BLOCK_S = 60  # block length of the bootstrap: seconds of a 60-s window are not independent


def auc_gap_ci(a, b, labels, block: int = BLOCK_S, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """AUC(a) - AUC(b) on the same seconds, with a 95 % moving-block bootstrap interval.

    Consecutive seconds share most of their 60-s windows, so seconds are resampled in blocks of
    ``block`` consecutive seconds (moving-block bootstrap, Kunsch 1989, Ann Stat 17:1217), both
    scores on the same resample; percentile interval. Seconds must be in time order.
    """
    a, b, y = (np.asarray(x) for x in (a, b, labels))
    m = len(y)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, max(m - block, 0) + 1, size=(n, -(-m // block)))
    gaps = []
    for row in starts:
        idx = (row[:, None] + np.arange(block)[None, :]).ravel()[:m]
        idx = idx[idx < m]
        g = auc(a[idx], y[idx]) - auc(b[idx], y[idx])
        if np.isfinite(g):
            gaps.append(g)
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return auc(a, y) - auc(b, y), float(lo), float(hi)


def hr_component(df: pd.DataFrame) -> pd.Series:
    """The composite's ``hr`` input: 10-s running median of hr_inst_bpm (models/tolerance.py)."""
    return df.hr_inst_bpm.astype(float).rolling(10, min_periods=1).median()


def drivedb(data: Path, tmp: Path) -> dict:
    seg = pd.read_csv(data / "drivedb" / "segments_inferred.csv")
    out = {}
    for rec in ("drive17a", "drive17b"):
        df = analyze([f"client=wfdb:{data / 'drivedb' / rec}"], tmp / rec)
        lab = pd.Series(np.nan, index=df.index)
        for r in seg[seg.record == rec].itertuples():
            m = (df.t_s > r.start_s) & (df.t_s <= r.end_s)
            if r.segment.startswith("driving"):
                lab[m] = 1.0
            elif r.segment.startswith("rest"):
                lab[m] = 0.0
        a = df.arousal.astype(float)
        ok = lab.notna() & a.notna()
        labelled = lab.notna() & (df.t_s > 300)
        row = {"seconds": int(ok.sum()), "drive_s": int((lab[ok] == 1).sum()),
               "arousal": auc(a[ok], lab[ok] == 1), "coverage_arousal": float(ok.sum() / labelled.sum())}
        cols = dict(DRIVEDB_COMPONENTS)
        series = {c: df[c].astype(float) * s for c, s in cols.items()}
        series["hr (10-s median of hr_inst)"] = hr_component(df)
        for c, x in series.items():
            m = ok & x.notna()
            row[c] = auc(x[m], lab[m] == 1)
            row["coverage_" + c] = float(m.sum() / max(ok.sum(), 1))
        best = max(series, key=lambda c: row[c])
        m = ok & series[best].notna()
        row["gap"] = (best, *auc_gap_ci(a[m], series[best][m], lab[m] == 1))
        row["scale"] = scale_of(df, tmp / rec)
        out[rec] = row
    return out


# ----------------------------------------------------------------------------------------- voice
def speaker_file(clips: list[Path], path: Path, slot_s: float = 10.0) -> list[tuple[Path, float]]:
    """Write one speaker's clips into one WAV, each at the start of a ``slot_s`` slot."""
    import soundfile as sf

    parts, starts, rate = [], [], None
    for c in clips:
        x, fs = sf.read(c, always_2d=True)
        x = x.mean(axis=1)  # two RAVDESS clips are stereo
        rate = rate or fs
        if fs != rate:
            raise ValueError(f"{c}: {fs} Hz, expected {rate}")
        n = int(round(slot_s * fs))
        if len(x) > n // 2:
            x = x[: n // 2]
        slot = np.zeros(n)
        slot[: len(x)] = x
        starts.append((c, len(parts) * slot_s))
        parts.append(slot)
    sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
    return starts


def level_trust(session_file: Path) -> float | None:
    """The voice level trust the session used (its baseline reference, saved with its config)."""
    from coregulate.server.session.store import SessionStore

    with SessionStore(session_file) as store:
        ref = store.config.baseline_reference or {}
    return (ref.get("client", {}).get("voice") or {}).get("level_trust")


def voice(data: Path, tmp: Path) -> dict:
    sets = {
        "EmoDB": (data / "emodb_speech", "speaker"),
        "RAVDESS": (data / "ravdess_arousal_subset", "actor"),
    }
    out = {}
    for name, (folder, who) in sets.items():
        if not folder.is_dir():
            continue
        labels = pd.read_csv(folder / "labels.csv", dtype={who: str})
        rows = []
        baseline_lines = set()
        trusts: list[float | None] = []
        for spk, mine in labels.groupby(who):
            wav = tmp / f"{name}_{spk}.wav"
            starts = speaker_file([folder / "wav" / f for f in mine.file], wav)
            df = analyze([f"client={wav}"], tmp / f"{name}_{spk}").set_index("t_s")
            baseline_lines |= {ln.strip() for ln in analyze.last_stdout.splitlines() if "baseline" in ln}
            trusts.append(level_trust(tmp / f"{name}_{spk}" / "session.sqlite"))
            high = dict(zip(mine.file, mine.arousal_class == "high"))
            for clip, t0 in starts:
                s = int(round(t0)) + 5
                r = df.loc[s] if s in df.index else None
                rows.append({"speaker": spk, "high": high[clip.name],
                             **{c: (None if r is None else r.get(c)) for c in
                                ("vocal_arousal", "f0_st", "f0_range_st", "loudness_db", "speech_rate")}})
        t = pd.DataFrame(rows)
        for c in ("vocal_arousal", "f0_st", "f0_range_st", "loudness_db", "speech_rate"):
            t[c] = t[c].astype(float)
        res = {"clips": len(t), "speakers": t.speaker.nunique(), "baseline_lines": sorted(baseline_lines),
               "level_trust": trusts}
        m = t.vocal_arousal.notna()
        res["vocal_arousal"] = auc(t.vocal_arousal[m], t.high[m])
        res["coverage"] = float(m.mean())
        for c in ("f0_st", "f0_range_st", "loudness_db", "speech_rate"):
            centred = t[c] - t.groupby("speaker")[c].transform("median")  # speaker-normalised
            mm = centred.notna()
            res[c + " alone"] = auc(centred[mm], t.high[mm])
        a = t.vocal_arousal.abs().dropna()
        res["|vocal_arousal| p50/p90/p99/max"] = [float(x) for x in np.percentile(a, [50, 90, 99, 100])] if len(a) else []
        out[name] = res
    return out


# ----------------------------------------------------------------------------------------- scale
def scale_of(df: pd.DataFrame, folder: Path) -> dict:
    """|arousal| percentiles, coverage and the largest component z (from the zone events' evidence)."""
    a = df.arousal.astype(float).abs().dropna()
    res = {"seconds": len(df), "arousal_coverage": round(float(len(a) / max(len(df), 1)), 2)}
    if len(a):
        res["|arousal| p50/p90/p99/max"] = [round(float(x), 2) for x in np.percentile(a, [50, 90, 99, 100])]
    if "arousal_confidence" in df:
        c = df.arousal_confidence.astype(float).dropna()
        res["confidence median"] = round(float(c.median()), 2) if len(c) else None
    ev = pd.read_csv(folder / "events.csv") if (folder / "events.csv").exists() else pd.DataFrame()
    zmax, bound = 0.0, None
    if len(ev) and "participant" in ev:
        ev = ev[ev.participant.isin(df.participant.unique())]
    for e in ev.get("evidence", pd.Series(dtype=str)).dropna():
        try:
            d = json.loads(e)
        except ValueError:
            continue
        if "components_z" in d:
            bound = d.get("component_bound", bound)
            zmax = max([zmax] + [abs(v) for v in d["components_z"].values()])
    res["largest component z before its clip (zone-change evidence)"] = round(zmax, 1)
    res["component bound"] = bound
    if "vocal_arousal" in df:
        v = df.vocal_arousal.astype(float).abs().dropna()
        if len(v):
            res["|vocal_arousal| p50/p90/p99/max"] = [round(float(x), 2) for x in np.percentile(v, [50, 90, 99, 100])]
    return res


def recordings(data: Path) -> list[tuple[str, list[str]]]:
    """Shared recordings that carry heart or skin-conductance data, as analyze SPECs (the mappings
    of ``tests/server/offline/test_analyze_realdata.py``), with default options."""
    nk = data / "neurokit_bio"
    polar = data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
    return [
        ("neurokit bio_eventrelated_100hz (ECG, EDA, RSP)",
         [f"client=csv:{nk / 'bio_eventrelated_100hz.csv'}?rate=100&ecg=ECG:mV&eda=EDA:uS&resp=RSP"]),
        ("neurokit bio_resting_8min_100hz (ECG, EDA, RSP)",
         [f"client=csv:{nk / 'bio_resting_8min_100hz.csv'}?rate=100&ecg=ECG:mV&resp=RSP&eda=EDA:uS"]),
        ("neurokit bio_resting_5min_100hz (ECG, PPG, RSP)",
         [f"client=csv:{nk / 'bio_resting_5min_100hz.csv'}?rate=100&ecg=ECG:mV&ppg=PPG&resp=RSP"]),
        ("neurokit ecg_1000hz", [f"client=csv:{nk / 'ecg_1000hz.csv'}?rate=1000&ecg=ECG:mV"]),
        ("polar_h10_ecg (ECG, RR, HR)",
         [f"client=csv:{polar}?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm"]),
        ("simulator seed 0 (20 min, audio)", ["sim?seed=0&duration=1200"]),
        ("simulator seed 3 (20 min, no audio)", ["sim?seed=3&duration=1200&audio=0"]),
    ]


def scale(data: Path, tmp: Path) -> dict:
    out = {}
    for i, (name, specs) in enumerate(recordings(data)):
        if not specs:
            continue
        folder = tmp / f"scale{i}"
        try:
            df = analyze(specs, folder)
        except RuntimeError as exc:
            out[name] = {"error": str(exc)}
            continue
        if len(df.participant.unique()) > 1:
            for p, d in df.groupby("participant"):
                out[f"{name} {p}"] = scale_of(d, folder)
        else:
            out[name] = scale_of(df, folder)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("COREGULATE_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--only", default="drivedb,voice,scale")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="validate_arousal_") as d:
        tmp = Path(d)
        if "drivedb" in parts:
            print("== drivedb: rest vs driving, within-record AUC on the same seconds (after the 300-s baseline)")
            for rec, r in drivedb(args.data, tmp).items():
                comps = {k: v for k, v in r.items() if k not in ("seconds", "drive_s", "arousal", "scale", "gap")
                         and not k.startswith("coverage")}
                best = max(comps.items(), key=lambda kv: kv[1])
                print(f"{rec}: {r['seconds']} s ({r['drive_s']} driving), arousal coverage {r['coverage_arousal']:.2f}")
                print(f"  arousal AUC {r['arousal']:.4f}  | best single component: {best[0]} {best[1]:.4f}")
                print("  single components: " + ", ".join(f"{k} {v:.4f} (cov {r['coverage_' + k]:.2f})" for k, v in comps.items()))
                c, g, lo, hi = r["gap"]
                print(f"  arousal - {c}: {g:+.4f} AUC, 95 % moving-block ({BLOCK_S}-s) bootstrap interval [{lo:+.4f}, {hi:+.4f}]")
                print(f"  scale: {r['scale']}")
        if "voice" in parts:
            print("== vocal arousal through the CLI: per-speaker files, default options, one score per clip")
            for name, r in voice(args.data, tmp).items():
                print(f"{name}: {r['clips']} clips, {r['speakers']} speakers, vocal_arousal coverage {r['coverage']:.2f}")
                print(f"  vocal_arousal AUC {r['vocal_arousal']:.3f} | speaker-normalised F0 alone {r['f0_st alone']:.3f}")
                print("  other single features: " + ", ".join(f"{k} {r[k]:.3f}" for k in
                                                             ("f0_range_st alone", "loudness_db alone", "speech_rate alone")))
                print(f"  |vocal_arousal| p50/p90/p99/max: {[round(x, 2) for x in r['|vocal_arousal| p50/p90/p99/max']]}")
                print(f"  level trust per speaker file: {r['level_trust']}")
                for ln in r["baseline_lines"][:3]:
                    print(f"  analyze said: {ln}")
        if "scale" in parts:
            print("== scale on every shared recording analyze reads, and the simulator")
            for name, r in scale(args.data, tmp).items():
                print(f"{name}: {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
