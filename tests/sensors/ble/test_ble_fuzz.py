"""Property-based fuzzing of the BLE parsers: any notification payload either parses into
consistent values or raises the parser's clear error (MalformedPayloadError); never another
exception. Round-trips check that whatever parses is decoded exactly."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coregulate.sensors.ble.heart_rate import MalformedPayloadError, parse_battery, parse_heart_rate
from coregulate.sensors.ble.pmd import MEAS_ACC, MEAS_ECG, parse_control_response, parse_pmd_frame

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def _only_clear_errors(parse, data):
    try:
        return parse(data, source="strap")
    except MalformedPayloadError as exc:
        text = str(exc)
        assert "strap" in text and "expected" in text, text  # names the device and what was expected
        return None


@FUZZ
@given(st.binary(max_size=64))
def test_heart_rate_measurement_any_bytes(data):
    m = _only_clear_errors(parse_heart_rate, data)
    if m is not None:
        assert 0 <= m.hr_bpm <= 0xFFFF and all(0 < r <= 0xFFFF for r in m.rr_ticks)
        assert bool(data[0] & 0x10) or not m.rr_ticks


@FUZZ
@given(st.booleans(), st.integers(0, 0xFFFF), st.one_of(st.none(), st.integers(0, 0xFFFF)),
       st.lists(st.integers(1, 0xFFFF), max_size=9), st.integers(0, 3))
def test_heart_rate_measurement_round_trip(hr16, hr, energy, rr, contact):
    hr = hr if hr16 else hr & 0xFF
    flags = (0x01 if hr16 else 0) | (contact << 1) | (0x08 if energy is not None else 0) | (0x10 if rr else 0)
    payload = bytes([flags]) + (struct.pack("<H", hr) if hr16 else bytes([hr]))
    payload += struct.pack("<H", energy) if energy is not None else b""
    payload += b"".join(struct.pack("<H", r) for r in rr)
    m = parse_heart_rate(payload)
    assert (m.hr_bpm, m.energy_kj, m.rr_ticks) == (hr, energy, tuple(rr))
    assert m.contact == (None if contact < 2 else contact == 3)


@FUZZ
@given(st.binary(max_size=8))
def test_battery_any_bytes(data):
    level = _only_clear_errors(parse_battery, data)
    assert level is None or 0 <= level <= 100


@FUZZ
@given(st.binary(max_size=300))
def test_pmd_frame_any_bytes(data):
    f = _only_clear_errors(parse_pmd_frame, data)
    if f is not None:
        assert np.isfinite(f.values).all() and len(f.values) > 0


@FUZZ
@given(st.integers(0, 2**64 - 1), st.lists(st.integers(-(2**23), 2**23 - 1), min_size=1, max_size=80),
       st.binary(max_size=3))
def test_pmd_ecg_round_trip_and_truncation(ts, samples, tail):
    body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples)
    frame = bytes([MEAS_ECG]) + ts.to_bytes(8, "little") + b"\x00" + body
    f = parse_pmd_frame(frame)
    assert f.sensor_ns == ts and f.values.tolist() == samples
    # a frame cut inside a sample (or with stray bytes) is refused, never half-decoded
    broken = frame + tail if len(tail) % 3 else frame[:-1]
    assert _only_clear_errors(parse_pmd_frame, broken) is None


@FUZZ
@given(st.lists(st.tuples(*(st.integers(-32768, 32767),) * 3), min_size=1, max_size=40))
def test_pmd_acc_round_trip(xyz):
    body = b"".join(struct.pack("<hhh", *v) for v in xyz)
    f = parse_pmd_frame(bytes([MEAS_ACC]) + (123).to_bytes(8, "little") + b"\x01" + body)
    assert f.values.shape == (len(xyz), 3) and f.values.astype(int).tolist() == [list(v) for v in xyz]


@FUZZ
@given(st.binary(max_size=40))
def test_control_point_response_any_bytes(data):
    r = _only_clear_errors(parse_control_response, data)
    if r is not None:
        assert data[0] == 0xF0 and r.status == data[3]
