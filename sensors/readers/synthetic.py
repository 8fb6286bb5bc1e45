"""Recordings in a device's own file format, generated: for the reader tests and
``bench/bench_readers.py``, which need files of any length without shipping any.

Only formats whose layout is documented in the reader are written here; each writer returns the
truth it wrote, so a reader can be checked against it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

#: Header lines of Polar Sensor Logger exports (see :mod:`coregulate.sensors.readers.polar`).
POLAR_ECG_HEADER = "Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]"
POLAR_ACC_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"
POLAR_RR_HEADER = "Phone timestamp;RR-interval [ms]"
POLAR_HR_HEADER = "Phone timestamp;HR [bpm];HRV [ms];Breathing interval [rpm];"


def phone_time(unix_s: float) -> str:
    """Polar Sensor Logger phone time: naive local time with milliseconds."""
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


def write_polar_ecg(path: Path, *, n=1300, period_ns=7_692_308, sensor0_ns=599_000_000_000_000,
                    offset_s=1_714_920_000.0, packet=73, delay_s=(0.020, 0.090), drop=None, seed=0):
    """Polar ECG: sensor ns clock, phone arrival time = last sample + offset + delay (>= min).

    Returns
    -------
    tuple of numpy.ndarray
        The sensor times (ns) and ECG values (uV) of the samples written (those not dropped).
    """
    rng = np.random.default_rng(seed)
    ns = sensor0_ns + np.arange(n, dtype=np.int64) * period_ns
    ecg = rng.integers(-1500, 1500, n)
    keep = np.ones(n, bool)
    if drop is not None:
        keep[drop[0]:drop[1]] = False
    lines = [POLAR_ECG_HEADER]
    for a in range(0, n, packet):
        b = min(n, a + packet)
        delay = delay_s[0] if a == 0 else rng.uniform(*delay_s)
        arrival = ns[b - 1] / 1e9 + offset_s + delay
        for i in range(a, b):
            if keep[i]:
                lines.append(f"{phone_time(arrival)};{ns[i]};{(ns[i] - ns[0]) // 1_000_000};{ecg[i]}")
    path.write_text("\n".join(lines) + "\n")
    return ns[keep], ecg[keep]
