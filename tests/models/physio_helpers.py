"""Shared helpers of the physiology tests: real data readers (numpy/pandas only) and synthetic series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coregulate.models.registry import Registry
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.dropout import chunks_with_dropout


def polar_ecg(shared_data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Session times (s), ECG (uV) and the strap's own RR intervals (ms) of polar_h10_ecg."""
    df = pd.read_csv(shared_data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv")
    t = (df.time_ns.to_numpy() - df.time_ns.iloc[0]) / 1e9
    return t, df.ecg_mV.to_numpy() * 1000.0, df.rr_ms.dropna().to_numpy()


def ecg_chunks(t: np.ndarray, ecg: np.ndarray, participant: str = "client", rate: float = 130.0, step: int = 130):
    """ECG as irregular-time-free regular chunks: each chunk keeps its first sample's real time."""
    info = StreamInfo(participant, StreamKind.ECG, rate=rate)
    return info, [Chunk(info, ecg[i : i + step], t0=float(t[i])) for i in range(0, len(ecg), step)]


def rr_series(n: int, seed: int = 0, mean: float = 850.0, sd: float = 40.0, resp_hz: float = 0.25) -> np.ndarray:
    """Plausible NN intervals (ms): respiratory sinus arrhythmia + noise."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(np.full(n, mean / 1000))
    return mean + 30 * np.sin(2 * np.pi * resp_hz * t) + sd * rng.standard_normal(n) * 0.5


def rr_chunks(beat_t: np.ndarray, rr_ms: np.ndarray, participant: str = "client", per: int = 5, **kw):
    info = StreamInfo(participant, StreamKind.RR)
    return info, [Chunk(info, rr_ms[i : i + per], times=beat_t[i : i + per], **kw) for i in range(0, len(rr_ms), per)]


def run(est, chunks) -> list:
    out = []
    for c in chunks:
        out += est.update(c)
    out += est.finish()
    return out


def drivedb(shared_data: Path, record: str) -> dict:
    """ECG (uV) and hand GSR of a drivedb record at their own rates (frames not smoothed)."""
    import wfdb

    r = wfdb.rdrecord(str(shared_data / "drivedb" / record), smooth_frames=False)
    out = {}
    for name, key, scale in (("ECG", "ecg", 1000.0), ("hand GSR", "eda", 1.0)):
        i = r.sig_name.index(name)
        out[key] = (np.asarray(r.e_p_signal[i], float) * scale, float(r.fs * r.samps_per_frame[i]))
    seg = pd.read_csv(shared_data / "drivedb" / "segments_inferred.csv")
    out["segments"] = seg[seg.record == record]
    return out


def cut_ecg_chunks(t: np.ndarray, x: np.ndarray, rate: float, gap: tuple[float, float] | None,
                   participant: str = "client", step: int | None = None):
    """ECG chunks of about 1 s with the samples in ``gap`` removed (see :mod:`coregulate.sensors.dropout`)."""
    info = StreamInfo(participant, StreamKind.ECG, rate=rate)
    return info, chunks_with_dropout(info, t, x, gap, step or int(round(rate)))


class PassThroughHeart:
    """Test stand-in for the provisional heart: every RR beat straight through."""

    def __init__(self, participant, streams, config):
        self.participant = participant

    def update(self, chunk):
        if chunk.kind != StreamKind.RR or not len(chunk):
            return []
        times = [float(t) for t in chunk.sample_times()]
        hrs = [60000.0 / float(v) for v in np.asarray(chunk.values, float)]
        return [{"participant": self.participant, "t": times[-1], "hr_inst_bpm": hrs[-1], "hr_bpm": None,
                 "heart_source": "rr", "beat_times": times, "beat_hr_bpm": hrs, "beat_source": "rr"}]


class PassThroughRegistry(Registry):
    """The real registry with :class:`PassThroughHeart` as the provisional heart."""

    def provisional_heart(self, participant, streams, config):
        return PassThroughHeart(participant, streams, config)
