"""build_live_sources and the ``devices`` command (no hardware: fake BLE client, loopback LSL)."""

import time
import types
import uuid

import pylsl
import pytest

from coregulate.sensors.ble.adapter import HeartRateStrapSource, PolarH10Source
from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import DeviceUnavailableError, InputError
from coregulate.sensors.live import build_live_sources, parse_ble_spec, parse_lsl_spec
from coregulate.sensors.lsl import LslInletSource
from coregulate.server.cli.main import main


def test_specs():
    assert parse_ble_spec("A0:9E:1A:00:00:01") == ("h10", "A0:9E:1A:00:00:01")
    assert parse_ble_spec("hr:C8:FD:19:00:00:02") == ("hr", "C8:FD:19:00:00:02")
    assert parse_lsl_spec("client:type=EDA,name=Shimmer,channel=1,kind=eda") == {
        "participant": "client", "type": "EDA", "name": "Shimmer", "channel": 1, "kind": StreamKind.EDA}
    for bad, words in [("client", "ROLE:key=value"), ("client:colour=red", "key in"),
                       ("client:kind=eda", "does not say which stream"), ("client:type=X,channel=a", "channel index"),
                       ("client:name=a,kind=eeg", "kind 'eeg'")]:
        with pytest.raises(InputError, match=words):
            parse_lsl_spec(bad)
    with pytest.raises(InputError, match="BLE address"):
        parse_ble_spec("hr:")


@pytest.mark.lsl
def test_build_live_sources_shares_clock_and_lock():
    name = f"cg-live-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "EDA", 1, 4, "float32", name)
    outlet = pylsl.StreamOutlet(info)  # noqa: F841 - alive while resolving
    now = lambda: 0.0  # noqa: E731
    srcs = build_live_sources(client_ble="A0:9E:1A:00:00:01", therapist_ble="hr:C8:FD:19:00:00:02",
                              lsl_in=[f"client:name={name}"], acc_rate=50, now=now, client_factory=object,
                              lsl_timeout=2.0)
    a, b, c = srcs
    assert isinstance(a, PolarH10Source) and a.acc_rate == 50 and a.participant == "client"
    assert type(b) is HeartRateStrapSource and b.participant == "therapist"
    assert a._lock is b._lock is not None
    assert isinstance(c, LslInletSource) and c.stream.kind is StreamKind.EDA and c.stream.rate == 4.0
    assert a._now is now and c._now is now


@pytest.mark.lsl
def test_build_live_sources_errors():
    with pytest.raises(InputError, match="no live device given"):
        build_live_sources()
    with pytest.raises(DeviceUnavailableError, match="no LSL stream matching"):
        build_live_sources(lsl_in=[f"client:name=absent-{uuid.uuid4().hex}"], lsl_timeout=0.2)
    made = []
    mic = types.SimpleNamespace(streams=[], utc0=None)
    now = lambda: 5.0  # noqa: E731
    srcs = build_live_sources(client_mic="2", therapist_mic="2:1",
                              mic_factory=lambda mics, **kw: made.append((mics, kw)) or mic, now=now)
    # both people's microphones are opened as one capture stream, on the session clock
    assert srcs == [mic] and made[0][0] == {"client": "2", "therapist": "2:1"} and made[0][1]["now"] is now
    assert abs(mic.utc0 - (time.time() - 5.0)) < 1.0  # session t = 0 on the wall clock


def test_devices_scan_without_bluetooth_exits_69(capsys, monkeypatch):
    async def no_bluez(timeout):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr("coregulate.sensors.ble.scan._bleak_discover", no_bluez)
    assert main(["devices", "scan", "--timeout", "0.1"]) == 69
    err = capsys.readouterr().err
    assert err.strip() == "coregulate devices: error: no Bluetooth adapter or BlueZ service found"


@pytest.mark.lsl
def test_devices_lsl_lists_streams(capsys):
    name = f"cg-dev-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "ECG", 1, 130, "float32", name))  # noqa: F841
    assert main(["devices", "lsl", "--timeout", "1.0", "--json"]) == 0
    out = capsys.readouterr().out
    assert f'"name": "{name}", "type": "ECG", "channels": 1, "rate": 130.0' in out


class ListSource:
    """A tiny Source: yields given chunks, optionally then fails."""

    def __init__(self, chunks, streams, fail=None):
        self.chunks, self.streams, self.fail, self.closed = chunks, streams, fail, False
        self.utc0 = None

    async def __aiter__(self):
        import asyncio

        for c in self.chunks:
            await asyncio.sleep(0)
            yield c
        if self.fail:
            raise self.fail

    async def aclose(self):
        self.closed = True


def _rr(role, times):
    import numpy as np

    from coregulate.sensors.chunk import Chunk, StreamInfo

    s = StreamInfo(role, StreamKind.RR)
    return s, [Chunk(s, np.array([800.0]), times=np.array([t])) for t in times]


async def test_live_source_merges_and_closes():
    from coregulate.sensors.live import LiveSource

    sa, ca = _rr("client", [1.0, 2.0, 3.0])
    sb, cb = _rr("therapist", [1.5, 2.5])
    a, b = ListSource(ca, [sa]), ListSource(cb, [sb])
    live = LiveSource([a, b])
    assert live.streams == [sa, sb]
    got = [c async for c in live]
    assert sorted(float(c.times[0]) for c in got) == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert [float(c.times[0]) for c in got if c.participant == "client"] == [1.0, 2.0, 3.0]
    assert a.closed and b.closed
    with pytest.raises(InputError, match="same stream"):
        LiveSource([a, ListSource([], [sa])])


async def test_live_source_failure_is_raised_and_others_closed():
    from coregulate.sensors.live import LiveSource

    sa, ca = _rr("client", [1.0])
    sb, _ = _rr("therapist", [])
    good = ListSource(ca * 1, [sa])
    bad = ListSource([], [sb], fail=DeviceUnavailableError("cannot connect to the therapist's strap"))
    with pytest.raises(DeviceUnavailableError, match="therapist's strap"):
        async for _ in LiveSource([good, bad]):
            pass
    assert good.closed and bad.closed
