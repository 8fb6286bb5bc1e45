"""Per-person, per-second voice features and vocal arousal from PROSODY frames.

Input: the PROSODY stream of one person, from :class:`~coregulate.models.audio_frontend.AudioFrontEnd`
(10-ms frames) or straight from a source that delivers the same channel names. Output per
second ``t_s`` (window features over the ``window_s`` seconds ending at ``t_s``):

``f0_st``
    Median F0 over the person's voiced speech frames, in semitones re 27.5 Hz (A0; the reference
    of eGeMAPS, Eyben et al., 2016).
``f0_range_st``
    20th-80th percentile range of the same frames (semitones; eGeMAPS' ``pcnt20-80`` range).
``loudness_db``
    Mean frame RMS level over the person's voiced speech frames, dB re full scale. This is a *level*, not
    a perceptual loudness, and depends on microphone gain and distance: it is only compared with
    the same person's baseline (inside ``vocal_arousal``), never across persons.
``speech_rate``
    Syllable nuclei per second of own speech: peaks of the frame level at least 2 dB above the
    dips on either side, inside voiced speech (de Jong & Wempe, 2009, Behav Res Methods 41:385).
``pause_ratio``
    Silence (nobody speaks) over silence plus own speech, in the window.
``speaking``
    1 when the person spoke for at least ``min_speaking_s`` of this second, else 0.
``talk_share``
    Own speech over all persons' speech in the last ``turn_window_s``.
``response_latency_s``
    Median gap between the other person's end of speech and this person's next onset, over the
    turn switches in the last ``turn_window_s`` (Heldner & Edlund, 2010, J Phonetics 38:555).
``overlap``
    Fraction of this second in which two or more persons spoke.
``vocal_arousal``
    Weighted mean (F0 level x2, alpha ratio x1, F0 range x0.5, level x1 times the level trust,
    speech rate x0) of robust z-scores (median/MAD against this person's own baseline segment,
    ``config.baseline_segment``) of F0 level, F0 range, level, speech rate and the alpha ratio,
    each clipped to +-5; positive towards high arousal. F0 level and range, loudness and tempo
    rise with arousal (Scherer, 2003, Speech Commun 40:227; Juslin & Laukka, 2003, Psychol Bull
    129:770); the alpha ratio (spectral balance, rises with vocal effort) is the level-independent
    effort cue of eGeMAPS. The level trust (1 on natural recordings, 0 on clipped or
    peak-normalised ones: see :class:`VoiceOptions`) comes from how often the baseline's voice
    reaches full scale. With a baseline from a separate resting recording (``--baseline-from``)
    the level is compared across two recordings, so both must be trustworthy: the trust is the
    lower of the resting recording's and the session's own, the latter from the session's voiced
    seconds so far (updated every second; a clipped or peak-normalised session loses its level
    cue within its first voiced seconds). Levels of two recordings are comparable only with the
    same microphone, gain and distance, which ``--baseline-from`` asks for ("same people and
    devices") and cannot check. ``None`` until the baseline segment has ended, when the person did not
    speak in the window, or when the baseline held too little speech. A baseline given
    beforehand (``config.baseline_reference``: ``--baseline-from``, or the whole recording when
    it is shorter than the baseline segment, as ``analyze`` does) applies from the first second.
    On a scale bounded by +-5 (``columns.VOCAL_AROUSAL_BOUND``).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.signal import find_peaks

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from ..sensors.errors import InputError
from .base import Second, SecondTicker, StreamEstimator, finite_or_none
from .columns import VOCAL_AROUSAL_BOUND
from .config import BASELINE_FROM_RECORDING, PipelineConfig, family_options
from .pitch import hz_to_semitones
from .voice_options import FrontEndOptions, VoiceOptions

FULL_SCALE_DB = -1.0  # a frame peaking above this (dBFS) touches full scale

VOICE_COLUMNS = (
    "f0_st", "f0_range_st", "loudness_db", "speech_rate", "pause_ratio", "vocal_arousal",
    "speaking", "talk_share", "response_latency_s", "overlap",
)

#: Features entering the composite, with the floor of their baseline spread (units of the feature).
COMPOSITE_FEATURES: dict[str, float] = {
    "f0_st": 0.5,
    "f0_range_st": 0.5,
    "loudness_db": 1.0,
    "speech_rate": 0.3,
    "alpha_db": 1.0,
}


def composite(z: Mapping[str, float | None], weights: Mapping[str, float], clip: float = VOCAL_AROUSAL_BOUND) -> float | None:
    """Weighted mean of the available, clipped z-scores; ``None`` without F0 (no voiced speech)."""
    if z.get("f0_st") is None:
        return None
    num = den = 0.0
    for k, w in weights.items():
        v = z.get(k)
        if v is None or w == 0:
            continue
        num += w * max(-clip, min(clip, v))
        den += w
    return num / den if den > 0 else None


class RobustBaseline:
    """Median and MAD-based spread of each feature over a person's own reference values."""

    def __init__(self, floors: Mapping[str, float] = COMPOSITE_FEATURES, min_n: int = 10) -> None:
        self.floors = dict(floors)
        self.min_n = min_n
        self.values: dict[str, list[float]] = {k: [] for k in floors}
        self.stats: dict[str, tuple[float, float]] | None = None

    def add(self, feats: Mapping[str, Any]) -> None:
        """Add one second's features to the reference values (missing ones are skipped)."""
        for k in self.floors:
            v = finite_or_none(feats.get(k))
            if v is not None:
                self.values[k].append(v)

    def freeze(self) -> None:
        """Fix the reference (MAD scaled by 1.4826 to estimate a normal SD; Rousseeuw & Croux, 1993)."""
        self.stats = {}
        for k, vals in self.values.items():
            if len(vals) >= self.min_n:
                a = np.asarray(vals)
                med = float(np.median(a))
                mad = 1.4826 * float(np.median(np.abs(a - med)))
                self.stats[k] = (med, max(mad, self.floors[k]))

    def reference(self) -> dict[str, Any]:
        """The frozen baseline as plain data (``config.baseline_reference[person]["voice"]``)."""
        if self.stats is None:
            self.freeze()
        assert self.stats is not None
        return {"stats": {k: list(v) for k, v in self.stats.items()},
                "values": {k: len(v) for k, v in self.values.items()}}

    def adopt(self, reference: Mapping[str, Any]) -> None:
        """Use a baseline computed beforehand (a resting recording, or the whole of a short one)."""
        self.stats = {k: (float(m), float(sp)) for k, (m, sp) in reference.get("stats", {}).items() if k in self.floors}
        self.values = {k: [] for k in self.floors}

    def z(self, feats: Mapping[str, Any]) -> dict[str, float | None]:
        """Robust z-scores of one second's features: ``(x - median) / spread``; ``None`` where the
        value or the feature's statistics are missing.
        """
        out: dict[str, float | None] = {}
        for k in self.floors:
            v = finite_or_none(feats.get(k))
            st = (self.stats or {}).get(k)
            out[k] = None if v is None or st is None else (v - st[0]) / st[1]
        return out


def syllable_nuclei(energy_db: np.ndarray, voiced_speech: np.ndarray, prominence_db: float) -> int:
    """Count level peaks standing ``prominence_db`` above the surrounding dips inside voiced speech
    (de Jong & Wempe, 2009), on the level smoothed over 30 ms."""
    if len(energy_db) < 3:
        return 0
    e = np.where(np.isfinite(energy_db), energy_db, -120.0)
    e = np.convolve(e, np.ones(3) / 3.0, mode="same")
    peaks, _ = find_peaks(e, prominence=prominence_db, distance=5)
    return int(np.count_nonzero(voiced_speech[peaks]))


class VoiceEstimator(StreamEstimator):
    """Voice features of one person, per second, from PROSODY frames.

    :attr:`last_features` holds the most recent second's features including ``alpha_db`` (the
    window's median alpha ratio), which enters ``vocal_arousal`` but is not a CSV column.
    """

    accepts = frozenset({StreamKind.PROSODY})
    baseline_family = "voice"  # key of its part of ``config.baseline_reference``
    # a second is emitted once its frames are in and never revised: the live view may show it early
    provisional_family = "voice"

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig | None = None) -> None:
        config = config or PipelineConfig()
        self.opts = family_options(config, "voice", VoiceOptions)
        self.hangover_s = family_options(config, "voice", FrontEndOptions).hangover_s
        self.participant = participant
        pros = [s for s in streams if s.kind is StreamKind.PROSODY and s.participant == participant]
        if len(pros) != 1:
            raise InputError(f"voice of {participant} needs exactly one prosody stream, got {len(pros)}",
                             field=participant, expected="one PROSODY stream per person")
        self.stream = pros[0]
        self.b0, self.b1 = config.baseline_segment
        self.baseline = RobustBaseline(min_n=self.opts.baseline_min_seconds)
        # voiced seconds reaching full scale, all: of the baseline, or, with a baseline from a
        # separate recording, of this session so far (its own level trust)
        self._full_scale = [0, 0]
        self.level_trust = 1.0
        self._reference_trust: float | None = None  # the separate resting recording's level trust
        reference = (config.baseline_reference or {}).get(participant, {}).get("voice")
        if reference is not None:
            self.baseline.adopt(reference)
            self.level_trust = float(reference.get("level_trust", 1.0))
            if reference.get("origin") == BASELINE_FROM_RECORDING:
                self._reference_trust = self.level_trust
        self.ticker = SecondTicker()
        self._weights = self.opts.weights()
        self._weights["loudness_db"] *= self.level_trust
        n_keep = int(round(max(self.opts.window_s, self.opts.turn_window_s) * 100)) + 200
        self._keep_s = n_keep / 100.0
        self.last_features: dict[str, Any] = {}
        self._t = np.empty(0)
        self._t_last = -np.inf
        self._pending: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self._wm = 0.0
        self._cols: dict[str, np.ndarray] = {}
        # turn-taking state, advanced frame by frame
        self._own_prev = False
        self._other_prev = False
        self._last_other_off: float | None = None
        self._last_own_off: float | None = None
        self._latencies: list[tuple[float, float]] = []  # (onset time, latency)

    # -- input ---------------------------------------------------------------------------------
    def _frame_columns(self, chunk: Chunk) -> dict[str, np.ndarray]:
        names = chunk.stream.channels
        v = np.asarray(chunk.values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        col = {name: v[:, i] for i, name in enumerate(names)} if names else {}
        n = len(v)
        nan = np.full(n, np.nan)
        energy = col.get("energy_db", nan)
        f0 = col.get("f0_hz", nan)
        speech = col.get("speech", col.get("vad"))
        if speech is None:
            speech = np.where(np.isfinite(energy), np.isfinite(f0), np.nan)
        other = col.get("other_speech", np.where(np.isfinite(speech), 0.0, np.nan))
        overlap = col.get("overlap", np.where(np.isfinite(speech), 0.0, np.nan))
        return {"energy_db": energy, "f0_hz": f0, "alpha_db": col.get("alpha_db", nan), "peak_db": col.get("peak_db", nan),
                "speech": speech, "other": other, "overlap": overlap}

    def update(self, chunk: Chunk) -> list[Second]:
        """Take one chunk of PROSODY frames and return the seconds it completed.

        Raises
        ------
        InputError
            If the chunk is not a PROSODY chunk.
        """
        if chunk.stream.kind is not StreamKind.PROSODY:
            raise InputError(f"voice estimator got a {chunk.stream.kind.value} chunk", field=chunk.stream.key,
                             expected="prosody frames")
        if len(chunk):
            cols = self._frame_columns(chunk)
            t = np.asarray(chunk.sample_times(), dtype=np.float64)
            if t[0] <= self._t_last:  # a resent frame: keep the first copy
                keep = t > self._t_last
                t = t[keep]
                cols = {k: v[keep] for k, v in cols.items()}
            if len(t):
                self._turns(t, cols["speech"], cols["other"])
                self._t_last = float(t[-1])
                self._pending.append((t, cols))
        self._wm = max(self._wm, float(chunk.t_end))
        return self._emit(self._wm)

    def _consolidate(self) -> None:
        if not self._pending:
            return
        self._t = np.concatenate([self._t] + [t for t, _ in self._pending])
        self._cols = {k: np.concatenate([self._cols.get(k, np.empty(0))] + [c[k] for _, c in self._pending])
                      for k in self._pending[0][1]}
        self._pending = []

    def finish(self) -> list[Second]:
        """End of data: the seconds still open, up to the last frame."""
        return self._emit(self._wm)

    def baseline_reference(self) -> dict[str, Any]:
        """The person's voice baseline as collected so far, frozen (see ``config.baseline_reference``)."""
        if self.baseline.stats is None:
            self._freeze()
        return {**self.baseline.reference(), "level_trust": self.level_trust,
                "full_scale_seconds": list(self._full_scale)}

    def _freeze(self) -> None:
        """Fix the baseline and the level trust (see :class:`VoiceOptions`)."""
        self.baseline.freeze()
        self._set_level_trust(self._trust_of_counts())

    def _trust_of_counts(self) -> float:
        """Level trust from the share of counted voiced seconds at full scale (:class:`VoiceOptions`)."""
        hit, n = self._full_scale
        share = hit / n if n else 0.0
        lo, hi = self.opts.level_trusted_share, self.opts.level_untrusted_share
        return float(min(1.0, max(0.0, (hi - share) / (hi - lo))))

    def _set_level_trust(self, trust: float) -> None:
        self.level_trust = trust
        self._weights = self.opts.weights()
        self._weights["loudness_db"] *= trust

    # -- turn-taking -----------------------------------------------------------------------------
    def _turns(self, t: np.ndarray, speech: np.ndarray, other: np.ndarray) -> None:
        """Response latency: own onset after the other stopped (Heldner & Edlund, 2010). The
        ``speech`` flags carry the front end's hangover, so offsets are moved back by it."""
        hang = self.hangover_s
        own_l = (np.nan_to_num(speech) > 0.5).tolist()
        oth_l = (np.nan_to_num(other) > 0.5).tolist()
        tl = t.tolist()
        own_prev, oth_prev = self._own_prev, self._other_prev
        for ti, o, q in zip(tl, own_l, oth_l):
            if oth_prev and not q:
                self._last_other_off = ti - hang
            if own_prev and not o:
                self._last_own_off = ti - hang
            if o and not own_prev and not q and self._last_other_off is not None:
                switched = self._last_own_off is None or self._last_other_off > self._last_own_off
                gap = ti - self._last_other_off
                if switched and 0 <= gap <= self.opts.max_response_gap_s:
                    self._latencies.append((ti, gap))
            own_prev, oth_prev = o, q
        self._own_prev, self._other_prev = own_prev, oth_prev

    # -- output ----------------------------------------------------------------------------------
    def _emit(self, watermark: float) -> list[Second]:
        out: list[Second] = []
        ticks = self.ticker.ticks(watermark)
        if not ticks:
            return out
        self._consolidate()
        for s in ticks:
            feats = self._second(s)
            frozen_before = self.baseline.stats is not None
            if not frozen_before and self.b0 < s <= self.b1:
                self.baseline.add(feats)
                if feats["full_scale"] is not None:
                    self._full_scale[0] += feats["full_scale"]
                    self._full_scale[1] += 1
            if s >= self.b1 and self.baseline.stats is None:
                self._freeze()
            if self._reference_trust is not None and feats["full_scale"] is not None:
                # levels of two recordings compared: the session's own must be trustworthy too
                self._full_scale[0] += feats["full_scale"]
                self._full_scale[1] += 1
                self._set_level_trust(min(self._reference_trust, self._trust_of_counts()))
            # a baseline given beforehand applies from the first second; the session's own from its end
            z = self.baseline.z(feats) if frozen_before or (self.baseline.stats is not None and s > self.b1) else {}
            feats["vocal_arousal"] = composite(z, self._weights) if z else None
            self.last_features = feats
            out.append((s, {k: feats.get(k) for k in VOICE_COLUMNS}))
        # forget frames and latencies no later second needs
        cut = self.ticker.last - self._keep_s
        if len(self._t) and self._t[0] < cut:
            i = int(np.searchsorted(self._t, cut))
            self._t = self._t[i:]
            self._cols = {k: v[i:] for k, v in self._cols.items()}
        self._latencies = [x for x in self._latencies if x[0] > cut]
        return out

    def _second(self, s: int) -> dict[str, Any]:
        o = self.opts
        t = self._t
        feats: dict[str, Any] = {k: None for k in VOICE_COLUMNS}
        feats["alpha_db"] = None
        feats["full_scale"] = None
        if not len(t):
            return feats
        a, b = np.searchsorted(t, [s - 1 + 1e-9, s + 1e-9])
        aw = int(np.searchsorted(t, s - o.window_s + 1e-9))
        at = int(np.searchsorted(t, s - o.turn_window_s + 1e-9))
        c = self._cols
        valid = np.isfinite(c["speech"])
        own = valid & (np.nan_to_num(c["speech"]) > 0.5)
        other = valid & (np.nan_to_num(c["other"]) > 0.5)
        hop = 0.01
        # this second
        voiced_now = own[a:b] & np.isfinite(c["f0_hz"][a:b])
        if np.count_nonzero(voiced_now) >= o.min_voiced_frames:
            # this second's voice reached full scale: clipped or peak-normalised (see level_trust)
            feats["full_scale"] = int(np.nanmax(c["peak_db"][a:b][voiced_now], initial=-np.inf) >= FULL_SCALE_DB)
        if valid[a:b].any():
            feats["speaking"] = int(np.count_nonzero(own[a:b]) * hop >= o.min_speaking_s - 1e-9)
            ov = np.nan_to_num(c["overlap"][a:b]) > 0.5
            feats["overlap"] = float(np.count_nonzero(ov & valid[a:b]) / np.count_nonzero(valid[a:b]))
        # turn window
        n_own_t, n_oth_t = np.count_nonzero(own[at:b]), np.count_nonzero(other[at:b])
        if n_own_t + n_oth_t > 0:
            feats["talk_share"] = float(n_own_t / (n_own_t + n_oth_t))
        lat = [g for (ti, g) in self._latencies if s - o.turn_window_s < ti <= s]
        if lat:
            feats["response_latency_s"] = float(np.median(lat))
        # feature window
        w_own = own[aw:b]
        n_own = int(np.count_nonzero(w_own))
        silence = valid[aw:b] & ~w_own & ~other[aw:b]
        n_sil = int(np.count_nonzero(silence))
        if n_sil + n_own > 0:
            feats["pause_ratio"] = n_sil / (n_sil + n_own)
        if n_own == 0:
            return feats
        energy = c["energy_db"][aw:b]
        f0 = c["f0_hz"][aw:b]
        voiced = w_own & np.isfinite(f0)
        # Level over voiced own frames only: the speech flags include the hangover's silent frames.
        nv = int(np.count_nonzero(voiced))
        feats["loudness_db"] = finite_or_none(np.mean(energy[voiced])) if nv >= o.min_voiced_frames else None
        alpha = c["alpha_db"][aw:b][voiced]
        alpha = alpha[np.isfinite(alpha)]
        if len(alpha) >= o.min_voiced_frames:
            feats["alpha_db"] = float(np.median(alpha))
        if nv >= o.min_voiced_frames:
            st = hz_to_semitones(f0[voiced], o.f0_ref_hz)
            feats["f0_st"] = float(np.median(st))
            if nv >= 2 * o.min_voiced_frames:
                p20, p80 = np.percentile(st, [20, 80])
                feats["f0_range_st"] = float(p80 - p20)
        if n_own * hop >= 0.5:
            nuclei = syllable_nuclei(np.where(w_own, energy, -120.0), voiced, o.nucleus_prominence_db)
            feats["speech_rate"] = nuclei / (n_own * hop)
        return feats
