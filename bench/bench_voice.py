"""Voice path benchmark: real-time factor, block-to-feature latency, pitch accuracy and speed.

Run:  .venv/bin/python bench/bench_voice.py [--seconds 120] [--block 0.02]

Times are CPU time of the benchmarking thread (``time.thread_time``), best of ``--repeat`` runs,
so that other processes on a shared machine inflate them as little as possible.

* Real-time factor of the whole voice path (AudioFrontEnd + one VoiceEstimator per person) per
  channel on one core, fed the simulator's two microphones in live-sized blocks; the baseline run
  in the same process is the same path with pitch at the full 16 kHz rate (no decimation).
* Added latency from an audio block to the feature row: for each second, the time from the
  arrival of the block that completes it until the row exists = the block's own wait for the
  second's last sample (<= one block) + compute time of that block.
* YIN accuracy on harmonic tones 80-400 Hz and its speed per second of audio.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from coregulate.models import prosody  # noqa: E402
from coregulate.models.audio_frontend import AudioFrontEnd  # noqa: E402
from coregulate.models.config import PipelineConfig  # noqa: E402
from coregulate.models.pitch import YinConfig, yin  # noqa: E402
from coregulate.models.prosody import Decimator, FrameAnalyzer, FrameConfig  # noqa: E402
from coregulate.models.voice import VoiceEstimator  # noqa: E402
from coregulate.sensors.chunk import Chunk, StreamKind  # noqa: E402
from coregulate.sensors.simulator import Simulator  # noqa: E402

RATE = 16000


def simulator_audio(seconds: float):
    sim = Simulator(seed=0, duration_s=max(seconds, 301.0), audio=True, rr=False)
    streams = [s for s in sim.streams if s.kind is StreamKind.AUDIO]
    parts = {s.participant: [] for s in streams}
    for c in sim.chunks():
        if c.start >= seconds:
            break
        if c.kind is StreamKind.AUDIO:
            parts[c.participant].append(c.values)
    return streams, {p: np.concatenate(v) for p, v in parts.items()}


def run_path(streams, audio, block_s: float, cfg: PipelineConfig):
    """Feed both microphones block by block; return (compute seconds, per-second latencies)."""
    fe = AudioFrontEnd(streams, cfg)
    est = {s.participant: VoiceEstimator(s.participant, fe.prosody_streams, cfg) for s in fe.prosody_streams}
    n = len(next(iter(audio.values())))
    blk = int(round(block_s * RATE))
    busy = 0.0
    latencies = []
    for i0 in range(0, n, blk):
        t_block_end = min(i0 + blk, n) / RATE
        t = time.thread_time()
        emitted = []
        for s in streams:
            c = Chunk(s, audio[s.participant][i0 : i0 + blk], t0=i0 / RATE)
            for pc in fe.update(c):
                emitted += est[pc.participant].update(pc)
        dt = time.thread_time() - t
        busy += dt
        for t_s, _ in emitted:
            # the second t_s was complete at session time t_s; its row exists after this block
            latencies.append((t_block_end - t_s) + dt)
    return busy, np.array(latencies)


def vad_agreement(seconds: float = 300.0):
    """Frame agreement (10 ms) of the energy VAD and of the crosstalk attribution with the
    simulator's scripted utterances, and of WebRTC VAD (MIT, ``webrtcvad-wheels``) when importable.
    Truth for a microphone's VAD = anyone speaking (the mic hears both); for attribution = the
    person's own utterances."""
    from coregulate.models.audio_frontend import PROSODY_CHANNELS

    sim = Simulator(seed=0, duration_s=max(seconds, 301.0), audio=True, rr=False)
    streams = [s for s in sim.streams if s.kind is StreamKind.AUDIO]
    fe = AudioFrontEnd(streams, PipelineConfig())
    frames, raw = {}, {s.participant: [] for s in streams}
    for c in sim.chunks():
        if c.start >= seconds:
            break
        if c.kind is StreamKind.AUDIO:
            raw[c.participant].append(c.values)
            for pc in fe.update(c):
                frames.setdefault(pc.participant, []).append(pc)
    try:
        import webrtcvad
    except ImportError:
        webrtcvad = None
    out = {}
    for who, chunks in frames.items():
        t = np.concatenate([c.times for c in chunks])
        v = np.vstack([c.values for c in chunks])
        mid = t - 0.005
        own = np.array([sim.truth.speaking(who, x) for x in mid])
        anyone = np.array([any(sim.truth.speaking(o, x) for o in sim.participants) for x in mid])
        vad = v[:, PROSODY_CHANNELS.index("vad")] > 0.5
        sp = v[:, PROSODY_CHANNELS.index("speech")] > 0.5
        row = {"vad_vs_anyone": float(np.mean(vad == anyone)), "speech_vs_own": float(np.mean(sp == own)),
               "speech_recall": float(np.mean(sp[own])), "speech_false_pos": float(np.mean(sp[~own]))}
        if webrtcvad is not None:
            x = np.concatenate(raw[who])
            pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
            det = webrtcvad.Vad(2)
            w = np.array([det.is_speech(pcm[i * 160:(i + 1) * 160].tobytes(), RATE) for i in range(len(t))])
            row["webrtc_vs_anyone"] = float(np.mean(w == anyone))
            row["energy_vad_vs_webrtc"] = float(np.mean(w == vad))
        out[who] = row
    return out


def pitch_accuracy():
    errs = []
    cfg = FrameConfig.for_rate(RATE)
    fa, rng = FrameAnalyzer(cfg), np.random.default_rng(0)
    for f0 in np.geomspace(80, 400, 25):
        t = np.arange(RATE // 2) / RATE
        x = sum(0.7**h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) for h in range(1, 11))
        x = 0.2 * x / np.abs(x).max() + 0.003 * rng.standard_normal(len(t))
        ends = np.arange(cfg.context + cfg.hop, len(x) + 1, cfg.hop)
        est = fa.analyse(x, Decimator(cfg).filter(x), ends)["f0_hz"]
        errs.append(np.nanmax(np.abs(est / f0 - 1)) if np.isfinite(est).all() else np.inf)
    return float(np.max(errs))


def pitch_speed(decimate: bool, reps: int = 30) -> float:
    """ms of YIN per second of audio (100 frames)."""
    yc = YinConfig(rate=8000.0, window=200) if decimate else YinConfig()
    frames = np.random.default_rng(1).standard_normal((100, yc.frame_length))
    best = np.inf
    for _ in range(5):
        t = time.thread_time()
        for _ in range(reps):
            yin(frames, yc)
        best = min(best, (time.thread_time() - t) / reps)
    return best * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0, help="audio per channel (simulator, from t=0)")
    ap.add_argument("--block", type=float, default=0.02, help="live block length in seconds")
    ap.add_argument("--vad-seconds", type=float, default=300.0, help="simulator audio for the VAD check (0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (best is kept)")
    args = ap.parse_args()

    streams, audio = simulator_audio(args.seconds)
    n_ch = len(streams)
    dur = len(next(iter(audio.values()))) / RATE
    cfg = PipelineConfig()

    def best(block):
        runs = [run_path(streams, audio, block, cfg) for _ in range(args.repeat)]
        return min(runs, key=lambda r: r[0])

    busy, lat = best(args.block)
    # baseline: same path, pitch at 16 kHz (no decimation)
    orig = FrameConfig.for_rate
    prosody.FrameConfig.for_rate = classmethod(  # type: ignore[assignment]
        lambda cls, rate, fmin=60.0, fmax=500.0, threshold=0.15: cls(
            rate=rate, hop=rate // 100, window=int(0.025 * rate), decimate=1,
            yin=YinConfig(rate=float(rate), fmin=fmin, fmax=fmax, window=int(0.025 * rate), threshold=threshold)))
    try:
        busy_base, _ = best(args.block)
    finally:
        prosody.FrameConfig.for_rate = orig  # type: ignore[assignment]
    busy_big, _ = best(1.0)

    rtf = dur * n_ch / busy
    print(f"audio: {dur:.0f} s x {n_ch} channels (simulator seed 0), blocks of {args.block * 1e3:.0f} ms")
    print(f"voice path, decimated pitch : {busy:.2f} s compute -> real-time factor {rtf:.0f}x per channel")
    print(f"baseline, pitch at 16 kHz   : {busy_base:.2f} s compute -> {dur * n_ch / busy_base:.0f}x per channel "
          f"(speed-up {busy_base / busy:.2f}x)")
    print(f"same, 1-s blocks            : {busy_big:.2f} s compute -> {dur * n_ch / busy_big:.0f}x per channel")
    print(f"block->feature latency beyond the 1-s step: median {np.median(lat) * 1e3:.1f} ms, "
          f"p99 {np.percentile(lat, 99) * 1e3:.1f} ms, max {lat.max() * 1e3:.1f} ms "
          f"(block {args.block * 1e3:.0f} ms + compute)")
    print(f"YIN F0 max error on harmonic tones 80-400 Hz: {pitch_accuracy() * 100:.3f} %")
    d, f = pitch_speed(True), pitch_speed(False)
    print(f"YIN per second of audio (100 frames): {d:.2f} ms at 8 kHz, {f:.2f} ms at 16 kHz "
          f"(ratio {f / d:.2f}x)")
    if args.vad_seconds > 0:
        for who, row in vad_agreement(args.vad_seconds).items():
            print(f"{who:9s} frame agreement over {args.vad_seconds:.0f} s: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)")


if __name__ == "__main__":
    main()
