"""A stop in a live session with a strap: every notification that reached this machine before
the stop is in the session file (the adapter's queue and what the OS still held), the link is
not retried, and the strap is told to stop streaming."""

import asyncio

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.sensors.ble import pmd
from coregulate.sensors.ble.adapter import HeartRateStrapSource, PolarH10Source
from coregulate.sensors.ble.emulator import FakeHub, FakeNow, collect, until
from coregulate.sensors.ble.heart_rate import HEART_RATE_MEASUREMENT as HRM
from coregulate.sensors.live import LiveSource
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner


ADDR = "A0:9E:1A:00:00:01"
S0 = 725_000_000 * 10**9  # the strap's clock (ns)


def ecg_frame(k0: int, n: int = 73) -> tuple[bytes, np.ndarray]:
    """Samples k0..k0+n-1 of a ramp, stamped with the last sample's time as the H10 does."""
    vals = (np.arange(k0, k0 + n) % 2000 - 1000).astype(np.int64)
    ts = S0 + round((k0 + n - 1) * 1e9 / pmd.ECG_RATE_HZ)
    body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in vals)
    return bytes([0]) + ts.to_bytes(8, "little") + bytes([0]) + body, vals.astype(float)


def beat(rr_ticks: int) -> bytes:
    return bytes([0x16, 60]) + rr_ticks.to_bytes(2, "little")


async def test_a_stop_hands_over_every_notification_received(tmp_path, monkeypatch):
    # the claim is about what is handed over, not how fast: a busy machine must not cut the drain
    monkeypatch.setattr(SessionRunner, "drain_timeout_s", 30.0)
    hub, now = FakeHub(), FakeNow()
    strap = PolarH10Source(ADDR, "client", client_factory=hub.factory, now=now, backoff=(0.0,))
    source = LiveSource([strap])
    config = PipelineConfig()
    path = tmp_path / "s.sqlite"
    runner = SessionRunner(source, Recorder(path, "s", source.streams, config), config)
    task = asyncio.create_task(runner.run())
    await until(lambda: strap.stats.connects == 1)
    c = hub.current
    sent_ecg, sent_rr = [], []
    k = 0
    for second in range(12):  # notifications arrive faster than the session reads them: all queued
        for _ in range(2):
            frame, vals = ecg_frame(k)
            now.t = (k + 72) / pmd.ECG_RATE_HZ + 0.01
            c.notify(pmd.PMD_DATA, frame)
            sent_ecg.append(vals)
            k += 73
        now.t = second + 1.0
        c.notify(HRM, beat(1024))
        sent_rr.append(1000.0)
    frame, vals = ecg_frame(k)  # and the last ones are still on their way in the OS
    now.t = (k + 72) / pmd.ECG_RATE_HZ + 0.01
    c.send_later(pmd.PMD_DATA, frame)
    sent_ecg.append(vals)
    c.send_later(HRM, beat(1024))
    sent_rr.append(1000.0)
    runner.stop()
    assert await asyncio.wait_for(task, 60) == "stopped"

    with SessionStore(path) as st:
        assert st.status() == "stopped"
        ecg = np.concatenate([np.zeros(0)] + [ch.values for ch in st.chunks("client/ecg")])
        rr = np.concatenate([np.zeros(0)] + [ch.values for ch in st.chunks("client/rr")])
        n_hr = sum(len(ch) for ch in st.chunks("client/hr"))
    np.testing.assert_array_equal(ecg, np.concatenate(sent_ecg))
    assert rr.tolist() == sent_rr
    assert n_hr == len(sent_rr)
    ops = [op[:2] for op in hub.log]
    # unsubscribed before the strap is told to stop, never reconnected, link released
    assert ("stop_notify", pmd.PMD_DATA) in ops and ("stop_notify", HRM) in ops
    assert ops.index(("stop_notify", pmd.PMD_DATA)) < max(i for i, op in enumerate(ops) if op[0] == "write")
    assert [op for op in ops if op[0] == "connect"] == [("connect", ADDR)]
    assert ops[-1] == ("disconnect", ADDR)


async def test_a_strap_that_is_reconnecting_ends_at_once_on_stop():
    """Stopped while the link is down: nothing is in flight, the reconnect is abandoned."""
    hub, now = FakeHub(), FakeNow()
    strap = HeartRateStrapSource(ADDR, "therapist", client_factory=hub.factory, now=now, backoff=(3600.0,))
    got = []
    consumer = asyncio.create_task(collect(strap, got))
    await until(lambda: strap.stats.connects == 1)
    now.t = 5.0
    hub.current.notify(HRM, beat(1024))
    hub.fail_connects = 10
    hub.current.drop()  # reconnects fail; the next try would be in an hour
    await until(lambda: strap.stats.failed_attempts == 1)
    assert strap.request_stop() is True
    await asyncio.wait_for(consumer, 30)
    assert [ch.kind.value for ch in got] == ["rr", "hr"]
    assert strap.stats.failed_attempts == 1


def test_a_strap_never_iterated_has_nothing_to_hand_over():
    strap = HeartRateStrapSource(ADDR, "client", client_factory=FakeHub().factory)
    assert strap.request_stop() is False
