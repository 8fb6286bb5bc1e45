"""The real BLE adapters driven by a scripted fake client: chunks, reconnects, clock resets."""

import asyncio

import numpy as np
import pytest

from coregulate.sensors.ble import pmd
from coregulate.sensors.ble.adapter import HeartRateStrapSource, PolarH10Source
from coregulate.sensors.ble.emulator import FakeHub, FakeNow, collect, until
from coregulate.sensors.ble.heart_rate import BATTERY_LEVEL, HEART_RATE_MEASUREMENT as HRM
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.errors import DeviceUnavailableError

ADDR = "A0:9E:1A:00:00:01"
R = pmd.ECG_RATE_HZ


def ecg_frame(base_ns: int, k0: int, n: int = 13) -> tuple[bytes, np.ndarray]:
    """Frame of samples k0..k0+n-1; timestamp of the last one, as the H10 sends it."""
    vals = (np.arange(k0, k0 + n) * 7 - 40).astype(np.int64)
    ts = base_ns + round((k0 + n - 1) * 1e9 / R)
    body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in vals)
    return bytes([0]) + ts.to_bytes(8, "little") + bytes([0]) + body, vals.astype(float)


def assert_chunks_equal(got, expected):
    assert len(got) == len(expected), [(c.kind.value, c.start) for c in got]
    for i, (g, e) in enumerate(zip(got, expected)):
        where = f"chunk {i} ({e.kind.value} at {e.start})"
        assert g.stream == e.stream, where
        assert g.gap_before == e.gap_before, where
        assert dict(g.meta) == dict(e.meta), where
        np.testing.assert_array_equal(g.values, e.values, err_msg=where)
        if e.t0 is not None:
            assert g.t0 == pytest.approx(e.t0, abs=1e-6), where
        else:
            np.testing.assert_allclose(g.times, e.times, atol=1e-9, rtol=0, err_msg=where)
        assert g.t_end == pytest.approx(e.t_end, abs=1e-6), where


async def test_polar_h10_scripted_session_gives_exact_chunks():
    hub, now = FakeHub(battery=87), FakeNow()
    src = PolarH10Source(ADDR, "client", client_factory=hub.factory, now=now, backoff=(0.0,))
    ecg, rr, hr = src.streams[0], src.streams[1], src.streams[2]
    assert [s.kind for s in src.streams] == [StreamKind.ECG, StreamKind.RR, StreamKind.HR]
    assert ecg.rate == 130.0 and ecg.participant == "client"
    got: list[Chunk] = []
    consumer = asyncio.create_task(collect(src, got))
    await until(lambda: src.stats.connects == 1)
    c = hub.current
    # subscribe to both PMD characteristics before the start command is written
    ops = [op[:2] for op in hub.log]
    assert ops == [
        ("connect", ADDR), ("read", BATTERY_LEVEL), ("start_notify", BATTERY_LEVEL), ("start_notify", HRM),
        ("start_notify", pmd.PMD_CONTROL), ("start_notify", pmd.PMD_DATA), ("write", pmd.PMD_CONTROL),
    ]
    assert hub.log[-1][2] == pmd.ECG_START

    s0 = 700_000_000 * 10**9
    now.t = 10.0; c.notify(HRM, bytes.fromhex("16 3c 00 04"))  # first beat: arrival fixes the offset
    now.t = 11.05; c.notify(HRM, bytes.fromhex("16 3d 00 04"))  # 50 ms late: envelope keeps the earlier one
    now.t = 12.0; c.notify(HRM, bytes.fromhex("16 3e 00 02 00 02"))  # two beats in one notification
    f1, v1 = ecg_frame(s0, 0)
    now.t = 20.0; c.notify(pmd.PMD_DATA, f1)
    f2, v2 = ecg_frame(s0, 13)
    now.t = 20.12; c.notify(pmd.PMD_DATA, f2)  # late batch: still contiguous
    c.notify(HRM, bytes.fromhex("11 50"))  # truncated uint16 HR
    c.notify(pmd.PMD_DATA, bytes.fromhex("00 01"))  # truncated frame
    now.t = 20.5; c.notify(HRM, bytes.fromhex("04 00"))  # contact lost, HR 0 = no reading
    f3, v3 = ecg_frame(s0, 26)
    now.t = 20.7; c.notify(pmd.PMD_DATA, f3)
    now.t = 26.0; c.notify(HRM, bytes.fromhex("16 40 00 04"))  # contact back; beats were not counted meanwhile
    hub.fail_connects = 1  # the first reconnect fails, the second works
    c.drop()
    await until(lambda: src.stats.connects == 2)
    c = hub.current
    assert src.stats.reconnects == 1 and src.stats.failed_attempts == 1
    f4, v4 = ecg_frame(5 * 10**9, 0)  # strap rebooted: its clock starts again
    now.t = 30.0; c.notify(pmd.PMD_DATA, f4)
    now.t = 30.5; c.notify(HRM, bytes.fromhex("16 41 00 04"))
    f5, v5 = ecg_frame(1 * 10**9, 0)  # sensor clock goes back without a reconnect
    now.t = 31.0; c.notify(pmd.PMD_DATA, f5)
    await src.aclose()
    await asyncio.wait_for(consumer, 30)

    on = {"contact": True}
    off = {"contact": False}
    bat = {"battery": 87}
    t1 = 20.0 - 12 / R
    expected = [
        Chunk(rr, np.array([1000.0]), times=np.array([10.0]), meta=on),
        Chunk(hr, np.array([60.0]), times=np.array([10.0]), meta={**on, **bat}),
        Chunk(rr, np.array([1000.0]), times=np.array([11.0]), meta=on),
        Chunk(hr, np.array([61.0]), times=np.array([11.05]), meta={**on, **bat}),
        Chunk(rr, np.array([500.0, 500.0]), times=np.array([11.5, 12.0]), meta=on),
        Chunk(hr, np.array([62.0]), times=np.array([12.0]), meta={**on, **bat}),
        Chunk(ecg, v1, t0=t1, meta=on),
        Chunk(ecg, v2, t0=t1 + 13 / R, meta=on),
        Chunk(hr, np.array([np.nan]), times=np.array([20.5]), meta={**off, **bat}),
        Chunk(ecg, v3, t0=t1 + 26 / R, meta=off),
        # 13 s passed on the host, 1 s on the strap's beat clock: new RR segment, gap marked
        Chunk(rr, np.array([1000.0]), times=np.array([26.0]), gap_before=True, meta=on),
        Chunk(hr, np.array([64.0]), times=np.array([26.0]), meta={**on, **bat}),
        # after the reconnect: contact unknown until the strap reports it, every stream marked
        Chunk(ecg, v4, t0=30.0 - 12 / R, gap_before=True, meta={}),
        Chunk(rr, np.array([1000.0]), times=np.array([30.5]), gap_before=True, meta=on),
        Chunk(hr, np.array([65.0]), times=np.array([30.5]), gap_before=True, meta={**on, **bat}),
        Chunk(ecg, v5, t0=31.0 - 12 / R, gap_before=True, meta=on),
    ]
    assert_chunks_equal(got, expected)
    assert src.stats.malformed == 2
    assert "ecg sensor clock reset" in src.status()["last_error"]
    # every beat sent arrives exactly once, in order
    beats = np.concatenate([g.values for g in got if g.kind is StreamKind.RR])
    assert beats.tolist() == [1000.0, 1000.0, 500.0, 500.0, 1000.0, 1000.0]
    times = np.concatenate([g.times for g in got if g.kind is StreamKind.RR])
    assert np.all(np.diff(times) > 0)
    # PMD stopped and link released on close
    writes = [op[2] for op in hub.log if op[0] == "write"]
    assert writes[-1] == pmd.stop(pmd.MEAS_ECG) and hub.log[-1][0] == "disconnect"


async def test_reconnect_marks_gap_and_keeps_every_beat_once():
    hub, now = FakeHub(battery=None), FakeNow()
    src = HeartRateStrapSource(ADDR, "therapist", client_factory=hub.factory, now=now, backoff=(0.0,))
    assert [s.kind for s in src.streams] == [StreamKind.RR, StreamKind.HR]
    got: list[Chunk] = []
    consumer = asyncio.create_task(collect(src, got))
    sent = []
    t = 100.0
    for link in range(3):
        await until(lambda: src.stats.connects == link + 1)
        for _ in range(20):
            rr = 800 + 16 * (len(sent) % 5)
            t += rr / 1024
            now.t = t + 0.02
            hub.current.notify(HRM, bytes([0x10, 70]) + rr.to_bytes(2, "little"))
            sent.append(rr * 1000 / 1024)
        hub.current.drop()
        t += 3.0  # three seconds without a link
    await until(lambda: src.stats.connects == 4)
    await src.aclose()
    await asyncio.wait_for(consumer, 30)
    rr_chunks = [g for g in got if g.kind is StreamKind.RR]
    assert np.concatenate([g.values for g in rr_chunks]).tolist() == sent
    times = np.concatenate([g.times for g in rr_chunks])
    assert np.all(np.diff(times) > 0)
    gaps = [i for i, g in enumerate(rr_chunks) if g.gap_before]
    assert gaps == [20, 40]  # the first beat after each reconnect, nowhere else
    assert np.diff(times)[19] > 3.0  # the gap is where the link was down
    assert all("contact" not in g.meta for g in got)  # this strap does not report contact
    assert src.stats.reconnects == 3 and src.stats.battery is None


async def test_two_straps_connect_one_at_a_time():
    hub, now = FakeHub(connect_delay=0.02), FakeNow()
    lock = asyncio.Lock()
    a = PolarH10Source("AA", "client", client_factory=hub.factory, connect_lock=lock, now=now)
    b = PolarH10Source("BB", "therapist", client_factory=hub.factory, connect_lock=lock, now=now, acc_rate=50)
    assert [s.kind for s in b.streams][-1] is StreamKind.ACC and b.streams[-1].channels == ("x", "y", "z")
    outs: list[list] = [[], []]
    tasks = [asyncio.create_task(collect(s, o)) for s, o in zip((a, b), outs)]
    await until(lambda: a.stats.connects == 1 and b.stats.connects == 1)
    assert hub.max_active_connects == 1
    writes = [op[2] for op in hub.log if op[0] == "write"]
    assert pmd.acc_start(50, 8) in writes
    # ACC frame (type 1, int16 mg) for the therapist's strap
    body = b"".join(v.to_bytes(2, "little", signed=True) for v in (10, -20, 1000) * 5)
    now.t = 5.0
    hub.clients[1].notify(pmd.PMD_DATA, bytes([2]) + (10**12).to_bytes(8, "little") + bytes([1]) + body)
    for s in (a, b):
        await s.aclose()
    await asyncio.gather(*tasks)
    acc = outs[1][0]
    assert acc.kind is StreamKind.ACC and acc.values.shape == (5, 3)
    assert acc.t0 == pytest.approx(5.0 - 4 / 50) and acc.values[0].tolist() == [10, -20, 1000]


async def test_unreachable_strap_fails_clearly():
    hub = FakeHub(fail_connects=10)
    src = HeartRateStrapSource(ADDR, "client", client_factory=hub.factory, backoff=(0.0,), first_connect_attempts=2)
    with pytest.raises(DeviceUnavailableError, match=r"client's strap A0:9E:1A:00:00:01 after 2 attempt\(s\)"):
        async for _ in src:
            pass


async def test_pmd_error_is_reported_by_name():
    hub = FakeHub(cp_status=13)
    src = PolarH10Source(ADDR, "client", client_factory=hub.factory, backoff=(0.0,), first_connect_attempts=1)
    with pytest.raises(DeviceUnavailableError, match="ECG failed: ERROR_DEVICE_IN_CHARGER"):
        async for _ in src:
            pass


def test_stream_infos_are_labelled():
    src = PolarH10Source(ADDR, "client", client_factory=FakeHub().factory)
    assert src.streams[0] == StreamInfo("client", StreamKind.ECG, 130.0, (), f"Polar H10 {ADDR}")
    with pytest.raises(ValueError, match="ACC rate"):
        PolarH10Source(ADDR, "client", acc_rate=30)
