"""Bluetooth LE heart-rate straps: standard Heart Rate Service and Polar Measurement Data.

bleak is imported only when a real client or scanner is made, so parsing and the adapters'
tests need no Bluetooth stack.
"""

from .adapter import HeartRateStrapSource, PolarH10Source
from .heart_rate import HeartRateMeasurement, MalformedPayloadError, parse_battery, parse_heart_rate
from .pmd import PmdControlError, PmdFrame, PmdResponse, parse_control_response, parse_pmd_frame
from .scan import FoundDevice, scan_devices

__all__ = [
    "HeartRateStrapSource", "PolarH10Source", "FoundDevice", "scan_devices",
    "HeartRateMeasurement", "MalformedPayloadError", "parse_battery", "parse_heart_rate",
    "PmdControlError", "PmdFrame", "PmdResponse", "parse_control_response", "parse_pmd_frame",
]
