"""A stand-in for :class:`bleak.BleakClient` that tests script notification by notification."""

from __future__ import annotations

import asyncio

from coregulate.sensors.ble import pmd


class FakeBleakError(Exception):
    """What bleak raises when a connect fails."""


class FakeNow:
    """Session clock the test sets by hand."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
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
        c = FakeBleakClient(self, address, disconnected_callback)
        self.clients.append(c)
        return c

    @property
    def current(self) -> "FakeBleakClient":
        return self.clients[-1]


class FakeBleakClient:
    def __init__(self, hub: FakeHub, address: str, disconnected_callback):
        self.hub, self.address, self._on_disc = hub, address, disconnected_callback
        self.callbacks: dict[str, object] = {}
        self.is_connected = False

    async def connect(self):
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
        self.hub.log.append(("disconnect", self.address))
        self.is_connected = False
        return True

    async def read_gatt_char(self, uuid):
        self.hub.log.append(("read", uuid))
        if self.hub.battery is None:
            raise FakeBleakError("Characteristic 00002a19 was not found")
        return bytearray([self.hub.battery])

    async def start_notify(self, uuid, callback):
        self.hub.log.append(("start_notify", uuid))
        self.callbacks[uuid] = callback

    async def write_gatt_char(self, uuid, data, response=False):
        data = bytes(data)
        self.hub.log.append(("write", uuid, data))
        if uuid == pmd.PMD_CONTROL and pmd.PMD_CONTROL in self.callbacks:
            status = self.hub.cp_status if data[0] == pmd.OP_START else 0
            answer = bytes([0xF0, data[0], data[1], status, 0])
            asyncio.get_running_loop().call_soon(self.callbacks[pmd.PMD_CONTROL], None, bytearray(answer))

    # -- test side ------------------------------------------------------------------
    def notify(self, uuid: str, data: bytes) -> None:
        self.callbacks[uuid](None, bytearray(data))

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
