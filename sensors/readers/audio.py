"""WAV/FLAC audio (soundfile): one person per file, or one channel of a multi-channel file.

Output is always 16 kHz float mono (:data:`AUDIO_RATE`). Other rates are resampled with a
*streaming* polyphase filter that uses the same anti-alias FIR as
``scipy.signal.resample_poly`` (Kaiser window, beta 5, 10 taps per phase each side) and keeps the
input history between blocks, so output samples do not depend on where blocks start: chunk
boundaries add no clicks and the result equals the one-shot ``resample_poly`` away from the
file edges.
"""

from __future__ import annotations

import math
import os
from typing import Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import CHUNK_S

AUDIO_RATE = 16000
OUT_BATCH = 2048


class StreamingResampler:
    """Polyphase FIR rational resampler (``up/down``) fed block by block.

    Output sample ``m`` is ``up * sum_k h[k] u[m*down + D - k]`` with ``u`` the zero-stuffed
    input and ``D`` the filter's group delay, i.e. the delay-compensated output of
    ``resample_poly`` (Crochiere & Rabiner, 1983, polyphase decomposition).
    """

    def __init__(self, up: int, down: int):
        from scipy.signal import firwin

        g = math.gcd(up, down)
        self.up, self.down = up // g, down // g
        max_rate = max(self.up, self.down)
        half = 10 * max_rate
        h = firwin(2 * half + 1, 1.0 / max_rate, window=("kaiser", 5.0))
        self.D = half
        n = len(h)
        self.K = -(-n // self.up)
        hp = np.zeros(self.K * self.up)
        hp[:n] = h * self.up
        # H[phase, i] multiplies x[j0 - i] where p = j0 * up + phase
        self.H = hp.reshape(self.K, self.up).T
        self.buf = np.zeros(self.K)  # x[-K..-1] (zeros before the start)
        self.n_in = 0
        self.m_next = 0

    def _emit(self, limit_in: int) -> np.ndarray:
        """Outputs whose newest input index is < limit_in."""
        # output m needs x up to j0 = (m*down + D) // up
        m_hi = (limit_in * self.up - self.D - 1) // self.down  # last m with j0 <= limit_in - 1
        if m_hi < self.m_next:
            return np.zeros(0)
        base = self.n_in - len(self.buf)  # absolute index of buf[0]
        taps = np.arange(self.K)[None, :]
        parts = []
        # a few thousand outputs at a time keep the gathered (outputs x taps) matrices small
        for a in range(self.m_next, m_hi + 1, OUT_BATCH):
            m = np.arange(a, min(m_hi + 1, a + OUT_BATCH))
            p = m * self.down + self.D
            idx = (p // self.up)[:, None] - taps - base
            parts.append(np.einsum("mk,mk->m", self.H[p % self.up], self.buf[idx]))
        self.m_next = m_hi + 1
        return np.concatenate(parts)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample one block; the output does not depend on how the input was cut into blocks.

        Parameters
        ----------
        x : ndarray
            The next input samples.

        Returns
        -------
        ndarray
            Every output sample the input so far determines (none may follow later for it).
        """
        x = np.asarray(x, dtype=float)
        self.buf = np.concatenate((self.buf, x))
        self.n_in += len(x)
        y = self._emit(self.n_in)
        # keep only the history the next outputs can reach
        j_min = (self.m_next * self.down + self.D) // self.up - self.K + 1
        keep_from = max(0, j_min - (self.n_in - len(self.buf)))
        self.buf = self.buf[keep_from:]
        return y

    def finish(self, n_total_in: int) -> np.ndarray:
        """Flush with zeros after the end, up to ``ceil(n_in * up / down)`` outputs in total."""
        n_out = -(-n_total_in * self.up // self.down)
        pad = np.zeros(self.K + self.D // self.up + 2)
        self.buf = np.concatenate((self.buf, pad))
        self.n_in += len(pad)
        y = self._emit(self.n_in)
        keep = max(0, n_out - (self.m_next - len(y)))
        return y[:keep]


class AudioReader(Reader):
    """A WAV or FLAC file (anything libsndfile reads)."""

    def __init__(self, path, role: str, options=None):
        import soundfile as sf

        self.path = os.fspath(path)
        opts = dict(options or {})
        try:
            info = sf.info(self.path)
        except Exception as e:
            raise InputError(f"not a readable audio file ({e})", path=self.path, field="header",
                             expected="a WAV or FLAC file") from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise InputError("no audio frames", path=self.path, expected="a non-empty audio file")
        if not 1000 <= info.samplerate <= 384000:
            raise InputError(f"implausible sample rate {info.samplerate}", path=self.path, field="samplerate",
                             expected="1000..384000 Hz")
        self.sr = int(info.samplerate)
        self.nch = int(info.channels)
        ch = opts.get("channel")
        if ch is None:
            if self.nch != 1:
                raise InputError(f"{self.nch} channels and no channel chosen", path=self.path, field="channel",
                                 expected=f"?channel=N with N in 0..{self.nch - 1} (one person per channel)")
            self.channel = 0
        else:
            if not ch.isdigit() or int(ch) >= self.nch:
                raise InputError(f"no channel {ch!r}", path=self.path, field="channel",
                                 expected=f"an integer in 0..{self.nch - 1}")
            self.channel = int(ch)
        self.frames = int(info.frames)
        note = "" if self.sr == AUDIO_RATE else f" (resampled from {self.sr} Hz)"
        chn = f" ch{self.channel}" if self.nch > 1 else ""
        self.streams = [StreamInfo(role, StreamKind.AUDIO, float(AUDIO_RATE), (),
                                   f"{os.path.basename(self.path)}{chn}{note}")]

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: the chosen channel's audio, resampled to ``AUDIO_RATE`` if needed
        (see :meth:`.Reader.chunks`)."""
        import soundfile as sf

        st = self.streams[0]
        block = max(1, int(round(self.sr * CHUNK_S)))
        rs = None if self.sr == AUDIO_RATE else StreamingResampler(AUDIO_RATE, self.sr)
        n_out = 0
        try:
            with sf.SoundFile(self.path) as f:
                for x in f.blocks(blocksize=block, dtype="float64", always_2d=True):
                    y = x[:, self.channel]
                    if rs is not None:
                        y = rs.process(y)
                    if len(y):
                        yield Chunk(st, y, t0=n_out / AUDIO_RATE)
                        n_out += len(y)
        except sf.LibsndfileError as e:
            raise InputError(f"audio data unreadable ({e})", path=self.path, expected="a complete audio file") from None
        if rs is not None:
            y = rs.finish(self.frames)
            if len(y):
                yield Chunk(st, y, t0=n_out / AUDIO_RATE)
