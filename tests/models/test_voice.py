"""Per-second voice features and vocal arousal (models/voice.py), on synthetic dyads, the
simulator's scripted episodes and EmoDB (real acted speech)."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.models.audio_frontend import AudioFrontEnd
from coregulate.models.config import PipelineConfig
from coregulate.models.voice import VOICE_COLUMNS, RobustBaseline, VoiceEstimator, composite
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk
from coregulate.sensors.errors import InputError

from voice_helpers import CLIENT, RATE, THERAPIST, _syllables, dyad


class TinyDataConfig(PipelineConfig):
    """A config whose baseline may be shorter than the 60 s users can set: these recordings last seconds."""

    MIN_BASELINE_S = 0.0


def prosody(a, b, config=None, t0=0.0):
    fe = AudioFrontEnd([CLIENT, THERAPIST], config)
    out = fe.update(Chunk(CLIENT, a, t0=t0)) + fe.update(Chunk(THERAPIST, b, t0=t0)) + fe.finish()
    return fe, out


def seconds(est, chunks):
    rows = []
    for c in chunks:
        rows += est.update(c)
    rows += est.finish()
    return rows


def test_seconds_are_consecutive_and_chunk_size_invariant():
    a, b, *_ = dyad(8.0)
    cfg = TinyDataConfig(baseline=(0, 4))
    fe, out = prosody(a, b, cfg, t0=2.0)  # audio starts at t = 2 s
    mine = [c for c in out if c.participant == "client"]
    ref = seconds(VoiceEstimator("client", fe.prosody_streams, cfg), mine)
    assert [t for t, _ in ref] == list(range(1, 11))
    assert all(v is None for v in ref[0][1].values())  # before the microphone started
    assert set(ref[5][1]) == set(VOICE_COLUMNS)
    for size in (0.03, 0.77, 3.0):
        got = seconds(VoiceEstimator("client", fe.prosody_streams, cfg), rechunk(mine, size))
        assert got == ref


def test_features_follow_the_signal():
    a, b, sc, st = dyad(12.0)
    cfg = TinyDataConfig(baseline=(0, 12), options={"voice": {"window_s": 2.0}})
    fe, out = prosody(a, b, cfg)
    rows = {who: dict(seconds(VoiceEstimator(who, fe.prosody_streams, cfg),
                               [c for c in out if c.participant == who])) for who in ("client", "therapist")}
    c3, t5 = rows["client"][3], rows["therapist"][5]
    # F0 (220 and 110 Hz, +-1.5 st jitter) in semitones re 27.5 Hz
    assert c3["f0_st"] == pytest.approx(36.0, abs=1.0)
    assert t5["f0_st"] == pytest.approx(24.0, abs=1.0)
    assert 1.0 < c3["f0_range_st"] < 5.0
    # 5 syllables per second in the synthetic speech
    assert c3["speech_rate"] == pytest.approx(5.0, abs=1.0)
    assert c3["speaking"] == 1 and rows["therapist"][3]["speaking"] == 0
    assert rows["client"][5]["speaking"] == 0 and t5["speaking"] == 1
    # the client stops at 3.0 s, the therapist answers at 3.5 s
    assert rows["therapist"][6]["response_latency_s"] == pytest.approx(0.5, abs=0.08)
    # talk share over the turn window: the client spoke 4 s and the therapist 4.5 s by 12 s
    assert rows["client"][12]["talk_share"] == pytest.approx(4 / 8.5, abs=0.05)
    # a second with nobody speaking: full pause for the 2-s window around 12 s (both silent 11-12)
    assert rows["client"][12]["pause_ratio"] > 0.3
    assert c3["overlap"] == 0.0


def test_arousal_is_relative_to_the_persons_baseline():
    rng = np.random.default_rng(5)
    t = np.arange(40 * RATE) / RATE
    calm = _syllables(rng, t, 200, [(0, 20)], 0.03) * (t < 20)
    aroused = _syllables(rng, t, 260, [(20, 40)], 0.09) * (t >= 20)
    x = calm + aroused + 1e-4 * rng.standard_normal(len(t))
    cfg = TinyDataConfig(baseline=(0, 20))
    only = StreamInfo("client", StreamKind.AUDIO, float(RATE))
    fe = AudioFrontEnd([only], cfg)
    out = fe.update(Chunk(only, x, t0=0.0)) + fe.finish()
    rows = dict(seconds(VoiceEstimator("client", fe.prosody_streams, cfg), out))
    assert all(rows[s]["vocal_arousal"] is None for s in range(1, 21))
    late = [rows[s]["vocal_arousal"] for s in range(26, 40)]
    assert all(v is not None and v > 1.0 for v in late)
    assert rows[30]["loudness_db"] > rows[10]["loudness_db"] + 8


def test_composite_and_baseline():
    base = RobustBaseline(min_n=3)
    for v in (30.0, 31.0, 32.0, 29.0):
        base.add({"f0_st": v, "loudness_db": -30.0})
    base.freeze()
    z = base.z({"f0_st": 33.0, "loudness_db": -30.0})
    assert z["f0_st"] == pytest.approx((33.0 - 30.5) / max(1.4826 * 1.0, 0.5))
    assert z["loudness_db"] == 0.0 and z["speech_rate"] is None
    assert composite({"f0_st": None, "loudness_db": 3.0}, {"f0_st": 1, "loudness_db": 1}) is None
    assert composite({"f0_st": 9.0, "loudness_db": 1.0}, {"f0_st": 1, "loudness_db": 1}) == pytest.approx(3.0)


def test_prosody_from_a_source_with_fewer_channels():
    info = StreamInfo("client", StreamKind.PROSODY, None, ("energy_db", "f0_hz"))
    times = np.arange(1, 301) / 100.0
    vals = np.column_stack([np.full(300, -30.0), np.where(times > 1.0, 220.0, np.nan)])
    est = VoiceEstimator("client", [info], PipelineConfig(options={"voice": {"window_s": 1.0}}))
    rows = dict(seconds(est, [Chunk(info, vals, times=times)]))
    assert rows[1]["speaking"] == 0 and rows[3]["speaking"] == 1
    assert rows[3]["f0_st"] == pytest.approx(36.0, abs=0.01)


def test_wrong_streams_rejected():
    with pytest.raises(InputError):
        VoiceEstimator("client", [], PipelineConfig())
    with pytest.raises(InputError, match="unknown voice option"):
        VoiceEstimator("client", [StreamInfo("client", StreamKind.PROSODY)], PipelineConfig(options={"voice": {"x": 1}}))


def _auc(scores, labels):
    """Mann-Whitney AUC (ties count half)."""
    from scipy.stats import rankdata

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    r = rankdata(s)
    n1, n0 = y.sum(), (~y).sum()
    return (r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def emodb_features(folder):
    """Per-clip voice features of the EmoDB subset, through the full front end + estimator."""
    import pandas as pd
    import soundfile as sf
    from scipy.signal import resample_poly

    labels = pd.read_csv(folder / "labels.csv", dtype={"speaker": str})
    # one 2-s clip = one window; baseline and weights come from the per-speaker step below
    cfg = TinyDataConfig(baseline=(0, 0), options={"voice": {"window_s": 2.0}})
    info = StreamInfo("speaker", StreamKind.AUDIO, float(RATE))
    rows = []
    for r in labels.itertuples():
        x, fs = sf.read(folder / "wav" / r.file)
        assert fs == 22050
        y = resample_poly(x, 320, 441)  # 22.05 kHz -> 16 kHz
        fe = AudioFrontEnd([info], cfg)
        est = VoiceEstimator("speaker", fe.prosody_streams, cfg)
        for c in fe.update(Chunk(info, y, t0=0.0)) + fe.finish():
            est.update(c)
        est.finish()
        feats = est.last_features  # the second ending at 2.0 s: the whole clip
        rows.append({"speaker": r.speaker, "high": r.arousal_class == "high", **feats})
    return rows


def _level_trust(peak_normalise: bool, seconds: int = 80, cfg: PipelineConfig | None = None) -> float:
    """Level trust of a one-person recording: speech bursts, each scaled to full scale or not."""
    rng = np.random.default_rng(11)
    t = np.arange(int(seconds * RATE)) / RATE
    spans = [(s + 0.2, s + 1.6) for s in range(0, seconds - 2, 2)]
    y = np.zeros_like(t)
    for a, b in spans:
        seg = (t >= a) & (t < b)
        burst = _syllables(rng, t[seg] - a, 200, [(0.0, b - a)], 0.05)
        y[seg] = burst / np.max(np.abs(burst)) * 0.999 if peak_normalise else burst
    cfg = cfg or PipelineConfig(baseline=(0.0, 60.0))
    info = StreamInfo("client", StreamKind.AUDIO, float(RATE))
    fe = AudioFrontEnd([info], cfg)
    est = VoiceEstimator("client", fe.prosody_streams, cfg)
    for c in fe.update(Chunk(info, y, t0=0.0)) + fe.finish():
        est.update(c)
    est.finish()
    return est.level_trust


def test_level_trust_detects_peak_normalised_recordings():
    assert _level_trust(peak_normalise=False) == 1.0
    assert _level_trust(peak_normalise=True) == 0.0


def test_level_trust_with_a_baseline_from_a_separate_recording_needs_both_recordings():
    """--baseline-from compares the session's level with the resting recording's: a clipped or
    peak-normalised session loses the level cue even when the resting recording was natural."""
    from coregulate.models.config import BASELINE_FROM_RECORDING, BASELINE_WHOLE_RECORDING

    def session(ref_trust, origin, peak_normalise):
        ref = {"stats": {"f0_st": [50.0, 1.0], "loudness_db": [-30.0, 3.0]}, "level_trust": ref_trust, "origin": origin}
        return _level_trust(peak_normalise, 30, PipelineConfig(baseline_reference={"client": {"voice": ref}}))

    assert session(1.0, BASELINE_FROM_RECORDING, peak_normalise=False) == 1.0
    assert session(1.0, BASELINE_FROM_RECORDING, peak_normalise=True) == 0.0
    assert session(0.0, BASELINE_FROM_RECORDING, peak_normalise=False) == 0.0  # a clipped resting recording
    # the whole of the session's own (short) recording: its trust already describes this session
    assert session(1.0, BASELINE_WHOLE_RECORDING, peak_normalise=True) == 1.0


def per_speaker_cli_auc(folder, who, tmp_path, speakers=None):
    """AUC of vocal_arousal (and of speaker-centred F0) for high vs low arousal clips, through
    ``analyze_session`` (what ``coregulate analyze`` runs) with default options, one file per
    speaker: each clip at the start of a 10-s slot, scored by the second 5 s into its slot.
    ``speakers`` keeps only those speakers (all when None)."""
    import pandas as pd
    import soundfile as sf

    from coregulate.server.offline.analysis import analyze_session

    labels = pd.read_csv(folder / "labels.csv", dtype={who: str})
    if speakers is not None:
        labels = labels[labels[who].isin(speakers)]
    scores, f0, high, spk_of, notes = [], [], [], [], set()
    for spk, mine in labels.groupby(who):
        parts = []
        rate = None
        for f in mine.file:
            x, fs = sf.read(folder / "wav" / f, always_2d=True)
            rate = rate or fs
            slot = np.zeros(10 * fs)
            slot[: min(len(x), 5 * fs)] = x.mean(axis=1)[: 5 * fs]
            parts.append(slot)
        wav = tmp_path / f"{spk}.wav"
        sf.write(wav, np.concatenate(parts), rate, subtype="PCM_16")
        res = analyze_session([f"client={wav}"], tmp_path / spk, report=False)
        notes |= set(res.notes)
        df = pd.read_csv(tmp_path / spk / "features.csv").set_index("t_s")
        for k, cls in enumerate(mine.arousal_class):
            r = df.loc[10 * k + 5]
            scores.append(r.vocal_arousal)
            f0.append(r.f0_st)
            high.append(cls == "high")
            spk_of.append(spk)
    f0 = pd.Series(f0, dtype=float)
    f0c = (f0 - f0.groupby(pd.Series(spk_of)).transform("median")).to_numpy()
    scores, high = np.asarray(scores, float), np.asarray(high, bool)
    ok, okf = np.isfinite(scores), np.isfinite(f0c)  # a clip without voiced speech has no score
    return _auc(scores[ok], high[ok]), _auc(f0c[okf], high[okf]), float(ok.mean()), notes


@pytest.mark.realdata
@pytest.mark.parametrize("corpus, who, speakers, target", [("emodb_speech", "speaker", None, 0.95),
                                                           ("ravdess_arousal_subset", "actor", ("01", "02", "03", "04"), 0.90)],
                         ids=["emodb_speech", "ravdess_actors_01-04"])
def test_vocal_arousal_through_the_cli_path(shared_data, tmp_path, capsys, corpus, who, speakers, target):
    """Issue 14's targets: EmoDB >= 0.95 (peak-normalised clips: the level is detected as
    untrustworthy), RAVDESS >= 0.90 (held out), per-speaker files shorter than the baseline
    (so the whole file is the baseline, and analyze says so). RAVDESS: actors 01-04 (two men, two
    women, 64 clips) keep the test's cost down; the figure over all ten actors is
    ``bench/validate_arousal.py``'s (0.994 here over all ten, 0.991 over these four)."""
    folder = shared_data / corpus
    if not folder.is_dir():
        pytest.skip(f"{corpus} not in the shared data")
    auc, f0_auc, coverage, notes = per_speaker_cli_auc(folder, who, tmp_path, speakers)
    with capsys.disabled():
        print(f"\n{corpus}: vocal_arousal AUC {auc:.3f} (F0 alone {f0_auc:.3f}), coverage {coverage:.2f}")
    assert coverage >= 0.95
    assert auc >= target
    assert any("whole recording (shorter than the baseline segment)" in n for n in notes)


def test_simulator_episodes_visible_in_the_right_direction():
    """Client hyperarousal (300-420 s: louder, higher) and withdrawal (780-960 s: quiet, long
    pauses, flat pitch) against the calm stretches, through the whole audio path."""
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=0, duration_s=1200, audio=True, rr=False)
    audio = [s for s in sim.streams if s.kind is StreamKind.AUDIO]
    cfg = PipelineConfig()
    fe = AudioFrontEnd(audio, cfg)
    est = {s.participant: VoiceEstimator(s.participant, fe.prosody_streams, cfg) for s in fe.prosody_streams}
    rows = {p: {} for p in est}
    for c in sim.chunks():
        if c.start >= 961:  # the repair phase is not needed
            break
        if c.kind is StreamKind.AUDIO:
            for pc in fe.update(c):
                rows[pc.participant].update(est[pc.participant].update(pc))
    for p, e in est.items():
        rows[p].update(e.finish())
    cl = rows["client"]

    def mean(col, a, b):
        v = [cl[s][col] for s in range(a + 6, b + 1) if cl[s][col] is not None]  # skip the window's lag
        return float(np.mean(v))

    for col, sign in (("vocal_arousal", +1), ("f0_st", +1), ("loudness_db", +1), ("f0_range_st", +1)):
        assert sign * (mean(col, 300, 420) - mean(col, 600, 780)) > 0, col
    assert mean("vocal_arousal", 300, 420) > 1.0
    assert mean("vocal_arousal", 780, 960) < -1.0
    assert mean("loudness_db", 780, 960) < mean("loudness_db", 600, 780) - 3
    assert mean("pause_ratio", 780, 960) > mean("pause_ratio", 600, 780) + 0.1
    assert mean("f0_range_st", 780, 960) < mean("f0_range_st", 600, 780) - 1
    assert mean("talk_share", 780, 960) < mean("talk_share", 600, 780)
    # speaking per second agrees with the script's utterances
    truth = np.array([sim.truth.speaking("client", s - 0.5) for s in range(1, 961)])
    spk = np.array([cl[s]["speaking"] for s in range(1, 961)])
    assert np.mean(spk == truth) > 0.8
