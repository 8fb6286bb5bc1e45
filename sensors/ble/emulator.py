"""An emulated strap: a stand-in for :class:`bleak.BleakClient` scripted notification by
notification, so the BLE adapters run without a Bluetooth stack (the tests and
``bench/bench_ble.py``), and :func:`strap_script`, the notifications a Polar H10 on the simulator's
client would send.

As BrainFlow's synthetic board does, the emulated strap presents the real device's interface: the
adapter cannot tell it from a strap in range.
"""

from __future__ import annotations

import asyncio

import numpy as np

from ..chunk import StreamKind
from ..simulator import Simulator
from . import pmd
from .heart_rate import HEART_RATE_MEASUREMENT


class FakeBleakError(Exception):
    """What bleak raises when a connect fails."""


class FakeNow:
    """Session clock the test sets by hand."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        """The time the test last set."""
        return self.t


class FakeHub:
    """The 'air': builds fake clients for the adapter and records what they were asked to do."""

    def __init__(self, battery: int | None = 87, fail_connects: int = 0, cp_status: int = 0, connect_delay: float = 0.0):
        self.battery = battery
        self.fail_connects = fail_connects
        self.cp_status = cp_status
        self.connect_delay = connect_delay
        self.clients: list[FakeBleakClient] = []
        self.log: list[tuple] = []
        self.active_connects = 0
        self.max_active_connects = 0

    def factory(self, address, disconnected_callback):
        """A new client for ``address``, as the adapter's ``client_factory`` expects."""
        c = FakeBleakClient(self, address, disconnected_callback)
        self.clients.append(c)
        return c

    @property
    def current(self) -> "FakeBleakClient":
        """The newest client (the adapter's live connection)."""
        return self.clients[-1]


class FakeBleakClient:
    """One emulated connection: the calls of :class:`bleak.BleakClient` the adapters use."""

    def __init__(self, hub: FakeHub, address: str, disconnected_callback):
        self.hub, self.address, self._on_disc = hub, address, disconnected_callback
        self.callbacks: dict[str, object] = {}
        self.is_connected = False
        #: Notifications the OS has received but not yet handed to the process, per characteristic.
        self.in_flight: dict[str, list[bytes]] = {}

    async def connect(self):
        """Connect, failing while the hub has ``fail_connects`` left."""
        hub = self.hub
        hub.log.append(("connect", self.address))
        hub.active_connects += 1
        hub.max_active_connects = max(hub.max_active_connects, hub.active_connects)
        try:
            await asyncio.sleep(hub.connect_delay)
            if hub.fail_connects > 0:
                hub.fail_connects -= 1
                raise FakeBleakError(f"Device with address {self.address} was not found")
            self.is_connected = True
        finally:
            hub.active_connects -= 1
        return True

    async def disconnect(self):
        """Disconnect on the adapter's request."""
        self.hub.log.append(("disconnect", self.address))
        self.is_connected = False
        return True

    async def read_gatt_char(self, uuid):
        """The battery level, or bleak's error when the hub has none."""
        self.hub.log.append(("read", uuid))
        if self.hub.battery is None:
            raise FakeBleakError("Characteristic 00002a19 was not found")
        return bytearray([self.hub.battery])

    async def start_notify(self, uuid, callback):
        """Register the adapter's callback for ``uuid``."""
        self.hub.log.append(("start_notify", uuid))
        self.callbacks[uuid] = callback

    async def stop_notify(self, uuid):
        """As BlueZ does: what it forwarded before the request reaches the callback first."""
        self.hub.log.append(("stop_notify", uuid))
        await asyncio.sleep(0)
        for data in self.in_flight.pop(uuid, []):
            self.callbacks[uuid](None, bytearray(data))
        self.callbacks.pop(uuid, None)

    async def write_gatt_char(self, uuid, data, response=False):
        """A write; a PMD control write is answered as a Polar H10 answers it."""
        data = bytes(data)
        self.hub.log.append(("write", uuid, data))
        if uuid == pmd.PMD_CONTROL and pmd.PMD_CONTROL in self.callbacks:
            status = self.hub.cp_status if data[0] == pmd.OP_START else 0
            answer = bytes([0xF0, data[0], data[1], status, 0])
            asyncio.get_running_loop().call_soon(self.callbacks[pmd.PMD_CONTROL], None, bytearray(answer))

    # -- test side ------------------------------------------------------------------
    def notify(self, uuid: str, data: bytes) -> None:
        """Deliver one notification to the adapter."""
        self.callbacks[uuid](None, bytearray(data))

    def send_later(self, uuid: str, data: bytes) -> None:
        """A notification still on its way (in the OS) when the adapter is asked to stop."""
        self.in_flight.setdefault(uuid, []).append(bytes(data))

    def drop(self) -> None:
        """The link goes away as a strap out of range would."""
        self.is_connected = False
        self.hub.log.append(("dropped", self.address))
        self._on_disc(self)


async def until(predicate, timeout: float = 2.0) -> None:
    """Let the adapter's tasks run until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out waiting for the adapter")
        await asyncio.sleep(0.001)


async def collect(source, out: list) -> None:
    """Append every chunk ``source`` yields to ``out`` until it ends (run it as a task)."""
    async for chunk in source:
        out.append(chunk)


def strap_script(seed: int = 0, duration_s: float = 120.0) -> tuple[list[tuple], np.ndarray]:
    """(arrival, uuid, payload, truth) notifications the client's H10 would send, and its ECG.

    The simulator's client ECG (130 Hz, 73 samples per PMD frame, stamped on the strap's own
    nanosecond clock since 2000) and beats (Heart Rate Measurement with RR in 1/1024 s), for the
    first ``duration_s`` seconds, each arriving after an exponential BLE latency.
    """
    sim = Simulator(seed=seed, duration_s=301, audio=False)
    ecg, beats = [], []
    for c in sim.chunks():
        if c.participant != "client" or c.start >= duration_s:
            continue
        if c.kind is StreamKind.ECG:
            ecg.append(c.values)
        elif len(c):
            beats.append((c.times.copy(), c.values.copy()))
    ecg = np.round(np.concatenate(ecg)).astype(np.int64)
    rng = np.random.default_rng(seed)
    events = []
    s0 = 725_000_000 * 10**9  # the strap's clock: ns since 2000, unrelated to the session
    for k0 in range(0, len(ecg) - 73, 73):
        last = k0 + 72
        t_last = last / 130.0
        body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ecg[k0 : k0 + 73])
        frame = bytes([0]) + (s0 + round(last * 1e9 / 130)).to_bytes(8, "little") + bytes([0]) + body
        events.append((t_last + 0.008 + rng.exponential(0.03), pmd.PMD_DATA, frame, ("ecg", k0)))
    for times, rr in beats:
        ticks = np.round(rr * 1.024).astype(int)
        hr = int(round(60000 / rr[-1]))
        payload = bytes([0x16, hr]) + b"".join(int(t).to_bytes(2, "little") for t in ticks)
        events.append((times[-1] + 0.01 + rng.exponential(0.05), HEART_RATE_MEASUREMENT, payload, ("rr", times, rr)))
    events.sort(key=lambda e: e[0])
    return events, ecg
