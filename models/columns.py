"""The column contract of ``features.csv`` and ``dyad.csv``, shared by the pipeline, recorder,
export, server and dashboard. Order is the order of the CSV columns.

A value that cannot be computed from the data given is ``None`` (an empty CSV cell), never a
made-up number.
"""

#: One row per participant per second. ``t_s`` is the end of the one-second step (session
#: seconds, an integer); window-based features cover the window ending at ``t_s``.
FEATURE_COLUMNS: tuple[str, ...] = (
    "t_s",
    "utc",
    "participant",
    # heart (models/heart.py and friends)
    "hr_bpm",
    "rmssd_ms",
    "ln_rmssd",
    "sdnn_ms",
    "pnn50",
    "sd1_ms",
    "sd2_ms",
    "stress_index",
    "hf_ms2",
    "beats_in_window",
    "beats_corrected",
    # autonomic indices and window of tolerance (models/autonomic.py, models/tolerance.py)
    "pns_index",
    "sns_index",
    "arousal",
    "zone",
    "vagal_reliable",
    "breathing_rpm",
    "quality",
    # voice (models/voice*.py)
    "f0_st",
    "f0_range_st",
    "loudness_db",
    "speech_rate",
    "pause_ratio",
    "vocal_arousal",
    "speaking",
    "talk_share",
    "response_latency_s",
    "overlap",
    # skin conductance and movement
    "eda_scl_us",
    "scr_per_min",
    "movement",
    # (models/heart.py) mean instantaneous HR of the beats ending in (t-1, t]: the 1-Hz series dyadic synchrony
    # needs (hr_bpm is a window mean, which smooths away the slow HR waves synchrony is made of)
    "hr_inst_bpm",
    # (models/tolerance.py) share of the arousal components' weight present in this second (0-1)
    "arousal_confidence",
    # (models/heart.py) which source fed hr_bpm this second: rr, ecg, ppg (beats) or device_hr (the
    # device's own heart rate, where no beats were usable); and the share of the HRV window its beats cover
    "heart_source",
    "heart_coverage",
    # (models/heart.py) beats in the HRV window whose waveform matched the block's median beat poorly
    # (ECG template correlation < 0.66; Orphanidou et al. 2015); counted into `quality` like corrected beats
    "beats_poor",
)

#: One row per second for the dyad (models/dyad*.py).
DYAD_COLUMNS: tuple[str, ...] = (
    "t_s",
    "utc",
    "sync_hr_z",
    "sync_hr_lag_s",
    "sync_arousal_z",
    "sync_arousal_lag_s",
    "sync_vocal_z",
    "sync_vocal_lag_s",
    "sync_motion_z",
    "sync_motion_lag_s",
    "sync_effect",
    "sync_significant",
    "leader",
    "client_zone",
    "therapist_zone",
    # added by models/dyad.py: the signal that decided `leader`, and candidate episodes open now
    "sync_signal",
    "dyad_event",
)

#: Columns that hold text rather than numbers.
TEXT_COLUMNS = frozenset({"participant", "zone", "quality", "leader", "heart_source", "client_zone", "therapist_zone",
                          "sync_signal", "dyad_event"})

#: The arousal scale (models/tolerance.py): every component's baseline z is clipped to
#: +-AROUSAL_BOUND, so |arousal| <= AROUSAL_BOUND; the zone thresholds and their hysteresis are the
#: ``tolerance`` options (``models.tolerance.tolerance_bounds`` returns those in force).
AROUSAL_BOUND = 6.0
#: vocal_arousal: every voice feature's z is clipped to +-VOCAL_AROUSAL_BOUND (models/voice.py).
VOCAL_AROUSAL_BOUND = 5.0

#: Zone labels on the arousal composite (models/tolerance.py).
ZONES = ("unknown", "window", "hyper", "hypo", "hypo_candidate")
