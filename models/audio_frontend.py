"""Session-level audio front end: raw AUDIO chunks of all persons -> per-person PROSODY frames.

It is the only consumer of raw audio. Raw samples are held just long enough to cut the next
frames (about 45 ms per channel) and are never returned, stored or logged.

Frames are on the session clock, one every 10 ms: frame ``k`` ends at ``T_k = (k + 1) * 0.01`` s
and describes the 25 ms before ``T_k`` (no look-ahead). A frame is computed only once *every*
person's audio has reached ``T_k``, because attributing speech across microphones (crosstalk,
overlap; see :mod:`.attribution`) needs all channels of the same frame. Everything after the
buffering is a deterministic function of the frame sequence, so the output is identical
whatever the chunk sizes.

Each person's PROSODY stream has these channels per frame (see :data:`PROSODY_CHANNELS`):

``energy_db, f0_hz, aperiodicity, alpha_db``
    Acoustic features of the person's own microphone (:mod:`.prosody`); ``energy_db`` is ``nan``
    where audio was missing (gap), ``f0_hz`` is ``nan`` when unvoiced.
``vad``
    Energy voice activity on this microphone, whoever speaks (:mod:`.vad`).
``speech``
    Speech attributed to this person after crosstalk rejection (1/0).
``other_speech``
    Any other person speaking in this frame (1/0), for pauses and turn-taking.
``overlap``
    Two or more persons speaking (1/0).
"""

from __future__ import annotations


import numpy as np

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from ..sensors.errors import InputError
from .attribution import AttributionConfig, CrosstalkAttributor
from .config import PipelineConfig, family_options
from .prosody import FRAME_CHANNELS, Decimator, FrameAnalyzer, FrameConfig
from .vad import EnergyVad, VadConfig
from .voice_options import FrontEndOptions

PROSODY_CHANNELS: tuple[str, ...] = FRAME_CHANNELS + ("vad", "speech", "other_speech", "overlap")

#: Frame spacing on the session clock (s).
HOP_S = 0.01
_FRAMES_PER_S = 100


class _Channel:
    """Sample buffer of one person's microphone on the session sample grid."""

    def __init__(self, info: StreamInfo, opts: FrontEndOptions) -> None:
        rate = info.rate
        if not rate or abs(rate - round(rate)) > 1e-9 or int(round(rate)) % _FRAMES_PER_S:
            raise InputError(
                f"audio of {info.participant} has rate {rate}", field=info.label or info.key,
                expected="a sample rate that is a whole multiple of 100 Hz (16000 Hz recommended)",
            )
        self.info = info
        self.rate = int(round(rate))
        self.hop = self.rate // _FRAMES_PER_S
        fc = FrameConfig.for_rate(self.rate, opts.f0_min_hz, opts.f0_max_hz, opts.yin_threshold)
        self.analyzer = FrameAnalyzer(fc)
        self.decimator = Decimator(fc)
        self.q = fc.decimate
        self.context = fc.context
        self.vad = EnergyVad(VadConfig(onset_db=opts.vad_onset_db, offset_db=opts.vad_offset_db,
                                       min_level_db=opts.vad_min_level_db, hangover_s=opts.hangover_s, hop_s=HOP_S))
        self.buf = np.zeros(0)
        self.lp = np.zeros(0)  # buf through the pitch path's anti-alias filter
        self.valid = np.zeros(0, dtype=bool)
        # Samples received but not yet consolidated: appending to a list keeps a small live
        # block cheap; they are joined (and low-passed) once per batch of frames in cut().
        self._pending: list[np.ndarray] = []
        self._pending_ok: list[np.ndarray] = []
        self._n_pending = 0
        self.start: int | None = None  # session sample index of buf[0], a multiple of q
        self.end: int | None = None  # session sample index after the last known sample

    def _append(self, x: np.ndarray, ok: bool | np.ndarray) -> None:
        self._pending.append(x)
        self._pending_ok.append(np.broadcast_to(ok, x.shape))
        self._n_pending += len(x)
        self.end = self.start + len(self.buf) + self._n_pending

    def _consolidate(self) -> None:
        if not self._pending:
            return
        x = np.concatenate(self._pending)
        self.buf = np.concatenate([self.buf, x])
        self.lp = np.concatenate([self.lp, self.decimator.filter(x)])
        self.valid = np.concatenate([self.valid, *self._pending_ok])
        self._pending, self._pending_ok, self._n_pending = [], [], 0

    def add(self, chunk: Chunk) -> None:
        if chunk.t0 is None:
            raise InputError("audio chunk without a regular time base", field=self.info.key, expected="t0 and rate")
        x = np.asarray(chunk.values, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise InputError(f"audio chunk has shape {x.shape}", field=self.info.key, expected="one channel per person")
        i0 = int(round(chunk.t0 * self.rate))
        i_end = max(i0 + len(x), int(np.floor(float(chunk.t_end) * self.rate + 1e-6)))
        if self.end is None:
            self.start = self.end = i0 - i0 % self.q
        if i0 < self.end:  # overlapping resend: keep what we had
            x = x[self.end - i0 :]
            i0 = self.end
        if i0 > self.end:  # dropout (or start off the decimation grid): missing samples
            self._append(np.zeros(i0 - self.end), False)
        if len(x):
            bad = ~np.isfinite(x)
            self._append(np.where(bad, 0.0, x), ~bad)
        if i_end > self.end:  # the watermark runs ahead of the samples: that stretch is missing
            self._append(np.zeros(i_end - self.end), False)

    def frames_ready(self) -> int:
        """Number of frames (counted from session frame 0) whose end sample has arrived."""
        return -1 if self.end is None else self.end // self.hop

    def extend_to(self, end: int) -> None:
        """Pad with missing samples up to ``end`` (used at finish)."""
        if self.end is None:
            self.start = self.end = end - end % self.q
        if end > self.end:
            self._append(np.zeros(end - self.end), False)

    def cut(self, k0: int, k1: int) -> dict[str, np.ndarray]:
        """Features of frames ``k0 .. k1-1`` and drop samples no later frame needs."""
        self._consolidate()
        ends = (np.arange(k0, k1) + 1) * self.hop  # session sample indices
        need_from = int(ends[0]) - self.context
        need_from -= need_from % self.q
        if need_from < self.start:  # before this person's first sample: missing
            pad = self.start - need_from
            self.buf = np.concatenate([np.zeros(pad), self.buf])
            self.lp = np.concatenate([np.zeros(pad), self.lp])
            self.valid = np.concatenate([np.zeros(pad, dtype=bool), self.valid])
            self.start = need_from
        rel = ends - self.start
        feats = self.analyzer.analyse(self.buf, self.lp, rel)
        w = self.analyzer.cfg.window
        bad = np.concatenate([[0], np.cumsum(~self.valid)])
        missing = (bad[rel] - bad[rel - w]) > 0
        for k in FRAME_CHANNELS:
            feats[k][missing] = np.nan
        feats["missing"] = missing
        keep_from = int(ends[-1]) + self.hop - self.context
        drop = keep_from - self.start
        drop -= drop % self.q
        if drop > 0:
            self.buf = self.buf[drop:]
            self.lp = self.lp[drop:]
            self.valid = self.valid[drop:]
            self.start += drop
        return feats


class AudioFrontEnd:
    """Turns the AUDIO streams of a session into one PROSODY stream per person.

    Frames are computed in batches of at least :attr:`MIN_BATCH` (0.25 s) or up to the end of
    a whole second, whichever comes first: per-call overhead would otherwise dominate with
    20-ms live blocks, and no per-second feature waits for it.

    A frame waits for every microphone, so a microphone that stops delivering (without its
    source advancing the watermark) holds the others back until :meth:`finish`; sources give
    chunks in time order and mark dropouts with ``gap_before``/``t_end``, which keeps this bounded.

    Parameters
    ----------
    audio_streams : list of StreamInfo
        One AUDIO stream per person (mono; rate a multiple of 100 Hz, 16 kHz recommended).
    config : PipelineConfig
        Options under ``config.family("voice")``, see :class:`FrontEndOptions`.
    """

    MIN_BATCH = 25

    def __init__(self, audio_streams: list[StreamInfo], config: PipelineConfig | None = None) -> None:
        self.opts = family_options(config, "voice", FrontEndOptions)
        seen: set[str] = set()
        for s in audio_streams:
            if s.kind is not StreamKind.AUDIO:
                raise InputError(f"{s.key} is not an audio stream", field=s.label or s.key, expected="kind audio")
            if s.participant in seen:
                raise InputError(f"two audio streams for {s.participant}", field=s.label or s.key,
                                 expected="one microphone channel per person")
            seen.add(s.participant)
        self.audio_streams = list(audio_streams)
        self._channels = [_Channel(s, self.opts) for s in audio_streams]
        self._index = {s.key: i for i, s in enumerate(audio_streams)}
        self.prosody_streams = [
            StreamInfo(s.participant, StreamKind.PROSODY, None, PROSODY_CHANNELS,
                       label=f"prosody of {s.label or s.key}", utc_start=s.utc_start)
            for s in audio_streams
        ]
        self.attributor = CrosstalkAttributor(len(audio_streams), AttributionConfig(
            default_leak_db=self.opts.leak_db, margin_db=self.opts.crosstalk_margin_db,
            hysteresis_db=self.opts.crosstalk_hysteresis_db, calibration_s=self.opts.calibration_s,
            hangover_s=self.opts.hangover_s, hop_s=HOP_S))
        self._next: int | None = None  # next session frame index to compute
        self._gap = [False] * len(audio_streams)

    def update(self, chunk: Chunk) -> list[Chunk]:
        """Take one AUDIO chunk; return PROSODY chunks (one per person) for frames now complete."""
        i = self._index.get(chunk.stream.key)
        if i is None:
            raise InputError(f"audio chunk of unknown stream {chunk.stream.key}", field=chunk.stream.key,
                             expected=", ".join(self._index))
        if chunk.gap_before:
            self._gap[i] = True
        self._channels[i].add(chunk)
        ready = min(c.frames_ready() for c in self._channels)
        if ready < 0 or self._next is None and any(c.start is None for c in self._channels):
            return []
        k0 = self._next if self._next is not None else min(c.start // c.hop for c in self._channels)
        if ready - k0 < self.MIN_BATCH:
            # Small live blocks: wait for more frames, except that frames completing a whole
            # second go out at once, so per-second features are never delayed by batching.
            ready = (ready // _FRAMES_PER_S) * _FRAMES_PER_S
        return self._run(ready)

    def finish(self) -> list[Chunk]:
        """Compute every frame up to the furthest watermark; missing audio yields missing frames."""
        started = [c for c in self._channels if c.end is not None]
        if not started:
            return []
        t_end = max(c.end / c.rate for c in started)
        for c in self._channels:
            c.extend_to(int(round(t_end * c.rate)))
        return self._run(min(c.frames_ready() for c in self._channels))

    def _run(self, k_end: int) -> list[Chunk]:
        if self._next is None:
            self._next = min(c.start // c.hop for c in self._channels if c.start is not None)
        k0 = self._next
        if k_end <= k0:
            return []
        feats = [c.cut(k0, k_end) for c in self._channels]
        self._next = k_end
        times = (np.arange(k0, k_end) + 1) / _FRAMES_PER_S
        vads, lives = [], []
        for c, f in zip(self._channels, feats):
            e = f["energy_db"]
            voiced = np.isfinite(f["f0_hz"]) & (f["aperiodicity"] < self.opts.voiced_max_aperiodicity)
            ok = ~f["missing"]
            v = np.zeros(len(e), dtype=bool)
            live = np.zeros(len(e), dtype=bool)
            if ok.any():
                v[ok], live[ok], _ = c.vad.update(e[ok], voiced[ok])
            vads.append(v)
            lives.append(live)
        energy = np.vstack([np.where(f["missing"], -120.0, f["energy_db"]) for f in feats])
        own, overlap = self.attributor.update(times, energy, np.vstack(lives))
        out = []
        for i, (info, f) in enumerate(zip(self.prosody_streams, feats)):
            other = (own.sum(axis=0) - own[i]) > 0 if len(own) > 1 else np.zeros(len(times), dtype=bool)
            cols = [f[k] for k in FRAME_CHANNELS] + [vads[i], own[i], other, overlap]
            vals = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
            missing = f["missing"]
            vals[missing, len(FRAME_CHANNELS):] = np.nan
            out.append(Chunk(info, vals, times=times, gap_before=self._gap[i]))
            self._gap[i] = False
        return out
