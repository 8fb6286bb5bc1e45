"""LSL in and out with real pylsl outlets and inlets on loopback (unique names per test)."""

import asyncio
import json
import math
import uuid

import numpy as np
import pylsl
import pytest

from coregulate.models.base import Event
from coregulate.models.columns import FEATURE_COLUMNS, TEXT_COLUMNS
from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import DeviceUnavailableError, InputError
from coregulate.sensors.lsl import LslInletSource
from coregulate.server.session.lsl_outlet import LslPublisher

pytestmark = pytest.mark.lsl


def outlet(name, type_, rate, fmt="float32", unit=None, channels=1):
    info = pylsl.StreamInfo(name, type_, channels, rate, fmt, f"src-{name}")
    if unit is not None:
        chans = info.desc().append_child("channels")
        for i in range(channels):
            ch = chans.append_child("channel")
            ch.append_child_value("label", f"c{i}")
            ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


async def take(src, n_samples, timeout=3.0):
    got = []

    async def run():
        async for c in src:
            got.append(c)
            if sum(len(x) for x in got) >= n_samples:
                return

    await asyncio.wait_for(run(), timeout)
    await src.aclose()
    return got


class Now:
    """Session clock whose zero is at LSL time ``origin``."""

    def __init__(self, origin):
        self.origin = origin

    def __call__(self):
        return pylsl.local_clock() - self.origin


@pytest.fixture
def name():
    return f"cg-test-{uuid.uuid4().hex[:8]}"


async def test_ecg_inlet_scales_units_and_maps_timestamps(name):
    out = outlet(name, "ECG", 130, unit="mV")
    origin = pylsl.local_clock() - 100.0  # the session started 100 s ago
    src = LslInletSource("client", name=name, timeout=2.0, now=Now(origin))
    assert src.stream.kind is StreamKind.ECG and src.stream.rate == 130.0 and src.stream.participant == "client"
    t_first = pylsl.local_clock()
    values = np.arange(260, dtype=np.float32) / 100.0  # mV
    consumer = asyncio.create_task(take(src, 260))
    await asyncio.sleep(0.3)  # the inlet opens its stream before we push
    for k in range(0, 260, 26):
        out.push_chunk(values[k : k + 26, None].tolist(), t_first + (k + 25) / 130.0)
    chunks = await consumer
    got = np.concatenate([c.values for c in chunks])
    np.testing.assert_allclose(got, values.astype(float) * 1000.0, rtol=1e-6)  # µV
    # first sample at its LSL time, on the session clock (time_correction ~0 on loopback)
    assert chunks[0].t0 == pytest.approx(t_first - origin, abs=0.01)
    assert abs(src.time_correction) < 0.01
    ends = [c.t_end for c in chunks]
    assert all(b > a for a, b in zip(ends, ends[1:]))
    assert not any(c.gap_before for c in chunks)


async def test_markers_become_marker_chunks(name):
    out = outlet(name, "Markers", 0, fmt="string")
    origin = pylsl.local_clock()
    src = LslInletSource("therapist", type="Markers", source_id=f"src-{name}", timeout=2.0, now=Now(origin))
    assert src.stream.kind is StreamKind.MARKER and src.stream.rate is None
    consumer = asyncio.create_task(take(src, 2))
    await asyncio.sleep(0.3)
    t = pylsl.local_clock()
    out.push_sample(["session start"], t)
    out.push_sample(["breathing exercise"], t + 0.5)
    chunks = await consumer
    labels = np.concatenate([c.values for c in chunks]).tolist()
    times = np.concatenate([c.times for c in chunks])
    assert labels == ["session start", "breathing exercise"]
    np.testing.assert_allclose(times, [t - origin, t - origin + 0.5], atol=0.01)


async def test_rr_stream_is_irregular_in_ms(name):
    out = outlet(name, "RR", 0, unit="s")
    src = LslInletSource("client", name=name, timeout=2.0)
    assert src.stream.kind is StreamKind.RR and src.stream.rate is None
    consumer = asyncio.create_task(take(src, 3))
    await asyncio.sleep(0.3)
    t = pylsl.local_clock()
    for i, rr in enumerate((0.8, 0.82, 0.79)):
        out.push_sample([rr], t + i)
    chunks = await consumer
    np.testing.assert_allclose(np.concatenate([c.values for c in chunks]), [800, 820, 790], rtol=1e-6)


def test_missing_stream_and_bad_type_fail_clearly(name):
    with pytest.raises(DeviceUnavailableError, match=f"no LSL stream matching name='{name}'"):
        LslInletSource("client", name=name, timeout=0.2)
    out = outlet(name, "EEG", 256)  # noqa: F841 - kept alive while resolving
    with pytest.raises(InputError, match="type 'EEG'.*expected ECG, HR, RR, EDA, Audio or Markers"):
        LslInletSource("client", name=name, timeout=2.0)
    out2 = outlet(name + "u", "ECG", 130, unit="furlongs")  # noqa: F841
    with pytest.raises(InputError, match="unit 'furlongs'"):
        LslInletSource("client", name=name + "u", timeout=2.0)
    with pytest.raises(InputError, match="no stream chosen"):
        LslInletSource("client")


def test_publisher_outlets_carry_features_dyad_and_events(name):
    origin = pylsl.local_clock() - 50.0
    pub = LslPublisher(["client", "therapist"], prefix=name, session_id="s1", now=Now(origin))
    inlets = {}
    for suffix in ("client_features", "dyad", "events"):
        found = pylsl.resolve_bypred(f"name='{name}_{suffix}'", 1, 2.0)
        assert found, suffix
        inlets[suffix] = pylsl.StreamInlet(found[0])
        inlets[suffix].open_stream(2.0)
    info = inlets["client_features"].info(2.0)
    ch = info.desc().child("channels").child("channel")
    labels = []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    assert labels == [c for c in FEATURE_COLUMNS if c not in TEXT_COLUMNS]
    assert info.type() == "Features" and info.nominal_srate() == 1.0
    rows = [
        {"t_s": 1, "participant": "client", "hr_bpm": 71.5, "rmssd_ms": None, "zone": "window", "speaking": True},
        {"t_s": 1, "participant": "therapist", "hr_bpm": 64.0},
        {"t_s": 2, "participant": "client", "hr_bpm": 72.0, "rmssd_ms": 41.0},
    ]
    ev = Event("zone_change", 2.0, participant="client", rule="arousal>1", evidence={"arousal": 1.2}, label="hyper")
    pub.publish(rows, [{"t_s": 2, "sync_hr_z": 0.4, "leader": "therapist"}], [ev])
    samples, stamps = [], []
    for _ in range(20):
        s, t = inlets["client_features"].pull_chunk(timeout=0.2)
        samples += s
        stamps += t
        if len(samples) >= 2:
            break
    cols = labels
    assert [s[cols.index("t_s")] for s in samples] == [1.0, 2.0]
    assert samples[0][cols.index("hr_bpm")] == 71.5 and math.isnan(samples[0][cols.index("rmssd_ms")])
    assert samples[0][cols.index("speaking")] == 1.0 and samples[1][cols.index("rmssd_ms")] == 41.0
    np.testing.assert_allclose(stamps, [origin + 1, origin + 2], atol=0.01)
    d, _ = inlets["dyad"].pull_sample(timeout=2.0)
    assert d[0] == 2.0 and d[2] == pytest.approx(0.4)
    m, mt = inlets["events"].pull_sample(timeout=2.0)
    event = json.loads(m[0])
    assert event["kind"] == "zone_change" and event["label"] == "hyper" and event["evidence"] == {"arousal": 1.2}
    assert mt == pytest.approx(origin + 2.0, abs=0.01)
    pub.close()
