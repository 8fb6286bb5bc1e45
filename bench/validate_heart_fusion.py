"""Heart fusion on real recordings: what a dropout costs, and hr_bpm coverage of a wrist-device session.

1. **Dropouts on real ECG** (``polar_h10_ecg``, 130 Hz, and ``neurokit_bio/bio_resting_8min_100hz``,
   100 Hz): one gap of *d* = 0.5, 2, 5 and 30 s is cut out of the ECG at ``--gap-at`` seconds (the
   samples are removed and the first chunk after the cut is marked ``gap_before``, as a source
   marks a Bluetooth dropout). The ECG goes through the pipeline (``SessionPipeline``, default
   configuration: heart -> autonomic -> tolerance). Printed per recording and *d*:
   seconds (after the first window) where ``hr_bpm`` / ``hr_inst_bpm`` are present without the gap
   but missing with it (the issue's bound: *d* + 2 s), and, on the seconds more than 10 s before the
   gap or more than one window + 10 s (and + 90 s) after it, the share of rows whose ``hr_bpm`` and
   ``rmssd_ms`` are unchanged (within 0.01 bpm and 0.1 ms) and the largest differences.
2. **A wrist-device session built from real data**: an Empatica-E4-layout folder (``BVP.csv`` 64 Hz,
   ``IBI.csv``, ``HR.csv`` 1 Hz, ``EDA.csv`` 4 Hz) is written to a temporary folder from the Polar
   Verity Sense recording (``polar_verity_sense_ppg_biobss``: its PPG resampled to 64 Hz, its own
   PPI as IBI and its own 1-Hz HR). As an E4 does during motion, IBI beats are deleted in runs
   (seeded; about half of them kept) and, in three stretches of 20-40 s, the PPG gets motion-like
   noise (8 x its SD) while the IBI there is deleted too. EDA is simulated (neurokit2
   ``eda_simulate``; it does not feed the heart). The folder is analysed with the user's command,
   ``coregulate analyze client=FOLDER --out OUT`` (defaults), and ``features.csv`` is counted:
   share of seconds with ``hr_bpm``, by ``heart_source``, and with quality good/fair.
3. **Latency** of a finished heart second on the simulator for RR alone, ECG alone and ECG + RR
   (the fusion waits for the slowest stream only where the best one does not cover).
4. **Strap RR vs ECG**: intervals of the R peaks detected here from the Polar H10's 130 Hz ECG against
   the strap's own RR (why RR stays first, see ``models/heart.py``).

    .venv/bin/python bench/validate_heart_fusion.py [--data DIR (default $COREGULATE_SHARED_DATA or ../shared/data)] [--seeds 5]

Prints "skipped" for a data set that is absent.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.dropout import chunks_with_dropout

GAPS_S = (0.5, 2.0, 5.0, 30.0)
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ dropouts
def load_ecg(data: Path, name: str) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Session times (s), ECG (uV) and nominal rate of a shared real ECG recording."""
    import pandas as pd

    if name == "polar_h10_ecg":
        f = data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
        if not f.is_file():
            return None
        df = pd.read_csv(f)
        return (df.time_ns.to_numpy() - df.time_ns.iloc[0]) / 1e9, df.ecg_mV.to_numpy() * 1000.0, 130.0
    f = data / "neurokit_bio" / f"{name}.csv"
    if not f.is_file():
        return None
    df = pd.read_csv(f)
    return np.arange(len(df)) / 100.0, df.ECG.to_numpy() * 1000.0, 100.0


def cut_chunks(t: np.ndarray, x: np.ndarray, rate: float, gap: tuple[float, float] | None,
               participant: str = "client", step_s: float = 1.0) -> tuple[StreamInfo, list[Chunk]]:
    """ECG chunks of about ``step_s`` with the samples in ``gap`` removed and the first chunk after
    it marked ``gap_before``."""
    info = StreamInfo(participant, StreamKind.ECG, rate=rate)
    return info, chunks_with_dropout(info, t, x, gap, max(1, int(round(step_s * rate))))


def run_rows(info: StreamInfo, chunks: list[Chunk], config: PipelineConfig) -> tuple[dict[int, dict], list]:
    pipe = SessionPipeline([info], config)
    rows, events = [], []
    for c in chunks:
        out = pipe.update(c)
        rows += out.features
        events += out.events
    out = pipe.finish()
    rows += out.features
    events += out.events
    return {r["t_s"]: r for r in rows}, events


#: "unchanged" away from the gap: beat times after a gap differ by microseconds (the detector's
#: blocks restart with the segment, so filter edges fall elsewhere), not by whole beats
SAME_HR_BPM, SAME_RMSSD_MS = 0.01, 0.1
#: after a gap the artefact corrector rebuilds its 91-beat context (about 70-90 s at rest)
CONTEXT_S = 90.0


def _same(a, b, tol: float) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tol)


def dropout_figures(t: np.ndarray, x: np.ndarray, rate: float, gap_at: float,
                    config: PipelineConfig) -> list[dict]:
    """One row of figures per gap length (see the module docstring)."""
    info, chunks = cut_chunks(t, x, rate, None)
    ref, _ = run_rows(info, chunks, config)
    w = config.window_s
    out = []
    for d in GAPS_S:
        g = (gap_at, gap_at + d)
        info, chunks = cut_chunks(t, x, rate, g)
        rows, events = run_rows(info, chunks, config)
        counted = [s for s in ref if s > w and s in rows]
        lost = {k: sum(ref[s][k] is not None and rows[s][k] is None for s in counted) for k in ("hr_bpm", "hr_inst_bpm")}
        far = [s for s in counted if s <= g[0] - 10 or s >= g[1] + w + 10]
        beyond_context = [s for s in counted if s <= g[0] - 10 or s >= g[1] + w + CONTEXT_S]

        def unchanged(seconds):
            same = [s for s in seconds if _same(ref[s]["hr_bpm"], rows[s]["hr_bpm"], SAME_HR_BPM)
                    and _same(ref[s]["rmssd_ms"], rows[s]["rmssd_ms"], SAME_RMSSD_MS)]
            return len(same) / len(seconds) if seconds else math.nan

        dh = [abs(ref[s]["hr_bpm"] - rows[s]["hr_bpm"]) for s in far if ref[s]["hr_bpm"] is not None and rows[s]["hr_bpm"] is not None]
        dr = [abs(ref[s]["rmssd_ms"] - rows[s]["rmssd_ms"]) / ref[s]["rmssd_ms"] for s in far
              if ref[s]["rmssd_ms"] and rows[s]["rmssd_ms"] is not None]
        near = [rows[s]["heart_coverage"] for s in range(int(g[1]) + 1, int(g[1]) + 6) if s in rows]
        out.append({
            "d": d, "lost_hr": lost["hr_bpm"], "lost_inst": lost["hr_inst_bpm"], "bound": d + 2,
            "gap_events": sum(e.kind == "gap" for e in events), "far": len(far),
            "same_far": unchanged(far), "same_beyond_context": unchanged(beyond_context),
            "max_dhr": max(dh, default=0.0), "max_drmssd": max(dr, default=0.0),
            "coverage_after": min(c for c in near if c is not None) if near else None,
        })
    return out


def print_dropouts(data: Path, gap_at: float) -> None:
    config = PipelineConfig()
    print(f"Dropouts cut into real ECG at t = {gap_at:g} s (window {config.window_s:g} s; seconds counted after the "
          "first window; 'far' = more than 10 s before the gap or more than window + 10 s after it,\n"
          f"'beyond +90 s' = more than window + {CONTEXT_S:g} s after it, when the artefact corrector has its 91-beat context back;\n"
          f"'unchanged' = hr_bpm within {SAME_HR_BPM} bpm and rmssd_ms within {SAME_RMSSD_MS} ms of the uncut recording)")
    for name in ("polar_h10_ecg", "bio_resting_8min_100hz"):
        rec = load_ecg(data, name)
        if rec is None:
            print(f"  {name}: skipped (not in {data})")
            continue
        t, x, rate = rec
        print(f"  {name} ({rate:g} Hz, {t[-1]:.0f} s):")
        print("      d (s)  hr_bpm lost  hr_inst lost  bound d+2  gap events  unchanged far  unchanged beyond +90 s  "
              "max |dHR| far  max |dRMSSD| far  min coverage after")
        for r in dropout_figures(t, x, rate, gap_at, config):
            cov = "-" if r["coverage_after"] is None else f"{r['coverage_after']:.2f}"
            print(f"      {r['d']:>5g}  {r['lost_hr']:>11d}  {r['lost_inst']:>12d}  {r['bound']:>9g}  {r['gap_events']:>10d}  "
                  f"{100 * r['same_far']:>11.1f} %  {100 * r['same_beyond_context']:>20.1f} %  {r['max_dhr']:>10.3f} bpm  {100 * r['max_drmssd']:>14.2f} %  {cov:>18}")


# ------------------------------------------------------------ wrist session
def verity(data: Path):
    """Polar Verity Sense PPG (phone clock, s), the device's PPI beat times and intervals, its HR."""
    import pandas as pd

    d = data / "polar_verity_sense_ppg_biobss"
    if not (d / "Polar_Sense_PPG.txt").is_file():
        return None
    p = pd.read_csv(d / "Polar_Sense_PPG.txt", sep=";", index_col=False)
    phone0 = pd.Timestamp(p["Phone timestamp"].iloc[0]).timestamp()
    ns = p["sensor timestamp [ns]"].to_numpy()
    t_ppg = phone0 + (ns - ns[0]) / 1e9
    x = p[["channel 0", "channel 1", "channel 2"]].mean(axis=1).to_numpy() - p["ambient"].to_numpy()
    ppi = pd.read_csv(d / "Polar_Sense_PPI.txt", sep=";", index_col=False)
    stamps = np.array([pd.Timestamp(s).timestamp() for s in ppi["Phone timestamp"]])
    ibi = ppi["PP-interval [ms]"].to_numpy() / 1000.0
    beats = stamps[0] + np.cumsum(np.concatenate([[0.0], ibi[1:]]))  # beat times from the intervals
    hr = pd.read_csv(d / "Polar_Sense_HR.txt", sep=";", index_col=False)
    t_hr = np.array([pd.Timestamp(s).timestamp() for s in hr["Phone timestamp"]])
    return t_ppg, x, beats, ibi, t_hr, hr["HR [bpm]"].to_numpy(float)


def write_e4_folder(folder: Path, data: Path, seed: int) -> dict:
    """An E4-layout folder from the Verity Sense recording with sparse IBI and motion (docstring)."""
    import neurokit2 as nk

    t_ppg, x, beats, ibi, t_hr, hr = verity(data)
    rng = np.random.default_rng(seed)
    start = math.floor(t_ppg[0])
    grid = np.arange(t_ppg[0], t_ppg[-1], 1 / 64.0)
    bvp = np.interp(grid, t_ppg, x)
    # motion: three 20-40-s stretches of noise in the PPG, IBI deleted there as well
    dur = grid[-1] - grid[0]
    motion = []
    for k in range(3):
        a = grid[0] + dur * (0.2 + 0.25 * k) + rng.uniform(-20, 20)
        motion.append((a, a + rng.uniform(20, 40)))
    sd = np.std(bvp)
    for a, b in motion:
        m = (grid >= a) & (grid < b)
        bvp[m] += 8 * sd * rng.standard_normal(m.sum())
    # sparse IBI: alternate kept runs (mean 8 beats) and deleted runs (mean 8 beats)
    keep = np.zeros(len(beats), bool)
    i, on = 0, True
    while i < len(beats):
        n = 1 + rng.poisson(7)
        keep[i : i + n] = on
        i, on = i + n, not on
    for a, b in motion:
        keep &= ~((beats >= a) & (beats < b))
    folder.mkdir(parents=True, exist_ok=True)

    def signal(name, t0, rate, values):
        with open(folder / name, "w") as f:
            f.write(f"{t0:.6f}\n{rate:.6f}\n")
            f.write("\n".join(f"{v:.6f}" for v in values) + "\n")

    signal("BVP.csv", grid[0], 64.0, bvp)
    # the E4 writes HR from 10 s after the start; the Verity's 0 bpm start-up values are dropped
    ok = hr > 0
    hr_grid = np.arange(math.ceil(t_hr[ok][0]), t_hr[-1], 1.0)
    signal("HR.csv", hr_grid[0], 1.0, np.interp(hr_grid, t_hr[ok], hr[ok]))
    eda = nk.eda_simulate(duration=int(dur) + 1, sampling_rate=4, scr_number=int(dur // 60), random_state=seed)
    signal("EDA.csv", grid[0], 4.0, eda)
    with open(folder / "IBI.csv", "w") as f:
        f.write(f"{start:.6f}, IBI\n")
        for b, v in zip(beats[keep], ibi[keep]):
            f.write(f"{b - start:.6f},{v:.6f}\n")
    return {"duration_s": dur, "ibi_kept": float(keep.mean()), "motion_s": sum(b - a for a, b in motion)}


def analyze_folder(folder: Path, out: Path) -> list[dict]:
    exe = Path(sys.executable).with_name("coregulate")
    cmd = [str(exe), "analyze", f"client={folder}", "--out", str(out), "--quiet", "--no-report"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out / "features.csv", newline="") as f:
        return list(csv.DictReader(f))


def wrist_figures(data: Path, seed: int) -> dict | None:
    if verity(data) is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "e4_from_verity", Path(tmp) / "out"
        info = write_e4_folder(folder, data, seed)
        rows = analyze_folder(folder, out)
    n = len(rows)
    src = Counter(r["heart_source"] or "(none)" for r in rows if r["hr_bpm"])
    return {
        **info, "seconds": n, "hr": sum(bool(r["hr_bpm"]) for r in rows) / n,
        "rmssd": sum(bool(r["rmssd_ms"]) for r in rows) / n,
        "good_fair": sum(r["quality"] in ("good", "fair") for r in rows) / n,
        "sources": {k: v / n for k, v in sorted(src.items())},
    }


def print_wrist(data: Path, seeds: int) -> None:
    print("Wrist-device session (E4 layout built from the Polar Verity Sense recording; `coregulate analyze` defaults)")
    print("   seed  seconds  IBI kept  motion s  hr_bpm  rmssd_ms  quality good/fair  hr_bpm by heart_source")
    shares: list[float] = []
    for seed in range(seeds):
        f = wrist_figures(data, seed)
        if f is None:
            print(f"  skipped (polar_verity_sense_ppg_biobss not in {data})")
            return
        shares.append(f["hr"])
        by = ", ".join(f"{k} {100 * v:.1f} %" for k, v in f["sources"].items())
        print(f"   {seed:>4d}  {f['seconds']:>7d}  {100 * f['ibi_kept']:>6.1f} %  {f['motion_s']:>8.0f}  "
              f"{100 * f['hr']:>5.1f} %  {100 * f['rmssd']:>6.1f} %  {100 * f['good_fair']:>15.1f} %  {by}")
    if shares:
        print(f"   hr_bpm on {100 * min(shares):.1f}-{100 * max(shares):.1f} % of seconds (target >= 95 %)")


# ------------------------------------------------------------- RR vs ECG
def strap_beats_on_ecg_clock(ecg_beats: np.ndarray, rr_ms: np.ndarray):
    """A strap's beats (rebuilt from its RR sum) placed on the ECG's clock.

    The best global offset is the one (-5..5 s by 5 ms) that gives the most strap beats an ECG beat
    within 50 ms. Returns ``(offset_s, nearest, residual, local)``: each strap beat's nearest ECG
    beat, its residual offset from it, and the running median (41 beats) of those residuals.
    """
    import pandas as pd

    sb = np.concatenate([[0.0], np.cumsum(rr_ms) / 1000.0])

    def nearest(times):
        j = np.searchsorted(ecg_beats, times).clip(1, len(ecg_beats) - 1)
        return np.where(np.abs(ecg_beats[j] - times) < np.abs(ecg_beats[j - 1] - times), ecg_beats[j], ecg_beats[j - 1])

    offsets = np.arange(-5.0, 5.0, 0.005)
    off = offsets[int(np.argmax([np.mean(np.abs(nearest(sb + o) - sb - o) < 0.05) for o in offsets]))]
    nb = nearest(sb + off)
    resid = nb - sb - off
    local = pd.Series(resid).rolling(41, center=True, min_periods=1).median().to_numpy()
    return float(off), nb, resid, local


def strap_rr_vs_ecg(data: Path) -> dict | None:
    """Intervals of the R peaks detected here from the Polar H10's 130 Hz ECG vs the strap's own RR.

    Strap beat times are rebuilt from the RR sum, aligned by the best global offset (the share of
    strap beats with an ECG beat within 50 ms, offsets -5..5 s by 5 ms), then by a running median
    (41 beats) of the residual offsets; a beat matches within 40 ms; an interval counts when both
    its beats match (different ECG beats).
    """
    import pandas as pd

    from coregulate.models.beats import BeatDetector

    f = data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
    if not f.is_file():
        return None
    df = pd.read_csv(f)
    t = (df.time_ns.to_numpy() - df.time_ns.iloc[0]) / 1e9
    x = df.ecg_mV.to_numpy() * 1000.0
    det, beats = BeatDetector(130.0, "ecg"), []
    for i in range(0, len(x), 130):
        seg = x[i : i + 130]
        beats += det.push(seg, t[i] + np.arange(len(seg)) / 130.0)
    b = np.asarray(beats + det.end_segment())
    rr = df.rr_ms.dropna().to_numpy()
    off, nb, resid, local = strap_beats_on_ecg_clock(b, rr)
    ok = np.abs(resid - local) < 0.04
    pair = ok[1:] & ok[:-1] & (nb[1:] != nb[:-1])
    diff = (np.diff(nb) * 1000.0 - rr)[pair]
    return {"offset_s": float(off), "matched": int(pair.sum()), "intervals": len(rr),
            "median_abs": float(np.median(np.abs(diff))), "p95_abs": float(np.percentile(np.abs(diff), 95)),
            "sd": float(np.std(diff)), "mean": float(np.mean(diff))}


def print_rr_vs_ecg(data: Path) -> None:
    r = strap_rr_vs_ecg(data)
    if r is None:
        print(f"Strap RR vs ECG: skipped (polar_h10_ecg not in {data})")
        return
    print(f"Strap RR vs R peaks detected from its 130 Hz ECG (polar_h10_ecg; global offset {r['offset_s']:+.3f} s): "
          f"{r['matched']} of {r['intervals']} intervals matched; ECG minus strap: median |diff| {r['median_abs']:.2f} ms, "
          f"95th percentile {r['p95_abs']:.2f} ms, SD {r['sd']:.2f} ms, mean {r['mean']:+.2f} ms")


# ------------------------------------------------------------------ latency
def latency_figures(duration_s: float = 600.0) -> dict[str, tuple[float, float]]:
    """Median and max delay (stream time at emission - the second) of the client's heart rows on
    the simulator, fed in time order in 1-s chunks, for RR alone, ECG alone and ECG + RR fused."""
    from coregulate.models.heart import HeartEstimator
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=0, duration_s=duration_s, audio=False, rr=True)
    chunks = [c for c in sim.chunks() if c.participant == "client"]
    out = {}
    for name, kinds in (("rr", {StreamKind.RR}), ("ecg", {StreamKind.ECG}), ("ecg + rr", {StreamKind.ECG, StreamKind.RR})):
        est = HeartEstimator("client", [s for s in sim.streams if s.participant == "client" and s.kind in kinds],
                             PipelineConfig())
        lat = []
        for c in chunks:
            if c.kind in kinds:
                lat += [c.t_end - t for t, _ in est.update(c)]
        out[name] = (float(np.median(lat)), float(np.max(lat)))
    return out


def print_latency() -> None:
    print("Latency of a finished heart second (simulator client, 600 s, 1-s chunks in time order)")
    for name, (med, mx) in latency_figures().items():
        print(f"   {name:>9}: median {med:.1f} s, max {mx:.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("COREGULATE_SHARED_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--gap-at", type=float, default=240.0, help="where the gap starts (session seconds)")
    ap.add_argument("--seeds", type=int, default=5, help="wrist sessions (different deletions and motion)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print_dropouts(args.data, args.gap_at)
    print()
    print_wrist(args.data, args.seeds)
    print()
    print_latency()
    print()
    print_rr_vs_ecg(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
