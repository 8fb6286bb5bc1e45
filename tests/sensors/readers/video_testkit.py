"""A synthetic one-camera session video, generated in the test (nothing is downloaded or shipped).

Two textured patches (the people) on a still textured background. Each patch is cut into
``BANDS`` horizontal bands ("limbs"); in scripted second ``i`` the first ``m[i]`` bands of the
client's patch jitter (shifted 0 / 4 px on alternate frames) and the rest stay still, so the
share of the patch that moves is the script. The therapist's patch copies the client's script
``lag_s`` seconds later. Sensor noise (Gaussian, SD ``noise`` grey levels, new every frame) covers
the whole frame, and lossy H.264 coding adds its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BANDS = 8


def scripted_levels(seconds: int, seed: int = 0) -> np.ndarray:
    """Moving bands per second, 0..BANDS (held 1-3 s, so it looks like bouts of movement)."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    while len(out) < seconds:
        out += [int(rng.integers(0, BANDS + 1))] * int(rng.integers(1, 4))
    return np.array(out[:seconds])


def write_dyad_video(path: Path, seconds: int = 120, fps: int = 25, size=(320, 240), lag_s: int = 2,
                     noise: float = 3.0, seed: int = 0, crf: int = 20, audio_envelope=None,
                     client_levels=None) -> dict[str, np.ndarray]:
    """Write the video; return the per-second scripts ``{"client": m, "therapist": m shifted}``.

    ``audio_envelope`` (per-second amplitudes, optional) adds an AAC soundtrack of a 440 Hz tone
    with that envelope. ``client_levels`` (moving bands per second, optional) replaces the random
    script.
    """
    import av

    w, h = size
    rng = np.random.default_rng(seed)
    client = scripted_levels(seconds, seed) if client_levels is None else np.asarray(client_levels, int)[:seconds]
    therapist = np.r_[np.zeros(lag_s, int), client[: seconds - lag_s]]
    background = rng.integers(60, 110, size=(h, w)).astype(np.float32)
    ph, pw = int(h * 0.7), int(w * 0.3)
    patches = [rng.integers(0, 256, size=(ph, pw + 8)).astype(np.float32) for _ in range(2)]
    origins = [(int(h * 0.15), int(w * 0.1)), (int(h * 0.15), int(w * 0.6))]
    band_h = ph // BANDS
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": str(crf)}
        a_s = None
        if audio_envelope is not None:
            a_s = c.add_stream("aac", rate=16000)
            a_s.layout = "mono"
        for k in range(seconds * fps):
            sec = k // fps
            frame = background.copy()
            for patch, (r0, c0), m in zip(patches, origins, (client[sec], therapist[sec])):
                for b in range(BANDS):
                    shift = 4 * (k % 2) if b < m else 0
                    rows = slice(b * band_h, (b + 1) * band_h)
                    frame[r0 + b * band_h: r0 + (b + 1) * band_h, c0: c0 + pw] = patch[rows, shift: shift + pw]
            frame += rng.normal(0, noise, size=frame.shape)
            grey = np.clip(frame, 0, 255).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(grey, format="gray")
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a_s is not None:
            sr = 16000
            t = np.arange(seconds * sr) / sr
            env = np.repeat(np.asarray(audio_envelope, float)[:seconds], sr)
            x = (0.5 * env * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, len(x), 1024):
                af = av.AudioFrame.from_ndarray(x[None, i: i + 1024], format="flt", layout="mono")
                af.sample_rate = sr
                af.pts = i
                for p in a_s.encode(af):
                    c.mux(p)
            for p in a_s.encode():
                c.mux(p)
    return {"client": client, "therapist": therapist}
