"""Frame-level acoustic features of one microphone channel (pure numpy, vectorised over frames).

A frame is identified by the session sample index where it *ends*; its features describe the
last ``window`` samples (25 ms) before that point, so a frame is final as soon as its last sample
has arrived (no look-ahead, no added latency). Frames are ``hop`` samples apart (10 ms).

Features per frame:

``energy_db``
    RMS level of the 25-ms window in dB re full scale (dBFS), floor -120 dB.
``f0_hz``
    YIN F0 (de Cheveigné & Kawahara, 2002; see :mod:`.pitch`), ``nan`` when unvoiced or silent.
``aperiodicity``
    YIN's ``d'`` at the chosen period (0 = periodic, ~1 = noise).
``alpha_db``
    Alpha ratio: energy 1-5 kHz over 50 Hz-1 kHz in dB, from a Hann-windowed spectrum of the 25-ms
    window (Patel et al., 2011; eGeMAPS, Eyben et al., 2016). Spectral balance rises with vocal
    effort independently of microphone gain, which makes it usable on peak-normalised recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .pitch import YinConfig, yin

FRAME_CHANNELS = ("energy_db", "f0_hz", "aperiodicity", "alpha_db")

ENERGY_FLOOR_DB = -120.0


@dataclass(frozen=True)
class FrameConfig:
    """Framing and pitch settings (16 kHz, 10-ms hop, 25-ms window by default).

    Parameters
    ----------
    rate : int
        Sample rate of the audio in Hz.
    hop : int
        Samples between frames.
    pitch_min_db : float
        Frames quieter than this (dBFS) skip the pitch search: silence has no F0 and YIN is the
        costliest step.
    """

    rate: int = 16000
    hop: int = 160
    pitch_min_db: float = -60.0
    yin: YinConfig = field(default_factory=YinConfig)

    @property
    def window(self) -> int:
        return self.yin.window

    @property
    def context(self) -> int:
        """Samples each frame looks back over (pitch needs the window plus the longest period)."""
        return self.yin.frame_length


class FrameAnalyzer:
    """Features of frames cut from a signal buffer; stateless apart from cached constants."""

    def __init__(self, cfg: FrameConfig | None = None) -> None:
        self.cfg = cfg or FrameConfig()
        if self.cfg.yin.rate != self.cfg.rate:
            raise ValueError("YIN rate must equal the frame rate")
        w = self.cfg.window
        self._nfft = 1 << int(np.ceil(np.log2(w)))
        self._hann = np.hanning(w)
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / self.cfg.rate)
        self._lo = (freqs >= 50) & (freqs < 1000)
        self._hi = (freqs >= 1000) & (freqs < 5000)

    def analyse(self, buf: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
        """Features of the frames ending at buffer positions ``ends`` (exclusive end indices).

        ``buf`` must hold at least ``cfg.context`` samples before every end.
        """
        cfg = self.cfg
        n = len(ends)
        out = {k: np.full(n, np.nan) for k in FRAME_CHANNELS}
        if n == 0:
            return out
        ctx, w = cfg.context, cfg.window
        # Time-reversed frames: YIN integrates over the first W samples of its frame, and
        # periodicity is symmetric in time, so reversing puts the analysis on the most recent
        # 25 ms and looks back one period for the lags.
        starts = ends - ctx
        idx = starts[:, None] + np.arange(ctx)[None, ::-1]
        frames = buf[idx]
        win = frames[:, :w]
        ms = np.mean(win * win, axis=1)
        energy = 10.0 * np.log10(np.maximum(ms, 1e-12))
        out["energy_db"] = energy
        loud = energy > cfg.pitch_min_db
        if loud.any():
            f0, ap = yin(frames[loud], cfg.yin)
            out["f0_hz"][loud] = f0
            out["aperiodicity"][loud] = ap
            spec = np.abs(np.fft.rfft(win[loud] * self._hann, self._nfft)) ** 2
            lo = spec[:, self._lo].sum(axis=1)
            hi = spec[:, self._hi].sum(axis=1)
            out["alpha_db"][loud] = 10.0 * np.log10(np.maximum(hi, 1e-20) / np.maximum(lo, 1e-20))
        return out
