"""The hypo corroboration in the provisional tier (issue #15): a change of zone that turns on the
voice alone (``hypo_candidate`` <-> ``hypo``) is pushed from the voice's early seconds, before the
final rows (which wait for the heart's look-ahead) make it; the final tier does not know it exists."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_events import EventState
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

SECONDS = 360
SLOW_FROM = 130.0  # the heart slows from 75 to 60 bpm: arousal below -2 after the 0-120 s baseline
QUIET_FROM = 230.0  # the voice drops by 20 dB: the low-arousal corroboration of a freeze ...
QUIET_UNTIL = 290.0  # ... and comes back
CONFIG = PipelineConfig(baseline=(0.0, 120.0))

RR = StreamInfo("client", StreamKind.RR)
PROSODY = StreamInfo("client", StreamKind.PROSODY, rate=100.0,
                     channels=("energy_db", "f0_hz", "alpha_db", "peak_db", "speech", "other_speech", "overlap"))


def _streams(seed: int = 0) -> list[Chunk]:
    """One person: device RR (800 ms, then 1000 ms, alternating +-10 ms so that RMSSD stays put),
    and voice frames (speech 0.6 s of every second, 20 dB quieter from QUIET_FROM to QUIET_UNTIL)."""
    rng = np.random.default_rng(seed)
    rr, t = [], 0.0
    while t < SECONDS:
        r = (800.0 if t < SLOW_FROM else 1000.0) + (10.0 if len(rr) % 2 else -10.0)
        t += r / 1000.0
        rr.append((t, r))
    beats = Chunk(RR, np.array([r for _, r in rr]), times=np.array([b for b, _ in rr]))
    tf = (np.arange(SECONDS * 100) + 1) / 100.0  # frame k ends at (k + 1) / 100 s
    speech = ((tf % 1.0) > 0.2) & ((tf % 1.0) <= 0.8)
    f0 = np.where(speech, 180.0 * 2 ** (rng.normal(0, 1, tf.size) / 12), np.nan)
    energy = np.where(speech, -30.0 + rng.normal(0, 2, tf.size) - 20.0 * ((tf > QUIET_FROM) & (tf <= QUIET_UNTIL)), -70.0)
    frames = np.column_stack([energy, f0, np.where(speech, -12.0, np.nan), energy + 10.0, speech.astype(float),
                              np.zeros(tf.size), np.zeros(tf.size)])
    return [beats, Chunk(PROSODY, frames, t0=0.0)]


def _interleaved(step: float) -> list[Chunk]:
    out = [c for stream in _streams() for c in rechunk([stream], step)]
    return sorted(out, key=lambda c: float(c.t_end))


def _run(chunks, provisional: bool):
    """Final rows, final zone events with when they were known, provisional updates with when."""
    pipe = SessionPipeline([RR, PROSODY], CONFIG, provisional=provisional)
    rows, finals, updates = [], [], []
    for c in chunks:
        out = pipe.update(c)
        rows += out.features
        finals += [(float(c.t_end), e) for e in out.events]
        updates += [(float(c.t_end), u) for u in out.event_updates]
    out = pipe.finish()
    return (rows + out.features, finals + [(np.inf, e) for e in out.events],
            updates + [(np.inf, u) for u in out.event_updates])


@pytest.mark.parametrize("step", [0.5, 3.0])
@pytest.mark.parametrize("change, voice_at", [("hypo_candidate -> hypo", QUIET_FROM),  # the voice goes quiet
                                              ("hypo -> hypo_candidate", QUIET_UNTIL)])  # and comes back
def test_a_change_of_the_voice_alone_is_pushed_before_the_final_rows_make_it(step, change, voice_at):
    chunks = _interleaved(step)
    rows, finals, updates = _run(chunks, provisional=True)
    plain_rows, plain_finals, none = _run(chunks, provisional=False)
    assert rows == plain_rows and none == []  # the final tier does not know the provisional one exists
    assert [e.to_dict() for _, e in finals] == [e.to_dict() for _, e in plain_finals]
    zones = [(at, e) for at, e in finals if e.participant == "client" and e.label.startswith(("window", "hypo"))]
    assert [e.label for _, e in zones] == ["window -> hypo_candidate", "hypo_candidate -> hypo", "hypo -> hypo_candidate"]
    final_at, final = next((at, e) for at, e in zones if e.label == change)
    assert voice_at < final.t_start < voice_at + 30  # the heart stays slow: the voice alone decides
    pushed = [(at, u) for at, u in updates if u.state == EventState.PROVISIONAL and u.event.label == change]
    assert len(pushed) == 1
    pushed_at, u = pushed[0]
    # pushed when the voice's data reach the change's second (within a chunk), the heart's rows far behind
    assert final.t_start <= pushed_at <= final.t_start + step + 1.0
    assert final_at - pushed_at >= 3.0
    assert u.event.t_start == final.t_start and u.event.evidence["corroboration_z"] == final.evidence["corroboration_z"]
    settled = [v for _, v in updates if v.pid == u.pid and v.state != EventState.PROVISIONAL]
    assert [(v.state, v.final.t_start) for v in settled] == [(EventState.CONFIRMED, final.t_start)]
    assert not [v for _, v in updates if v.state == EventState.WITHDRAWN]


def test_the_provisional_events_are_a_function_of_the_data_not_of_the_chunking():
    stories = []
    for step in (0.5, 3.0):
        _, _, updates = _run(_interleaved(step), provisional=True)
        stories.append(sorted((u.event.label, u.event.t_start, str(u.state), u.event.evidence.get("corroboration_z"),
                               None if u.final is None else u.final.t_start) for _, u in updates))
    assert stories[0] == stories[1] and stories[0]
