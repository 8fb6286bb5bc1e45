"""Polar Measurement Data (PMD) service: commands, control-point responses and data frames.

Layout follows Polar's published SDK documentation and reference implementation
(Polar Electro, polar-ble-sdk, "Polar Measurement Data Specification", 2019-2024):

- Control point (…5C81, write + indicate). A request is ``op, measurement type, settings…``,
  each setting ``type, count, value (uint16 LE)``. The answer is ``F0 op type status [more]
  [params…]``; status 0 is success, others are named in :data:`PMD_STATUS`.
- Data (…5C82, notify). A frame is ``type (1 byte), timestamp (uint64 LE, ns since
  2000-01-01T00:00 on the sensor's clock) of the LAST sample, frame type (1 byte; bit 7 =
  delta-compressed)`` then samples. ECG frame type 0: 3-byte signed LE microvolts.
  ACC frame type 1: int16 LE x, y, z in milli-g (type 0: int8, type 2: 3-byte ints, also mg).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DeviceUnavailableError
from .heart_rate import MalformedPayloadError

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

MEAS_ECG = 0x00
MEAS_ACC = 0x02
MEASUREMENT_NAMES = {0: "ECG", 1: "PPG", 2: "ACC", 3: "PPI", 5: "GYRO", 6: "MAG"}

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_NAMES = {OP_GET_SETTINGS: "GET_MEASUREMENT_SETTINGS", OP_START: "REQUEST_MEASUREMENT_START", OP_STOP: "STOP_MEASUREMENT"}

#: Control-point status codes (Polar SDK ``PmdControlPointResponseCode``).
PMD_STATUS = {
    0: "SUCCESS",
    1: "ERROR_INVALID_OP_CODE",
    2: "ERROR_INVALID_MEASUREMENT_TYPE",
    3: "ERROR_NOT_SUPPORTED",
    4: "ERROR_INVALID_LENGTH",
    5: "ERROR_INVALID_PARAMETER",
    6: "ERROR_ALREADY_IN_STATE",
    7: "ERROR_INVALID_RESOLUTION",
    8: "ERROR_INVALID_SAMPLE_RATE",
    9: "ERROR_INVALID_RANGE",
    10: "ERROR_INVALID_MTU",
    11: "ERROR_INVALID_NUMBER_OF_CHANNELS",
    12: "ERROR_INVALID_STATE",
    13: "ERROR_DEVICE_IN_CHARGER",
    14: "ERROR_DISK_FULL",
}

#: Start ECG at 130 Hz (setting 0 = 0x0082) with 14-bit resolution (setting 1 = 0x000E).
ECG_START = bytes.fromhex("02 00 00 01 82 00 01 01 0e 00")
ECG_RATE_HZ = 130.0
ACC_RATES_HZ = (25, 50, 100, 200)
ACC_RANGES_G = (2, 4, 8)

#: PMD timestamps count nanoseconds from 2000-01-01T00:00:00 UTC (946684800 Unix seconds).
PMD_EPOCH_UNIX_S = 946_684_800


def acc_start(rate_hz: int = 25, range_g: int = 8) -> bytes:
    """Start-ACC command: sample rate, 16-bit resolution, range in g."""
    if rate_hz not in ACC_RATES_HZ:
        raise ValueError(f"ACC rate {rate_hz} Hz not supported by the Polar H10 (expected one of {ACC_RATES_HZ})")
    if range_g not in ACC_RANGES_G:
        raise ValueError(f"ACC range {range_g} g not supported (expected one of {ACC_RANGES_G})")
    return bytes([OP_START, MEAS_ACC, 0x00, 0x01]) + rate_hz.to_bytes(2, "little") + bytes(
        [0x01, 0x01, 0x10, 0x00, 0x02, 0x01]
    ) + range_g.to_bytes(2, "little")


def stop(measurement: int) -> bytes:
    """Stop-measurement command for ``measurement`` (``MEAS_ECG`` or ``MEAS_ACC``)."""
    return bytes([OP_STOP, measurement])


class PmdControlError(DeviceUnavailableError):
    """The strap refused a PMD request; the message names the status code."""

    def __init__(self, op: int, measurement: int, status: int):
        self.op, self.measurement, self.status = op, measurement, status
        self.status_name = PMD_STATUS.get(status, f"UNKNOWN_STATUS_{status}")
        super().__init__(
            f"Polar PMD {OP_NAMES.get(op, f'op 0x{op:02x}')} for "
            f"{MEASUREMENT_NAMES.get(measurement, f'type {measurement}')} failed: {self.status_name}"
        )


@dataclass(frozen=True)
class PmdResponse:
    """One decoded control-point indication (see :func:`parse_control_response`).

    ``op`` and ``measurement`` echo the command, ``status`` is the strap's answer (0 = success,
    names in ``PMD_STATUS``), ``more`` says another indication follows, ``params`` holds the rest.
    """

    op: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def status_name(self) -> str:
        """The status by name (``UNKNOWN_STATUS_<n>`` when the code is not known)."""
        return PMD_STATUS.get(self.status, f"UNKNOWN_STATUS_{self.status}")

    @property
    def ok(self) -> bool:
        """Whether the strap answered success (status 0)."""
        return self.status == 0

    def raise_for_status(self) -> "PmdResponse":
        """The response itself if the command took effect, else raise.

        ALREADY_IN_STATE (6) counts as success: after a reconnect the strap may still be streaming.

        Raises
        ------
        PmdControlError
            For any other non-zero status.
        """
        # ALREADY_IN_STATE after a reconnect means the strap kept streaming: that is what we want.
        if self.status not in (0, 6):
            raise PmdControlError(self.op, self.measurement, self.status)
        return self


def parse_control_response(data: bytes | bytearray, *, source: str | None = None) -> PmdResponse:
    """Decode a control-point indication ``F0 op type status [more] [params…]``."""
    data = bytes(data)
    if len(data) < 4 or data[0] != 0xF0:
        raise MalformedPayloadError(
            f"not a control-point response: {data.hex(' ') or '(empty)'}", path=source,
            field="PMD control point", expected="F0 op type status …",
        )
    status = data[3]
    more = status == 0 and len(data) > 4 and data[4] != 0
    params = data[5:] if status == 0 else b""
    return PmdResponse(op=data[1], measurement=data[2], status=status, more=more, params=params)


@dataclass(frozen=True)
class PmdFrame:
    """One decoded data notification.

    ``values`` is ``(n,)`` µV for ECG, ``(n, 3)`` mg for ACC. ``sensor_ns`` is the timestamp
    of the last sample on the strap's clock.
    """

    measurement: int
    sensor_ns: int
    frame_type: int
    values: np.ndarray

    @property
    def sensor_s(self) -> float:
        """Timestamp of the last sample (s, strap clock; from ``sensor_ns``)."""
        return self.sensor_ns * 1e-9


_ACC_BYTES = {0: 1, 1: 2, 2: 3}


def _signed_le(raw: np.ndarray, width: int) -> np.ndarray:
    """Little-endian two's-complement integers of ``width`` bytes from a ``(n, width)`` uint8 array."""
    v = np.zeros(raw.shape[0], dtype=np.int64)
    for k in range(width):
        v |= raw[:, k].astype(np.int64) << (8 * k)
    sign = 1 << (8 * width - 1)
    return (v ^ sign) - sign


def parse_pmd_frame(data: bytes | bytearray, *, source: str | None = None) -> PmdFrame:
    """Decode a PMD data frame (uncompressed ECG type 0 or ACC types 0-2)."""
    data = bytes(data)
    fld = "PMD data"

    def bad(msg: str, expected: str) -> MalformedPayloadError:
        shown = data[:24].hex(" ") + (" …" if len(data) > 24 else "")
        return MalformedPayloadError(f"{msg} in frame {shown or '(empty)'}", path=source, field=fld, expected=expected)

    if len(data) < 10:
        raise bad(f"truncated header ({len(data)} bytes)", "10-byte header: type, uint64 timestamp, frame type")
    meas = data[0]
    ts = int.from_bytes(data[1:9], "little")
    ftype = data[9]
    body = np.frombuffer(data, dtype=np.uint8, offset=10)
    if ftype & 0x80:
        raise bad(f"delta-compressed frame type 0x{ftype:02x} is not supported", "uncompressed frames")
    if meas == MEAS_ECG:
        if ftype != 0:
            raise bad(f"ECG frame type {ftype}", "ECG frame type 0 (3-byte samples)")
        width, ch = 3, 1
    elif meas == MEAS_ACC:
        if ftype not in _ACC_BYTES:
            raise bad(f"ACC frame type {ftype}", "ACC frame type 0, 1 or 2")
        width, ch = _ACC_BYTES[ftype], 3
    else:
        raise bad(f"measurement type {MEASUREMENT_NAMES.get(meas, meas)} is not handled", "ECG (0) or ACC (2)")
    step = width * ch
    if len(body) == 0 or len(body) % step:
        raise bad(f"{len(body)} sample bytes", f"a positive multiple of {step}")
    ints = _signed_le(body.reshape(-1, width), width).astype(np.float64)
    values = ints if ch == 1 else ints.reshape(-1, ch)
    return PmdFrame(measurement=meas, sensor_ns=ts, frame_type=ftype, values=values)
