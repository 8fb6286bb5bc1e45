"""Speed and memory of the streaming file readers.

Baseline, in the same process: loading the same file whole (pandas.read_csv for text, wfdb.rdrecord
for WFDB, soundfile.read + resample_poly for audio). Reported per input: read time, real-time factor
(recorded seconds per wall second), ratio reader / whole-file baseline, and the peak Python memory
(tracemalloc) of the streaming reader vs the baseline, which shows the reader never holds the file.

    .venv/bin/python bench/bench_readers.py [--minutes 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from coregulate.sensors.readers import open_reader
from coregulate.sensors.spec import parse_spec

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("COREGULATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_polar_ecg(path: Path, minutes: float) -> float:
    from coregulate.sensors.readers.synthetic import write_polar_ecg as w

    n = int(minutes * 60 * 130)
    w(path, n=n)
    return n / 130.0


def drain(spec: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = open_reader(parse_spec(spec))
    n = sum(len(c) for c in r.chunks())
    return time.perf_counter() - t, n


def peak(fn) -> float:
    tracemalloc.start()
    fn()
    _, p = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return p / 1e6


def row(name, spec, seconds, baseline, size):
    dt, n = drain(spec)
    bt = time.perf_counter()
    baseline()
    bt = time.perf_counter() - bt
    mem = peak(lambda: drain(spec))
    bmem = peak(baseline)
    print(f"{name:<28} {size / 1e6:7.1f} MB {n:>9} samples  {dt:6.2f} s  x{seconds / dt:8.0f} real time  "
          f"reader/whole-load {dt / bt:5.2f}  peak {mem:6.1f} MB vs whole-load {bmem:6.1f} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the synthetic Polar ECG file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "polar_ecg.txt"
        secs = write_polar_ecg(p, args.minutes)
        row(f"Polar ECG {args.minutes:g} min (synthetic)", f"client={p}", secs,
            lambda: pd.read_csv(p, sep=";"), p.stat().st_size)
        import soundfile as sf
        from scipy.signal import resample_poly

        w = Path(d) / "long.wav"
        sr, secs = 44100, 300
        sf.write(w, np.random.default_rng(0).uniform(-0.5, 0.5, sr * secs).astype(np.float32), sr, subtype="FLOAT")
        row("WAV 5 min 44.1k->16k (synth.)", f"client={w}", float(secs),
            lambda: resample_poly(sf.read(w)[0], 16000, sr), w.stat().st_size)
    if DATA.is_dir():
        f = DATA / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
        row("polar_h10 CSV mapping", f"client={f}?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm", 600.0,
            lambda: pd.read_csv(f), f.stat().st_size)
        f = DATA / "neurokit_bio" / "bio_resting_8min_100hz.csv"
        row("neurokit 8 min, rate=100", f"client={f}?rate=100&ecg=ECG:mV&resp=RSP&eda=EDA:uS", 506.82,
            lambda: pd.read_csv(f), f.stat().st_size)
        import wfdb

        rec = DATA / "drivedb" / "drive17a"
        row("drivedb drive17a (WFDB)", f"client={rec}", 1742.1,
            lambda: wfdb.rdrecord(str(rec), smooth_frames=False), (DATA / "drivedb" / "drive17a.dat").stat().st_size)
        import soundfile as sf
        from scipy.signal import resample_poly

        wavs = sorted((DATA / "emodb_speech" / "wav").glob("*.wav"))[:1]
        for w in wavs:
            row(f"emodb {w.name} 22.05k->16k", f"client={w}", 2.0,
                lambda: resample_poly(sf.read(w)[0], 16000, 22050), w.stat().st_size)
    else:
        print(f"(real data not found at {DATA}: only the synthetic file was measured)")


if __name__ == "__main__":
    main()
