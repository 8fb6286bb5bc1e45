"""Bluetooth LE heart-rate straps: standard Heart Rate Service and Polar Measurement Data."""

from .heart_rate import HeartRateMeasurement, MalformedPayloadError, parse_battery, parse_heart_rate
from .pmd import PmdControlError, PmdFrame, PmdResponse, parse_control_response, parse_pmd_frame

__all__ = [
    "HeartRateMeasurement", "MalformedPayloadError", "parse_battery", "parse_heart_rate",
    "PmdControlError", "PmdFrame", "PmdResponse", "parse_control_response", "parse_pmd_frame",
]
