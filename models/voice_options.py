"""Options of the ``voice`` family, in one place: the audio front end reads some keys, the voice
estimator the others (``config.options["voice"]``; :data:`~coregulate.models.config.OPTION_FAMILIES`).

Kept apart from both readers so that neither imports the other to know the family's keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrontEndOptions:
    """Keys of ``config.family("voice")`` read by the front end (others belong to VoiceEstimator).

    Parameters
    ----------
    f0_min_hz, f0_max_hz : float
        Pitch search range.
    yin_threshold : float
        YIN absolute threshold.
    voiced_max_aperiodicity : float
        A frame counts as voiced when YIN found a period with ``d'`` below this.
    vad_onset_db, vad_offset_db, vad_min_level_db : float
        Energy VAD thresholds above the tracked noise floor (and absolute, dBFS).
    hangover_s : float
        Hold time of the VAD and of the speaker decision.
    leak_db, crosstalk_margin_db, crosstalk_hysteresis_db, calibration_s : float
        Crosstalk attribution (:mod:`.attribution`).
    """

    f0_min_hz: float = 60.0
    f0_max_hz: float = 500.0
    yin_threshold: float = 0.15
    voiced_max_aperiodicity: float = 0.15
    vad_onset_db: float = 12.0
    vad_offset_db: float = 7.0
    vad_min_level_db: float = -55.0
    hangover_s: float = 0.2
    leak_db: float = 10.0
    crosstalk_margin_db: float = 6.0
    crosstalk_hysteresis_db: float = 1.5
    calibration_s: float = 120.0


@dataclass(frozen=True)
class VoiceOptions:
    """Keys of ``config.family("voice")`` read by :class:`VoiceEstimator`.

    Parameters
    ----------
    window_s : float
        Window of F0, range, level, rate and pause features.
    turn_window_s : float
        Window of talk share and response latency.
    min_speaking_s : float
        Attributed speech needed in a second for ``speaking = 1``; it includes the front end's
        0.2-s hangover, so 0.3 s means at least ~0.1 s of actual voice.
    min_voiced_frames : int
        Voiced frames needed in the window for F0 level (twice as many for the range).
    max_response_gap_s : float
        Longer silences between turns are not counted as responses.
    nucleus_prominence_db : float
        Dip on both sides of a syllable nucleus (de Jong & Wempe use 2 dB).
    baseline_min_seconds : int
        Seconds with a value needed in the baseline before a feature enters the composite.
    weight_f0, weight_range, weight_loudness, weight_rate, weight_alpha : float
        Composite weights (0 drops a feature). F0 level counts twice: it is the most consistent
        arousal cue across studies (Juslin & Laukka, 2003; Banse & Scherer, 1996); the alpha ratio
        once; F0 range half and speech rate not at all, because both vary with speaking style and
        sentence: on EmoDB (the development corpus) their speaker-normalised AUC for high vs low
        arousal was 0.65 and 0.51. Loudness counts ``weight_loudness`` times the level trust.
    f0_ref_hz : float
        Semitone reference.
    level_trusted_share, level_untrusted_share : float
        Level trust: share f of the baseline's voiced seconds whose voice reaches full scale
        (a frame peak above -1 dBFS: clipped, or peak-normalised clip by clip). Trust is 1 up to
        ``level_trusted_share`` (a few shouts clipping on a natural recording), 0 from
        ``level_untrusted_share`` (a normalised or clipped recording, whose level no longer follows
        vocal effort), linear between.
    """

    window_s: float = 5.0
    turn_window_s: float = 60.0
    min_speaking_s: float = 0.3
    min_voiced_frames: int = 10
    max_response_gap_s: float = 5.0
    nucleus_prominence_db: float = 2.0
    baseline_min_seconds: int = 10
    weight_f0: float = 2.0
    weight_range: float = 0.5
    weight_loudness: float = 1.0
    weight_rate: float = 0.0
    weight_alpha: float = 1.0
    f0_ref_hz: float = 27.5
    level_trusted_share: float = 0.10
    level_untrusted_share: float = 0.25

    def weights(self) -> dict[str, float]:
        """The weight of each voice feature in the voice arousal, by feature column."""
        return {"f0_st": self.weight_f0, "f0_range_st": self.weight_range, "loudness_db": self.weight_loudness,
                "speech_rate": self.weight_rate, "alpha_db": self.weight_alpha}
