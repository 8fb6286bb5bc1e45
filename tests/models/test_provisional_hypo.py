"""The hypo corroboration in the provisional tier (issue #15): a change of zone that turns on the
voice alone, or on movement alone (``hypo_candidate`` <-> ``hypo``), is pushed from that channel's
early seconds, before the final rows (which wait for the heart's look-ahead) make it; the final tier
does not know it exists."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_events import EventState
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

SECONDS = 360
SLOW_FROM = 130.0  # the heart slows from 75 to 60 bpm: arousal below -2 after the 0-120 s baseline
QUIET_FROM = 230.0  # the voice drops by 20 dB, or the body goes still: the low-arousal corroboration of a freeze ...
QUIET_UNTIL = 290.0  # ... and comes back
CONFIG = PipelineConfig(baseline=(0.0, 120.0))

RR = StreamInfo("client", StreamKind.RR)
PROSODY = StreamInfo("client", StreamKind.PROSODY, rate=100.0,
                     channels=("energy_db", "f0_hz", "alpha_db", "peak_db", "speech", "other_speech", "overlap"))
# milli-g at one of a Polar H10's rates, 50 Hz: its chunks end on the same half seconds as the voice
# frames' (a 25-Hz chunk of 13 samples would end 0.02 s after an RR chunk that a push follows, and the
# pushed event would carry the previous second's corroboration: evidence is the data's at the push)
ACC = StreamInfo("client", StreamKind.ACC, rate=50.0, channels=("x", "y", "z"))
CORROBORATORS = {"voice": PROSODY, "movement": ACC}


def _streams(corroborator: str = "voice", seed: int = 0) -> list[Chunk]:
    """One person: device RR (800 ms, then 1000 ms, alternating +-10 ms so that RMSSD stays put),
    and one corroborating channel: voice frames (speech 0.6 s of every second, 20 dB quieter from
    QUIET_FROM to QUIET_UNTIL) or a chest accelerometer (a person moving by ~20 mg, still from
    QUIET_FROM to QUIET_UNTIL, well under the exertion gate's 60 mg)."""
    rng = np.random.default_rng(seed)
    rr, t = [], 0.0
    while t < SECONDS:
        r = (800.0 if t < SLOW_FROM else 1000.0) + (10.0 if len(rr) % 2 else -10.0)
        t += r / 1000.0
        rr.append((t, r))
    beats = Chunk(RR, np.array([r for _, r in rr]), times=np.array([b for b, _ in rr]))
    if corroborator == "movement":
        ta = np.arange(int(SECONDS * ACC.rate)) / ACC.rate
        still = (ta >= QUIET_FROM) & (ta < QUIET_UNTIL)
        sway = np.where(still, 2.0, 20.0)[:, None] * rng.standard_normal((ta.size, 3))
        return [beats, Chunk(ACC, sway + np.array([0.0, 0.0, 1000.0]), t0=0.0)]
    tf = (np.arange(SECONDS * 100) + 1) / 100.0  # frame k ends at (k + 1) / 100 s
    speech = ((tf % 1.0) > 0.2) & ((tf % 1.0) <= 0.8)
    f0 = np.where(speech, 180.0 * 2 ** (rng.normal(0, 1, tf.size) / 12), np.nan)
    energy = np.where(speech, -30.0 + rng.normal(0, 2, tf.size) - 20.0 * ((tf > QUIET_FROM) & (tf <= QUIET_UNTIL)), -70.0)
    frames = np.column_stack([energy, f0, np.where(speech, -12.0, np.nan), energy + 10.0, speech.astype(float),
                              np.zeros(tf.size), np.zeros(tf.size)])
    return [beats, Chunk(PROSODY, frames, t0=0.0)]


def _interleaved(step: float, corroborator: str = "voice") -> list[Chunk]:
    out = [c for stream in _streams(corroborator) for c in rechunk([stream], step)]
    return sorted(out, key=lambda c: float(c.t_end))


def _run(chunks, provisional: bool, corroborator: str = "voice"):
    """Final rows, final zone events with when they were known, provisional updates with when."""
    pipe = SessionPipeline([RR, CORROBORATORS[corroborator]], CONFIG, provisional=provisional)
    rows, finals, updates = [], [], []
    for c in chunks:
        out = pipe.update(c)
        rows += out.features
        finals += [(float(c.t_end), e) for e in out.events]
        updates += [(float(c.t_end), u) for u in out.event_updates]
    out = pipe.finish()
    return (rows + out.features, finals + [(np.inf, e) for e in out.events],
            updates + [(np.inf, u) for u in out.event_updates])


@pytest.mark.parametrize("corroborator", CORROBORATORS)
@pytest.mark.parametrize("step", [0.5, 3.0])
@pytest.mark.parametrize("change, quiet_at", [("hypo_candidate -> hypo", QUIET_FROM),  # the voice goes quiet, the body still
                                              ("hypo -> hypo_candidate", QUIET_UNTIL)])  # and comes back
def test_a_change_of_one_corroborating_channel_alone_is_pushed_before_the_final_rows_make_it(corroborator, step, change, quiet_at):
    chunks = _interleaved(step, corroborator)
    rows, finals, updates = _run(chunks, provisional=True, corroborator=corroborator)
    plain_rows, plain_finals, none = _run(chunks, provisional=False, corroborator=corroborator)
    assert rows == plain_rows and none == []  # the final tier does not know the provisional one exists
    assert [e.to_dict() for _, e in finals] == [e.to_dict() for _, e in plain_finals]
    zones = [(at, e) for at, e in finals if e.participant == "client" and e.label.startswith(("window", "hypo"))]
    assert [e.label for _, e in zones] == ["window -> hypo_candidate", "hypo_candidate -> hypo", "hypo -> hypo_candidate"]
    final_at, final = next((at, e) for at, e in zones if e.label == change)
    assert quiet_at < final.t_start < quiet_at + 30  # the heart stays slow: the one channel decides
    if change.endswith("-> hypo"):  # corroborated by that channel, the only one there is
        low = final.evidence["corroboration_z"]
        assert low and (set(low) == {"movement"}) == (corroborator == "movement")
    pushed = [(at, u) for at, u in updates if u.state == EventState.PROVISIONAL and u.event.label == change]
    assert len(pushed) == 1
    pushed_at, u = pushed[0]
    # pushed when the channel's data reach the change's second (within a chunk), the heart's rows far behind
    assert final.t_start <= pushed_at <= final.t_start + step + 1.0
    assert final_at - pushed_at >= 3.0
    assert u.event.t_start == final.t_start and u.event.evidence["corroboration_z"] == final.evidence["corroboration_z"]
    settled = [v for _, v in updates if v.pid == u.pid and v.state != EventState.PROVISIONAL]
    assert [(v.state, v.final.t_start) for v in settled] == [(EventState.CONFIRMED, final.t_start)]
    assert not [v for _, v in updates if v.state == EventState.WITHDRAWN]


@pytest.mark.parametrize("corroborator", CORROBORATORS)
def test_the_provisional_events_are_a_function_of_the_data_not_of_the_chunking(corroborator):
    stories = []
    for step in (0.5, 3.0):
        _, _, updates = _run(_interleaved(step, corroborator), provisional=True, corroborator=corroborator)
        stories.append(sorted((u.event.label, u.event.t_start, str(u.state), u.event.evidence.get("corroboration_z"),
                               None if u.final is None else u.final.t_start) for _, u in updates))
    assert stories[0] == stories[1] and stories[0]
