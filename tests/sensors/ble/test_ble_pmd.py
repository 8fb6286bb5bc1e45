"""Byte-exact tests of Polar Measurement Data commands, responses and frames."""

import numpy as np
import pytest

from coregulate.sensors.ble import pmd
from coregulate.sensors.ble.heart_rate import MalformedPayloadError
from coregulate.sensors.errors import DeviceUnavailableError


def ecg_frame(ts_ns: int, samples_uv) -> bytes:
    body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples_uv)
    return bytes([0x00]) + ts_ns.to_bytes(8, "little") + bytes([0x00]) + body


def test_ecg_start_command_bytes():
    assert pmd.ECG_START == bytes([0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00])


def test_acc_start_command_bytes():
    # 200 Hz, 16 bit, 8 g: the command Polar's SDK sends for the H10
    assert pmd.acc_start(200, 8).hex(" ") == "02 02 00 01 c8 00 01 01 10 00 02 01 08 00"
    assert pmd.acc_start(25, 2)[4:6] == bytes([25, 0])
    with pytest.raises(ValueError, match="ACC rate 30"):
        pmd.acc_start(30)


def test_ecg_frame_three_byte_signed_samples():
    raw = bytes.fromhex("00 40 e2 01 00 00 00 00 00 00") + bytes.fromhex("ff ff ff 00 00 80 ff ff 7f 10 00 00")
    f = pmd.parse_pmd_frame(raw)
    assert f.measurement == pmd.MEAS_ECG and f.frame_type == 0
    assert f.sensor_ns == 123456
    assert f.values.tolist() == [-1.0, -8388608.0, 8388607.0, 16.0]
    assert f.values.dtype == np.float64


def test_ecg_frame_roundtrip_large_timestamp():
    ts = 725_000_000_123_456_789  # ~23 years after 2000 in ns
    vals = [-512, 0, 1023, -3]
    f = pmd.parse_pmd_frame(ecg_frame(ts, vals))
    assert f.sensor_ns == ts and f.values.tolist() == vals


def test_acc_frame_type1_int16_mg():
    body = b"".join(v.to_bytes(2, "little", signed=True) for v in (-1000, 20, 998, 1, -2, 3))
    raw = bytes([0x02]) + (5).to_bytes(8, "little") + bytes([0x01]) + body
    f = pmd.parse_pmd_frame(raw)
    assert f.measurement == pmd.MEAS_ACC
    assert f.values.shape == (2, 3)
    assert f.values.tolist() == [[-1000, 20, 998], [1, -2, 3]]


def test_acc_frame_type0_int8():
    raw = bytes([0x02]) + bytes(8) + bytes([0x00, 0xFF, 0x01, 0x80])
    assert pmd.parse_pmd_frame(raw).values.tolist() == [[-1, 1, -128]]


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "truncated header"),
        (bytes([0x00]) + bytes(7), "truncated header"),
        (bytes([0x00]) + bytes(8) + bytes([0x00]), "0 sample bytes"),
        (bytes([0x00]) + bytes(8) + bytes([0x00, 1, 2, 3, 4]), "4 sample bytes"),
        (bytes([0x00]) + bytes(8) + bytes([0x80, 1, 2, 3]), "delta-compressed"),
        (bytes([0x00]) + bytes(8) + bytes([0x01, 1, 2, 3]), "ECG frame type 1"),
        (bytes([0x02]) + bytes(8) + bytes([0x01, 1, 2, 3, 4, 5]), "5 sample bytes"),
        (bytes([0x01]) + bytes(8) + bytes([0x00, 1, 2, 3]), "PPG"),
    ],
)
def test_malformed_frames(raw, words):
    with pytest.raises(MalformedPayloadError, match=words):
        pmd.parse_pmd_frame(raw, source="H10")


def test_control_point_success_and_errors_by_name():
    ok = pmd.parse_control_response(bytes.fromhex("f0 02 00 00 00"))
    assert ok.ok and ok.op == 2 and ok.measurement == 0 and not ok.more
    assert ok.raise_for_status() is ok
    # already streaming (after a reconnect) is accepted
    pmd.parse_control_response(bytes.fromhex("f0 02 00 06")).raise_for_status()
    bad = pmd.parse_control_response(bytes.fromhex("f0 02 02 0d"))
    assert bad.status_name == "ERROR_DEVICE_IN_CHARGER"
    with pytest.raises(pmd.PmdControlError, match="REQUEST_MEASUREMENT_START for ACC failed: ERROR_DEVICE_IN_CHARGER") as ei:
        bad.raise_for_status()
    assert isinstance(ei.value, DeviceUnavailableError)
    with pytest.raises(pmd.PmdControlError, match="ERROR_INVALID_SAMPLE_RATE"):
        pmd.parse_control_response(bytes.fromhex("f0 02 00 08")).raise_for_status()
    settings = pmd.parse_control_response(bytes.fromhex("f0 01 00 00 00 00 01 82 00"))
    assert settings.params == bytes.fromhex("00 01 82 00")


@pytest.mark.parametrize("raw", [b"", bytes.fromhex("f0 02 00"), bytes.fromhex("01 02 00 00")])
def test_malformed_control_response(raw):
    with pytest.raises(MalformedPayloadError, match="control-point"):
        pmd.parse_control_response(raw)
