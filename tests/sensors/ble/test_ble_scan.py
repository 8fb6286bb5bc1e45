"""Device scan: strap filtering and a clear error without a Bluetooth stack."""

from types import SimpleNamespace

import pytest
from bleak.exc import BleakError

from coregulate.sensors.ble.heart_rate import HEART_RATE_SERVICE
from coregulate.sensors.ble.pmd import PMD_SERVICE
from coregulate.sensors.ble.scan import scan_devices
from coregulate.sensors.errors import EX_UNAVAILABLE, DeviceUnavailableError


def adv(name, uuids, rssi):
    return SimpleNamespace(name=name), SimpleNamespace(local_name=name, service_uuids=uuids, rssi=rssi)


async def test_scan_lists_straps_by_signal_with_battery():
    async def discover(timeout):
        return {
            "AA": adv("Polar H10 A1B2C3D4", [HEART_RATE_SERVICE, PMD_SERVICE], -70),
            "BB": adv("Garmin HRM", [HEART_RATE_SERVICE], -50),
            "CC": adv("Headphones", [], -40),
        }

    async def battery(address, timeout):
        if address == "BB":
            raise OSError("busy")
        return 64

    found = await scan_devices(0.1, discover=discover, battery_reader=battery)
    assert [d.address for d in found] == ["BB", "AA"]
    assert found[1].as_row() == {"name": "Polar H10 A1B2C3D4", "address": "AA", "rssi": -70, "battery": 64,
                                 "kind": "Polar PMD (ECG)"}
    assert found[0].battery is None and found[0].as_row()["kind"] == "heart rate"


@pytest.mark.parametrize("exc", [FileNotFoundError(2, "No such file or directory"), BleakError("No Bluetooth adapters found.")])
async def test_scan_without_bluez_is_device_unavailable(exc):
    # what bleak raises without D-Bus (FileNotFoundError) or without an adapter (BleakError)
    async def discover(timeout):
        raise exc

    with pytest.raises(DeviceUnavailableError, match="no Bluetooth adapter or BlueZ service found") as ei:
        await scan_devices(0.2, discover=discover)
    assert ei.value.exit_code == EX_UNAVAILABLE
