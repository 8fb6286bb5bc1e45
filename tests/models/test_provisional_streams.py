"""Voice and skin conductance in the provisional tier (issue #15): their seconds are shown as soon as
their own data are in, equal to what the final row later holds, and move the provisional arousal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.eda import EdaEstimator
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.voice import VOICE_COLUMNS, VoiceEstimator
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

SECONDS = 200
RR_MS = 800.0  # a steady heart: HR 75 bpm in both tiers, so arousal moves with skin conductance only
EDA_RISE_AT = 120.0  # after the baseline (0-60 s) the tonic level climbs by 1.5 uS
EDA_COLUMNS = ("eda_scl_us", "scr_per_min")
CONFIG = PipelineConfig(baseline=(0.0, 60.0))

RR = StreamInfo("client", StreamKind.RR)
EDA = StreamInfo("client", StreamKind.EDA, rate=32.0)
PROSODY = StreamInfo("client", StreamKind.PROSODY, rate=100.0,
                     channels=("energy_db", "f0_hz", "alpha_db", "peak_db", "speech", "other_speech", "overlap"))


def _streams(seed: int = 0) -> list[Chunk]:
    """One person: device RR, 32-Hz EDA with SCRs and a tonic rise, and voice frames (speech 0.6 s of
    every second, its F0 climbing after the rise), each as one whole-session chunk."""
    rng = np.random.default_rng(seed)
    beats = np.arange(1, int(SECONDS / (RR_MS / 1000.0)) + 1) * RR_MS / 1000.0
    rr = Chunk(RR, np.full(beats.size, RR_MS), times=beats)
    t = np.arange(int(SECONDS * EDA.rate)) / EDA.rate
    eda = 5.0 + 0.001 * rng.standard_normal(t.size) + 1.5 * np.clip((t - EDA_RISE_AT) / 20.0, 0.0, 1.0)
    for onset in np.arange(7.0, SECONDS, 11.0):
        d = np.clip(t - onset, 0, None)
        eda += 0.2 * (np.exp(-d / 4.0) - np.exp(-d / 0.75)) * (t >= onset) / 0.6
    tf = (np.arange(SECONDS * 100) + 1) / 100.0  # frame k ends at (k + 1) / 100 s
    speech = ((tf % 1.0) > 0.2) & ((tf % 1.0) <= 0.8)
    f0 = np.where(speech, 180.0 * 2 ** (rng.normal(0, 1, tf.size) / 12) * np.where(tf > EDA_RISE_AT, 1.3, 1.0), np.nan)
    energy = np.where(speech, -30.0 + rng.normal(0, 2, tf.size), -70.0)
    frames = np.column_stack([energy, f0, np.where(speech, -12.0, np.nan), energy + 10.0, speech.astype(float),
                              np.zeros(tf.size), np.zeros(tf.size)])
    return [rr, Chunk(EDA, eda, t0=0.0), Chunk(PROSODY, frames, t0=0.0)]


def _interleaved(step: float) -> list[Chunk]:
    """The three streams cut into ``step``-s chunks and merged in time order (as a live source would)."""
    out = [c for stream in _streams() for c in rechunk([stream], step)]
    return sorted(out, key=lambda c: float(c.t_end))


def _run(chunks, provisional: bool):
    """Final rows and provisional values, each provisional value with how far the data had come."""
    pipe = SessionPipeline([RR, EDA, PROSODY], CONFIG, provisional=provisional)
    rows, prov, released = [], [], {}
    for c in chunks:
        out = pipe.update(c)
        rows += out.features
        for r in out.features:
            released[r["t_s"]] = float(c.t_end)
        prov += [(float(c.t_end), v) for v in out.provisional]
    out = pipe.finish()
    released.update({r["t_s"]: math.inf for r in out.features})  # final only at the end of data
    return rows + out.features, prov + [(math.inf, v) for v in out.provisional], released


def test_the_estimators_declare_a_provisional_family():
    assert VoiceEstimator.provisional_family == "voice" and EdaEstimator.provisional_family == "eda"


@pytest.mark.parametrize("step", [0.5, 3.0])
def test_voice_and_eda_seconds_come_early_and_equal_the_final_row(step):
    chunks = _interleaved(step)
    rows, prov, released = _run(chunks, provisional=True)
    plain, none, _ = _run(chunks, provisional=False)
    assert rows == plain and none == []  # the final rows do not know the tier exists
    final = {r["t_s"]: r for r in rows}
    for family, columns in (("voice", VOICE_COLUMNS), ("eda", EDA_COLUMNS)):
        mine = [(at, v) for at, v in prov if v["family"] == family]
        seconds = [int(v["t"]) for _, v in mine]
        assert seconds == sorted(set(seconds))  # each second once, in order
        # every second but the session's last few (final at the end of data) is shown early ...
        assert len(seconds) >= SECONDS - 10
        for at, v in mine:
            t = int(v["t"])
            assert v["participant"] == "client" and v["t"] == t
            # ... exactly as its final row will hold it (no look-ahead: nothing later changes it)
            assert {k: v[k] for k in columns} == {k: final[t][k] for k in columns}
            # as soon as the data reach the end of the second, while the row waits for the heart
            assert t <= at < t + step + 1e-9
            assert released[t] >= at + 2.5
        # the final rows come with the heart's 8-beat blocks and look-ahead: seconds later (median)
        assert np.median([released[int(v["t"])] - at for at, v in mine]) >= 5.0
    voice = [v for _, v in prov if v["family"] == "voice"]
    eda = [v for _, v in prov if v["family"] == "eda"]
    assert sum(v["f0_st"] is not None for v in voice) >= SECONDS - 20  # they carry values, not only Nones
    assert sum(v["scr_per_min"] is not None for v in eda) >= SECONDS - 70


def test_provisional_arousal_moves_with_skin_conductance_ahead_of_the_final_rows():
    rows, prov, released = _run(_interleaved(0.5), provisional=True)
    final = {r["t_s"]: r for r in rows}
    eda = [(at, v) for at, v in prov if v["family"] == "eda" and v.get("arousal") is not None]
    assert eda and min(int(v["t"]) for _, v in eda) <= 70  # from the baseline's end on
    # a steady heart: the provisional arousal of an EDA second is the final arousal of that second
    for _, v in eda:
        assert v["arousal"] == pytest.approx(final[int(v["t"])]["arousal"], abs=1e-9)
        assert v["arousal_confidence"] == pytest.approx(final[int(v["t"])]["arousal_confidence"], abs=1e-9)
    # the rise reaches the viewer with the skin conductance, not with the heart's look-ahead
    first_prov = min(at for at, v in eda if v["arousal"] > 1.0)
    first_final = min(released[r["t_s"]] for r in rows if (r["arousal"] or 0) > 1.0)
    assert EDA_RISE_AT < first_prov <= first_final - 5.0
    # the heart's provisional values carry the newest skin conductance too
    heart = [(at, v) for at, v in prov if v["family"] == "heart" and v.get("arousal") is not None]
    after = [v["arousal"] for at, v in heart if EDA_RISE_AT + 25 < at < SECONDS - 10]
    assert after and min(after) > 1.0
