"""Synthetic two-microphone speech for the voice tests."""

from __future__ import annotations

import numpy as np

from coregulate.sensors.chunk import StreamInfo, StreamKind

RATE = 16000
CLIENT = StreamInfo("client", StreamKind.AUDIO, float(RATE), label="mic A")
THERAPIST = StreamInfo("therapist", StreamKind.AUDIO, float(RATE), label="mic B")


def _syllables(rng, t, f0, spans, level):
    """Voiced syllables (5 per second, 150 ms each, jittered F0) inside the given spans."""
    y = np.zeros_like(t)
    for a, b in spans:
        for s in np.arange(a, b - 0.15, 0.2):
            m = (t >= s) & (t < s + 0.15)
            d = t[m] - s
            f = f0 * 2 ** (rng.normal(0, 1.5) / 12)
            env = np.sin(np.pi * d / 0.15)
            y[m] += level * env * sum(np.sin(2 * np.pi * f * h * d) / h for h in range(1, 9))
    return y


def dyad(seconds=12.0, leak_db=15.0, seed=0, overlap=None):
    """Two lapel mics with crosstalk; returns the two signals and the scripted speech spans."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    spans_c = [(1.0, 3.0), (6.0, 8.0)]
    spans_t = [(3.5, 5.5), (8.5, 11.0)]
    if overlap:
        spans_t.append(overlap)
    vc = _syllables(rng, t, 220, spans_c, 0.05)
    vt = _syllables(rng, t, 110, spans_t, 0.05)
    g = 10 ** (-leak_db / 20)
    noise = 10 ** (-65 / 20)
    a = vc + g * vt + noise * rng.standard_normal(len(t))
    b = vt + g * vc + noise * rng.standard_normal(len(t))
    return a, b, spans_c, spans_t
