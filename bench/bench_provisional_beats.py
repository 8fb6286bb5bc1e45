"""Provisional (streaming) beats against references, against the final detector, and what they cost.

The provisional tier's detectors (:mod:`coregulate.models.provisional_beats`) are scored the way
``bench/validate_heart.py`` scores the final :class:`~coregulate.models.beats.BeatDetector`, and
the final detector runs on the same signal in the same process (1-s chunks, default options):

* ECG, MIT-BIH 100 and 105 (``ecg_annotated_wfdb``, MLII, 360 Hz): sensitivity and positive
  predictivity against the cardiologists' beat labels (150 ms, ``wfdb.processing.compare_annotations``),
  for both detectors.
* ECG, Polar H10 (``polar_h10_ecg``, 130 Hz): the strap's own RR intervals are the reference;
  its beat times are rebuilt from their sum and placed on the ECG's clock as
  ``bench/validate_heart_fusion.py`` does (best global offset, then a 41-beat running median of
  the residual against the final detector's beats); sensitivity and PPV against them (150 ms).
* PPG (no beat labels): finger PPG of ``neurokit_bio/bio_resting_5min_100hz`` and the ICU
  records' PLETH (250 Hz): agreement with the final detector's beats only.
* For every record: share of final beats with a provisional beat within 150 ms, median and 95th
  percentile of |provisional - final| over those pairs, and the **confirmation delay**: the
  session time of the last sample of the chunk that confirmed a beat minus the beat's time,
  p50/p99/max, with chunks as the device sends them (``--chunk-s``, default 0.56 s: a Polar
  H10's ECG packet of 73 samples) and with one-sample chunks (the detector's own look-ahead;
  on the first 120 s of each record, as a call per sample is slow).
* Provisional against final heart rate (Polar H10 ECG alone, 73-sample chunks): each final row's
  ``hr_bpm`` (``HeartEstimator``, default configuration) against the newest provisional value
  (``ProvisionalHeart``) with ``t`` at or before that second; median and 95th percentile of the
  absolute difference, the share of the final rows with ``hr_bpm`` that had a provisional one,
  and the age of each provisional value when it was produced (newest sample time - ``t``).
* CPU per hour of 130-Hz ECG (Polar H10 recording, ``--repeat`` passes): process time of the
  provisional detector and of the final detector on the same samples in the same chunks, and
  their ratio.

    .venv/bin/python bench/bench_provisional_beats.py [--data DIR] [--chunk-s 0.56] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from coregulate.models.beats import BeatDetector
from coregulate.models.config import PipelineConfig
from coregulate.models.heart import HeartEstimator
from coregulate.models.provisional_beats import StreamingEcgDetector, StreamingPpgDetector
from coregulate.models.provisional_heart import ProvisionalHeart
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from validate_heart_fusion import strap_beats_on_ecg_clock  # bench/ is on the path of a script run from it

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")
DEFAULT_DATA = Path(os.environ.get("COREGULATE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def chunked(x: np.ndarray, t: np.ndarray, step: int):
    for i in range(0, len(x), step):
        yield x[i : i + step], t[i : i + step]


def final_beats(x: np.ndarray, t: np.ndarray, fs: float, kind: str, step: int) -> np.ndarray:
    det, beats = BeatDetector(fs, kind), []
    for v, tt in chunked(x, t, step):
        beats += det.push(v, tt)
    return np.array(beats + det.end_segment())


def provisional_beats(x: np.ndarray, t: np.ndarray, fs: float, kind: str, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Beats and their confirmation delays (s)."""
    det = StreamingEcgDetector(fs) if kind == "ecg" else StreamingPpgDetector(fs)
    beats, delays = [], []
    for v, tt in chunked(x, t, step):
        new = det.push(v, tt)
        beats += new
        delays += [det.confirmed_at.pop(b) - b for b in new]
    return np.array(beats), np.array(delays)


def match(ref: np.ndarray, test: np.ndarray, tol: float = 0.15) -> tuple[int, int, int]:
    """Greedy one-to-one matching of sorted beat times within ``tol``: (tp, fn, fp)."""
    i = j = tp = 0
    while i < len(ref) and j < len(test):
        d = test[j] - ref[i]
        if abs(d) <= tol:
            tp, i, j = tp + 1, i + 1, j + 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return tp, len(ref) - tp, len(test) - tp


def agreement(final: np.ndarray, prov: np.ndarray) -> dict:
    j = np.searchsorted(prov, final).clip(1, max(1, len(prov) - 1))
    near = np.where(np.abs(prov[j] - final) < np.abs(prov[j - 1] - final), prov[j], prov[j - 1])
    d = near - final
    ok = np.abs(d) <= 0.15
    return {"found": 100 * ok.mean(), "med_abs_ms": 1000 * np.median(np.abs(d[ok])),
            "p95_abs_ms": 1000 * np.percentile(np.abs(d[ok]), 95), "med_ms": 1000 * np.median(d[ok])}


#: one-sample chunks cost a Python call per sample: the detector's own look-ahead is measured on
#: the first OWN_DELAY_S seconds of each record
OWN_DELAY_S = 120.0


def delays(x, t, fs, kind, step, dev: np.ndarray) -> dict:
    n = int(OWN_DELAY_S * fs)
    _, own = provisional_beats(x[:n], t[:n], fs, kind, 1)
    return {"dev": np.percentile(dev, [50, 99, 100]), "own": np.percentile(own, [50, 99, 100])}


def row(name: str, fs: float, r: dict) -> None:
    line = f"{name:<34} {fs:5.0f} Hz  "
    if "se" in r:
        line += f"Se {r['se']:6.2f} PPV {r['ppv']:6.2f} (final {r['fse']:6.2f}/{r['fppv']:6.2f})  "
    else:
        line += " " * 46
    a, d = r["agree"], r["delay"]
    line += (f"final found {a['found']:5.1f} %  |dt| med {a['med_abs_ms']:5.1f} p95 {a['p95_abs_ms']:5.1f} ms "
             f"(signed med {a['med_ms']:+5.1f})  delay p50/p99/max {d['dev'][0]:.2f}/{d['dev'][1]:.2f}/{d['dev'][2]:.2f} s"
             f" (1-sample chunks, first {OWN_DELAY_S:.0f} s {d['own'][0]:.2f}/{d['own'][1]:.2f}/{d['own'][2]:.2f})")
    print(line)


def mitbih(data: Path, record: str, chunk_s: float) -> tuple[str, float, dict]:
    import wfdb

    path = str(data / "ecg_annotated_wfdb" / record)
    rec, ann = wfdb.rdrecord(path), wfdb.rdann(path, "atr")
    fs = float(rec.fs)
    x = rec.p_signal[:, 0]
    t = np.arange(len(x)) / fs
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS]) / fs
    step = max(1, int(round(chunk_s * fs)))
    fin = final_beats(x, t, fs, "ecg", int(fs))
    prov, dev = provisional_beats(x, t, fs, "ecg", step)
    tp, fn, fp = match(ref, prov)
    ftp, ffn, ffp = match(ref, fin)
    return (f"MIT-BIH {record} (MLII)", fs, {
        "se": 100 * tp / (tp + fn), "ppv": 100 * tp / (tp + fp), "fse": 100 * ftp / (ftp + ffn),
        "fppv": 100 * ftp / (ftp + ffp), "agree": agreement(fin, prov), "delay": delays(x, t, fs, "ecg", step, dev)})


def polar_signal(data: Path):
    import pandas as pd

    df = pd.read_csv(data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv")
    t = (df.time_ns.to_numpy() - df.time_ns.iloc[0]) / 1e9
    return t, df.ecg_mV.to_numpy() * 1000.0, df.rr_ms.dropna().to_numpy()


def polar(data: Path, chunk_s: float) -> tuple[str, float, dict]:

    t, x, rr = polar_signal(data)
    fs = 130.0
    step = max(1, int(round(chunk_s * fs)))
    fin = final_beats(x, t, fs, "ecg", 130)
    prov, dev = provisional_beats(x, t, fs, "ecg", step)
    # the strap's beats on the ECG clock, smoothed by the running median of their offsets
    off, nearest_ecg, resid, local = strap_beats_on_ecg_clock(fin, rr)
    ref = nearest_ecg - resid + local
    ref = ref[(ref > t[0]) & (ref < t[-1])]
    tp, fn, fp = match(ref, prov)
    ftp, ffn, ffp = match(ref, fin)
    return ("Polar H10 (strap RR as reference)", fs, {
        "se": 100 * tp / (tp + fn), "ppv": 100 * tp / (tp + fp), "fse": 100 * ftp / (ftp + ffn),
        "fppv": 100 * ftp / (ftp + ffp), "agree": agreement(fin, prov), "delay": delays(x, t, fs, "ecg", step, dev)})


def ppg_records(data: Path):
    import pandas as pd
    import wfdb

    f = pd.read_csv(data / "neurokit_bio" / "bio_resting_5min_100hz.csv")
    yield "PPG neurokit bio_resting_5min", f["PPG"].to_numpy(float), 100.0
    for rec in ("v102s", "a103l"):
        r = wfdb.rdrecord(str(data / "ecg_annotated_wfdb" / "unannotated_ecg_ppg_250hz" / rec))
        x = r.p_signal[:, r.sig_name.index("PLETH")]
        yield f"PPG ICU {rec} PLETH", x, float(r.fs)


def ppg(name: str, x: np.ndarray, fs: float, chunk_s: float) -> tuple[str, float, dict]:
    good = np.isfinite(x)
    if not good.all():  # keep the longest finite stretch (the detectors would end their segment there)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], good.astype(np.int8), [0]])))
        a, b = max(zip(edges[::2], edges[1::2]), key=lambda ab: ab[1] - ab[0])
        x = x[a:b]
    t = np.arange(len(x)) / fs
    step = max(1, int(round(chunk_s * fs)))
    fin = final_beats(x, t, fs, "ppg", int(fs))
    prov, dev = provisional_beats(x, t, fs, "ppg", step)
    return name, fs, {"agree": agreement(fin, prov), "delay": delays(x, t, fs, "ppg", step, dev)}


def heart_agreement(data: Path, chunk_s: float) -> None:
    t, x, _ = polar_signal(data)
    info = StreamInfo("client", StreamKind.ECG, 130.0)
    step = max(1, int(round(chunk_s * 130.0)))
    cfg = PipelineConfig()
    final, prov = HeartEstimator("client", [info], cfg), ProvisionalHeart("client", [info], cfg)
    rows, values, ages = [], [], []
    for i in range(0, len(x), step):
        c = Chunk(info, x[i : i + step], t0=float(t[i]))
        rows += final.update(c)
        for v in prov.update(c):
            values.append((v["t"], v["hr_bpm"]))
            ages.append(float(c.sample_times()[-1]) - v["t"])
    rows += final.finish()
    vt = np.array([v[0] for v in values])
    diffs, missing = [], 0
    for t_s, r in rows:
        if r["hr_bpm"] is None:
            continue
        k = int(np.searchsorted(vt, t_s, side="right")) - 1
        if k < 0 or values[k][1] is None:
            missing += 1
            continue
        diffs.append(abs(values[k][1] - r["hr_bpm"]))
    d = np.array(diffs)
    print(f"hr_bpm, provisional vs final (polar_h10_ecg, ECG only, {step}-sample chunks): {len(d)} of {len(d) + missing} "
          f"final seconds with hr_bpm had a provisional one; |difference| median {np.median(d):.2f} bpm, "
          f"p95 {np.percentile(d, 95):.2f} bpm, max {d.max():.2f} bpm; age of provisional values when produced "
          f"p50/p99 {np.percentile(ages, 50):.2f}/{np.percentile(ages, 99):.2f} s")


def cpu(data: Path, chunk_s: float, repeat: int) -> None:
    t, x, _ = polar_signal(data)
    fs, step = 130.0, max(1, int(round(chunk_s * 130.0)))
    hours = repeat * (t[-1] - t[0]) / 3600.0
    cost = {}
    for name, make in (("final BeatDetector", lambda: BeatDetector(fs, "ecg")), ("StreamingEcgDetector", lambda: StreamingEcgDetector(fs))):
        t0 = time.process_time()
        for k in range(repeat):
            det = make()
            for v, tt in chunked(x, t + k * 700.0, step):
                det.push(v, tt)
            det.end_segment()
        cost[name] = (time.process_time() - t0) / hours
    f, p = cost["final BeatDetector"], cost["StreamingEcgDetector"]
    print(f"CPU per hour of 130-Hz ECG ({step}-sample chunks, {repeat} x {t[-1] - t[0]:.0f} s of polar_h10_ecg): "
          f"final detector {f:.2f} s, provisional {p:.2f} s, ratio provisional/final {p / f:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--chunk-s", type=float, default=0.56, help="chunk length fed to the provisional detector (s)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the Polar recording for the CPU figure")
    a = ap.parse_args()
    print(f"chunks of {a.chunk_s:g} s for the provisional detector (delays), 1 s for the final one; tolerance 150 ms")
    for rec in ("100", "105"):
        row(*mitbih(a.data, rec, a.chunk_s))
    row(*polar(a.data, a.chunk_s))
    for name, x, fs in ppg_records(a.data):
        row(*ppg(name, x, fs, a.chunk_s))
    heart_agreement(a.data, a.chunk_s)
    cpu(a.data, a.chunk_s, a.repeat)


if __name__ == "__main__":
    main()
