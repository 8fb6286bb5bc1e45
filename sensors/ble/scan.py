"""``coregulate devices scan``: nearby heart-rate straps with signal strength and battery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..errors import DeviceUnavailableError
from .heart_rate import BATTERY_LEVEL, HEART_RATE_SERVICE, parse_battery
from .pmd import PMD_SERVICE

NO_ADAPTER = "no Bluetooth adapter or BlueZ service found"


@dataclass(frozen=True)
class FoundDevice:
    """One device seen in a Bluetooth LE scan: name, address, signal strength (dBm), battery
    level (%, ``None`` if not read) and whether it advertises heart rate or Polar PMD.
    """

    name: str
    address: str
    rssi: int | None
    battery: int | None
    heart_rate: bool  # advertises the Heart Rate Service
    polar_pmd: bool  # advertises Polar Measurement Data (raw ECG)

    def as_row(self) -> dict[str, Any]:
        """The device as one row of ``coregulate devices scan`` (its kind in words)."""
        return {
            "name": self.name, "address": self.address, "rssi": self.rssi, "battery": self.battery,
            "kind": "Polar PMD (ECG)" if self.polar_pmd else ("heart rate" if self.heart_rate else "other"),
        }


async def _bleak_discover(timeout: float) -> dict:
    from bleak import BleakScanner

    return await BleakScanner.discover(timeout=timeout, return_adv=True)


async def _bleak_battery(address: str, timeout: float) -> int | None:
    from bleak import BleakClient

    async with BleakClient(address, timeout=timeout) as client:
        return parse_battery(await client.read_gatt_char(BATTERY_LEVEL), source=address)


async def scan_devices(
    timeout: float = 5.0,
    *,
    all_devices: bool = False,
    read_battery: bool = True,
    discover: Callable[[float], Awaitable[dict]] | None = None,
    battery_reader: Callable[[str, float], Awaitable[int | None]] | None = None,
) -> list[FoundDevice]:
    """Scan for straps (devices advertising Heart Rate or Polar PMD, or named "Polar").

    Raises :class:`DeviceUnavailableError` when the host has no usable Bluetooth stack (no
    adapter, BlueZ or D-Bus not running: bleak raises ``FileNotFoundError`` or ``BleakError``).
    The battery is read by a short connection to each strap; a strap that refuses it shows None.
    """
    discover = discover or _bleak_discover
    battery_reader = battery_reader or _bleak_battery
    try:
        found = await discover(timeout)
    except (FileNotFoundError, OSError) as exc:
        raise DeviceUnavailableError(NO_ADAPTER) from exc
    except Exception as exc:
        if type(exc).__name__ == "BleakError" or "bleak" in type(exc).__module__:
            raise DeviceUnavailableError(f"{NO_ADAPTER} ({exc})") from exc
        raise
    out: list[FoundDevice] = []
    for address, (device, adv) in found.items():
        uuids = {u.lower() for u in (getattr(adv, "service_uuids", None) or [])}
        name = getattr(adv, "local_name", None) or getattr(device, "name", None) or ""
        hr = HEART_RATE_SERVICE in uuids
        polar = PMD_SERVICE in uuids or name.startswith("Polar H10")
        if not (hr or polar or name.startswith("Polar") or all_devices):
            continue
        battery = None
        if read_battery and (hr or polar):
            try:
                battery = await asyncio.wait_for(battery_reader(address, timeout), timeout + 1)
            except Exception:  # busy or bonded elsewhere: the scan still lists it
                battery = None
        out.append(FoundDevice(name or "(unnamed)", address, getattr(adv, "rssi", None), battery, hr, polar))
    out.sort(key=lambda d: -(d.rssi if d.rssi is not None else -999))
    return out
