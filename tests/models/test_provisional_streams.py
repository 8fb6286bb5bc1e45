"""Voice, skin conductance and movement in the provisional tier (issue #15): their seconds are shown as
soon as their own data are in, equal to what the final row later holds, and move the provisional arousal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.eda import EdaEstimator
from coregulate.models.movement import MovementEstimator
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
ACC = StreamInfo("client", StreamKind.ACC, rate=50.0, channels=("x", "y", "z"))  # milli-g
RESP = StreamInfo("client", StreamKind.RESP, rate=50.0)  # a breathing belt
MOVEMENT_COLUMNS = ("movement", "breathing_rpm")


def _steady_rr() -> Chunk:
    """Device RR of a steady heart over the whole session, as one chunk."""
    beats = np.arange(1, int(SECONDS / (RR_MS / 1000.0)) + 1) * RR_MS / 1000.0
    return Chunk(RR, np.full(beats.size, RR_MS), times=beats)


def _streams(seed: int = 0) -> list[Chunk]:
    """One person: device RR, 32-Hz EDA with SCRs and a tonic rise, and voice frames (speech 0.6 s of
    every second, its F0 climbing after the rise), each as one whole-session chunk."""
    rng = np.random.default_rng(seed)
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
    return [_steady_rr(), Chunk(EDA, eda, t0=0.0), Chunk(PROSODY, frames, t0=0.0)]


def _body_streams(seed: int = 0) -> list[Chunk]:
    """One person: the same steady device RR, a chest accelerometer (a person swaying by ~20 mg,
    stiller from 100 s on) and a breathing belt (15 breaths/min, 12 from 100 s on)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SECONDS * ACC.rate)) / ACC.rate
    sway = np.where(t < 100.0, 20.0, 5.0)[:, None] * rng.standard_normal((t.size, 3))
    breath = np.sin(2 * np.pi * np.cumsum(np.where(t < 100.0, 0.25, 0.2)) / ACC.rate) + 0.05 * rng.standard_normal(t.size)
    return [_steady_rr(), Chunk(ACC, sway + np.array([0.0, 0.0, 1000.0]), t0=0.0), Chunk(RESP, breath, t0=0.0)]


def _interleaved(step: float, streams=_streams) -> list[Chunk]:
    """The streams cut into ``step``-s chunks and merged in time order (as a live source would)."""
    out = [c for stream in streams() for c in rechunk([stream], step)]
    return sorted(out, key=lambda c: float(c.t_end))


def _run(chunks, provisional: bool, infos=(RR, EDA, PROSODY)):
    """Final rows and provisional values, each provisional value with how far the data had come."""
    pipe = SessionPipeline(list(infos), CONFIG, provisional=provisional)
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
    assert MovementEstimator.provisional_family == "movement"


@pytest.mark.parametrize("body", [False, True], ids=["voice_eda", "movement_belt"])
@pytest.mark.parametrize("step", [0.5, 3.0])
def test_per_second_families_come_early_and_equal_the_final_row(step, body):
    chunks = _interleaved(step, _body_streams if body else _streams)
    infos = (RR, ACC, RESP) if body else (RR, EDA, PROSODY)
    rows, prov, released = _run(chunks, provisional=True, infos=infos)
    plain, none, _ = _run(chunks, provisional=False, infos=infos)
    assert rows == plain and none == []  # the final rows do not know the tier exists
    final = {r["t_s"]: r for r in rows}
    families = (("movement", MOVEMENT_COLUMNS),) if body else (("voice", VOICE_COLUMNS), ("eda", EDA_COLUMNS))
    for family, columns in families:
        mine = [(at, v) for at, v in prov if v["family"] == family]
        seconds = [int(v["t"]) for _, v in mine]
        assert seconds == sorted(set(seconds))  # each second once, in order
        # every second but the session's last few (final at the end of data) is shown early ...
        assert len(seconds) >= SECONDS - 10
        for at, v in mine:
            t = int(v["t"])
            assert v["participant"] == "client" and v["t"] == t
            # ... exactly as its final row will hold it (no look-ahead: nothing later changes it)
            assert {k: v.get(k) for k in columns} == {k: final[t].get(k) for k in columns}
            # as soon as the data reach the end of the second, while the row waits for the heart
            assert t <= at < t + step + 1e-9
            assert released[t] >= at + 2.5
        # the final rows come with the heart's 8-beat blocks and look-ahead: seconds later (median)
        assert np.median([released[int(v["t"])] - at for at, v in mine]) >= 5.0
    if body:  # they carry values: the sway, then the stiller body; the belt's rate once its 30 s are in
        moved = {int(v["t"]): v for _, v in prov if v["family"] == "movement"}
        assert 15.0 < np.median([moved[t]["movement"] for t in range(10, 100)]) < 25.0
        assert 3.0 < np.median([moved[t]["movement"] for t in range(110, SECONDS - 10)]) < 7.0
        assert sum(v.get("breathing_rpm") is not None for v in moved.values()) >= SECONDS - 40
        assert moved[90]["breathing_rpm"] == pytest.approx(15.0, abs=1.0)
        assert moved[SECONDS - 20]["breathing_rpm"] == pytest.approx(12.0, abs=1.0)
        return
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
