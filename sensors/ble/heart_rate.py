"""Bluetooth SIG Heart Rate Measurement (0x2A37) and Battery Level (0x2A19) parsers.

Byte layout from the Heart Rate Service specification (Bluetooth SIG, HRS v1.0, 2011) and the
GATT Specification Supplement (characteristic 0x2A37):

======  =====================================================================================
byte 0  flags: bit 0 HR format (0 = uint8, 1 = uint16), bits 1-2 sensor contact status
        (0/1 = not supported, 2 = supported but not detected, 3 = supported and detected),
        bit 3 energy expended present, bit 4 RR intervals present, bits 5-7 reserved
then    heart rate (uint8 or uint16 LE, bpm)
then    energy expended (uint16 LE, kJ) when bit 3 is set
rest    0..n RR intervals, uint16 LE in units of 1/1024 s, oldest first, when bit 4 is set
======  =====================================================================================

A payload that does not fit this layout is rejected with :class:`MalformedPayloadError` so the
adapter can count it and go on; it is never turned into plausible numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

HEART_RATE_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"

#: RR intervals are counted in 1/1024 s on the strap's own clock.
RR_TICKS_PER_S = 1024


class MalformedPayloadError(InputError):
    """A BLE notification whose bytes do not match the characteristic's layout."""


@dataclass(frozen=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification.

    ``contact`` is ``None`` when the strap does not report skin contact, else whether it has it.
    ``rr_ticks`` are the raw RR intervals (1/1024 s), oldest first; :attr:`rr_ms` converts them.
    """

    hr_bpm: int
    contact: bool | None
    energy_kj: int | None
    rr_ticks: tuple[int, ...]

    @property
    def contact_supported(self) -> bool:
        """Whether the strap reports skin contact at all (flags bit 2)."""
        return self.contact is not None

    @property
    def rr_ms(self) -> tuple[float, ...]:
        """The RR intervals (ms), converted from the 1/1024-s ticks of the notification."""
        return tuple(t * 1000.0 / RR_TICKS_PER_S for t in self.rr_ticks)


def _hex(data: bytes) -> str:
    return data.hex(" ") if data else "(empty)"


def parse_heart_rate(data: bytes | bytearray, *, source: str | None = None) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement payload exactly.

    Parameters
    ----------
    data : bytes
        The notification value.
    source : str, optional
        Device label for the error message.

    Raises
    ------
    MalformedPayloadError
        Empty or truncated payload, trailing bytes, or an odd number of RR bytes.
    """
    data = bytes(data)
    fld = "Heart Rate Measurement (0x2A37)"

    def bad(msg: str, expected: str) -> MalformedPayloadError:
        return MalformedPayloadError(f"{msg} in payload {_hex(data)}", path=source, field=fld, expected=expected)

    if not data:
        raise bad("empty notification", "at least a flags byte and a heart rate")
    flags = data[0]
    hr16 = bool(flags & 0x01)
    contact_bits = (flags >> 1) & 0x03
    has_energy = bool(flags & 0x08)
    has_rr = bool(flags & 0x10)
    need = 1 + (2 if hr16 else 1) + (2 if has_energy else 0)
    if len(data) < need:
        raise bad(f"truncated: {len(data)} byte(s) for flags 0x{flags:02x}", f"at least {need} bytes")
    pos = 1
    if hr16:
        hr = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
    else:
        hr = data[pos]
        pos += 1
    energy = None
    if has_energy:
        energy = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
    rest = data[pos:]
    if not has_rr and rest:
        raise bad(f"{len(rest)} trailing byte(s) while the RR-present flag is clear", f"exactly {pos} bytes")
    if len(rest) % 2:
        raise bad(f"odd number of RR bytes ({len(rest)})", "whole uint16 RR values")
    rr = tuple(int.from_bytes(rest[i : i + 2], "little") for i in range(0, len(rest), 2))
    if any(t == 0 for t in rr):
        raise bad("zero RR interval", "RR > 0 in 1/1024 s")
    contact = None if contact_bits < 2 else contact_bits == 3
    return HeartRateMeasurement(hr_bpm=hr, contact=contact, energy_kj=energy, rr_ticks=rr)


def parse_battery(data: bytes | bytearray, *, source: str | None = None) -> int:
    """Decode Battery Level (0x2A19): one uint8 percentage 0-100."""
    data = bytes(data)
    if len(data) != 1 or data[0] > 100:
        raise MalformedPayloadError(
            f"bad battery level payload {_hex(data)}", path=source, field="Battery Level (0x2A19)",
            expected="one byte 0-100",
        )
    return data[0]
