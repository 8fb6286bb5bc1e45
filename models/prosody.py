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
``peak_db``
    Largest absolute sample of the 25-ms window in dB re full scale: frames at full scale betray a
    clipped or peak-normalised recording, whose level says little about vocal effort (used by
    :mod:`.voice` to weight ``loudness_db``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, sosfilt

from .pitch import YinConfig, yin

FRAME_CHANNELS = ("energy_db", "f0_hz", "aperiodicity", "alpha_db", "peak_db")



@dataclass(frozen=True)
class FrameConfig:
    """Framing and pitch settings (10-ms hop, 25-ms window).

    Parameters
    ----------
    rate : int
        Sample rate of the audio in Hz.
    hop : int
        Samples between frames.
    window : int
        Samples of the level/spectrum window.
    decimate : int
        Pitch runs on the signal low-passed and decimated by this factor (16 kHz -> 8 kHz: speech
        F0 and the harmonics YIN relies on lie far below 4 kHz, and it halves the cost of the
        costliest step).
    pitch_min_db : float
        Frames quieter than this (dBFS) skip the pitch search: silence has no F0.
    yin : YinConfig
        YIN settings at the decimated rate.
    """

    rate: int = 16000
    hop: int = 160
    window: int = 400
    decimate: int = 2
    pitch_min_db: float = -60.0
    yin: YinConfig = field(default_factory=lambda: YinConfig(rate=8000.0, window=200))

    @classmethod
    def for_rate(cls, rate: int, fmin: float = 60.0, fmax: float = 500.0, threshold: float = 0.15) -> "FrameConfig":
        """Framing for audio at ``rate`` Hz: 10-ms hop and 25-ms window.

        Rates that are a multiple of 8 kHz from 16 kHz up are decimated to 8 kHz for the pitch
        search (enough for a 60-500 Hz pitch range), which keeps its cost the same at any such rate.

        Parameters
        ----------
        rate : int
            Audio sample rate (Hz).
        fmin, fmax : float, optional
            Pitch search range (Hz).
        threshold : float, optional
            YIN's absolute threshold (de Cheveigné & Kawahara 2002).
        """
        q = rate // 8000 if rate % 8000 == 0 and rate >= 16000 else 1
        yc = YinConfig(rate=rate / q, fmin=fmin, fmax=fmax, window=int(round(0.025 * rate / q)), threshold=threshold)
        return cls(rate=rate, hop=rate // 100, window=int(round(0.025 * rate)), decimate=q, yin=yc)

    @property
    def context(self) -> int:
        """Full-rate samples each frame looks back over (pitch: window plus the longest period)."""
        return max(self.window, self.decimate * (self.yin.frame_length + 1))


class Decimator:
    """Streaming anti-alias low-pass (Butterworth, order 8, at 0.85 x the new Nyquist) whose state
    carries over between blocks, so the output does not depend on block boundaries."""

    def __init__(self, cfg: FrameConfig) -> None:
        self.q = cfg.decimate
        if self.q > 1:
            self.sos = butter(8, 0.85 * cfg.rate / (2 * self.q), fs=cfg.rate, output="sos")
            self.zi = np.zeros((self.sos.shape[0], 2))

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Low-pass one block (state kept between blocks); returned unchanged when there is no decimation."""
        if self.q == 1 or not len(x):
            return x
        y, self.zi = sosfilt(self.sos, x, zi=self.zi)
        return y


class FrameAnalyzer:
    """Features of frames cut from a signal buffer; stateless apart from cached constants."""

    def __init__(self, cfg: FrameConfig | None = None) -> None:
        self.cfg = cfg or FrameConfig()
        if abs(self.cfg.yin.rate * self.cfg.decimate - self.cfg.rate) > 1e-6:
            raise ValueError("YIN rate times decimation must equal the audio rate")
        if self.cfg.hop % self.cfg.decimate:
            raise ValueError("the hop must be a multiple of the decimation factor")
        w = self.cfg.window
        self._nfft = 1 << int(np.ceil(np.log2(w)))
        self._hann = np.hanning(w)
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / self.cfg.rate)
        self._lo = (freqs >= 50) & (freqs < 1000)
        self._hi = (freqs >= 1000) & (freqs < 5000)

    def analyse(self, buf: np.ndarray, lowpassed: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
        """Features of the frames ending at buffer positions ``ends`` (exclusive, evenly spaced).

        ``buf`` must hold at least ``cfg.context`` samples before every end; ``lowpassed`` is
        ``buf`` through :class:`Decimator` (same length), and index 0 of both must fall on a
        multiple of ``cfg.decimate`` so that decimated samples line up across calls.
        """
        cfg = self.cfg
        n = len(ends)
        out = {k: np.full(n, np.nan) for k in FRAME_CHANNELS}
        if n == 0:
            return out
        w, q = cfg.window, cfg.decimate
        step = int(ends[1] - ends[0]) if n > 1 else cfg.hop
        if n > 1 and not np.all(np.diff(ends) == step):
            raise ValueError("frame ends must be evenly spaced")
        win = sliding_window_view(buf[ends[0] - w : ends[-1]], w)[::step][:n]
        # Row sums by cumsum: numpy's axis reductions change their summation order with the
        # number of rows, which would make features depend (in the last bit) on chunking.
        ms = np.cumsum(win * win, axis=1)[:, -1] / w
        energy = 10.0 * np.log10(np.maximum(ms, 1e-12))
        out["energy_db"] = energy
        out["peak_db"] = 20.0 * np.log10(np.maximum(np.max(np.abs(win), axis=1), 1e-6))
        loud = energy > cfg.pitch_min_db
        if loud.any():
            # Time-reversed frames: YIN integrates over the first W samples of its frame, and
            # periodicity is symmetric in time, so reversing puts the analysis on the most
            # recent 25 ms and looks back one period for the lags.
            dec = lowpassed[q - 1 :: q] if q > 1 else lowpassed
            m = ends // q
            L = cfg.yin.frame_length
            frames = sliding_window_view(dec[m[0] - L : m[-1]], L)[:: step // q][:n, ::-1]
            f0, ap = yin(frames[loud], cfg.yin)
            out["f0_hz"][loud] = f0
            out["aperiodicity"][loud] = ap
            spec = np.abs(sfft.rfft(win[loud] * self._hann, self._nfft)) ** 2
            lo = np.cumsum(spec[:, self._lo], axis=1)[:, -1]
            hi = np.cumsum(spec[:, self._hi], axis=1)[:, -1]
            out["alpha_db"][loud] = 10.0 * np.log10(np.maximum(hi, 1e-20) / np.maximum(lo, 1e-20))
        return out
