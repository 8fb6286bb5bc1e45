"""Byte-exact tests of the Heart Rate Measurement (0x2A37) and Battery Level parsers."""

import pytest

from coregulate.sensors.ble.heart_rate import MalformedPayloadError, parse_battery, parse_heart_rate
from coregulate.sensors.errors import InputError


def test_uint8_hr_without_contact_support():
    m = parse_heart_rate(bytes([0x00, 72]))
    assert (m.hr_bpm, m.contact, m.energy_kj, m.rr_ticks) == (72, None, None, ())
    assert not m.contact_supported


def test_uint16_hr_contact_detected_energy_and_two_rr():
    # flags 0x1F: uint16 HR, contact supported+detected, energy present, RR present
    payload = bytes([0x1F, 0x2C, 0x01, 0x34, 0x12, 0x00, 0x04, 0x33, 0x03])
    m = parse_heart_rate(payload)
    assert m.hr_bpm == 300
    assert m.contact is True
    assert m.energy_kj == 0x1234
    assert m.rr_ticks == (1024, 0x0333)
    assert m.rr_ms == (1000.0, 0x0333 * 1000.0 / 1024)


def test_contact_supported_not_detected():
    assert parse_heart_rate(bytes([0x04, 60])).contact is False
    assert parse_heart_rate(bytes([0x06, 60])).contact is True
    assert parse_heart_rate(bytes([0x02, 60])).contact is None  # bit 1 alone: not supported


def test_polar_style_rr_oldest_first():
    # Polar H10 typical: flags 0x16 (uint8 HR, contact detected, RR present)
    m = parse_heart_rate(bytes.fromhex("16 3c 00 03 10 04"))
    assert m.hr_bpm == 60 and m.contact is True
    assert m.rr_ticks == (0x0300, 0x0410)


def test_rr_flag_with_no_rr_values_is_valid():
    assert parse_heart_rate(bytes([0x10, 55])).rr_ticks == ()


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"", "empty"),
        (bytes([0x01, 0x50]), "truncated"),  # uint16 HR with one byte
        (bytes([0x08, 60, 0x01]), "truncated"),  # energy flag, one byte of energy
        (bytes([0x10, 60, 0x00]), "odd number of RR bytes"),
        (bytes([0x10, 60, 0x00, 0x04, 0x01]), "odd number of RR bytes"),
        (bytes([0x00, 60, 0x00, 0x04]), "trailing"),
        (bytes([0x10, 60, 0x00, 0x00]), "zero RR"),
    ],
)
def test_malformed_payloads_are_rejected_with_clear_message(payload, words):
    with pytest.raises(MalformedPayloadError) as ei:
        parse_heart_rate(payload, source="Polar H10 AA")
    err = ei.value
    assert isinstance(err, InputError)
    msg = str(err)
    assert words in msg and "0x2A37" in msg and msg.startswith("Polar H10 AA: ")
    assert (payload.hex(" ") or "(empty)") in msg


def test_battery():
    assert parse_battery(b"\x57") == 87
    for bad in (b"", b"\x65", b"\x10\x00"):
        with pytest.raises(MalformedPayloadError, match="0x2A19"):
            parse_battery(bad)
