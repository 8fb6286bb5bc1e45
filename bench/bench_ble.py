"""How much faster than real time the BLE adapter handles a Polar H10's notifications.

Run: .venv/bin/python bench/bench_ble.py
Prints seconds of strap signal handled per CPU second (x real time) for the full adapter path
(parse + clock fit + chunk) and, as the in-process baseline, for parsing alone.
"""

from __future__ import annotations

import asyncio
import time

from coregulate.sensors.ble import pmd
from coregulate.sensors.ble.adapter import PolarH10Source
from coregulate.sensors.ble.emulator import FakeHub, FakeNow, strap_script, until
from coregulate.sensors.ble.heart_rate import HEART_RATE_MEASUREMENT, parse_heart_rate

SIGNAL_S = 120.0


async def adapter_pass(events) -> float:
    hub, now = FakeHub(), FakeNow()
    strap = PolarH10Source("AA", "client", client_factory=hub.factory, now=now)
    it = strap.__aiter__()
    first = asyncio.ensure_future(it.__anext__())
    await until(lambda: strap.stats.connects == 1)
    client = hub.current
    t = time.perf_counter()
    for arrival, uuid, payload, _ in events:
        now.t = arrival
        client.notify(uuid, payload)
    dt = time.perf_counter() - t
    first.cancel()
    await strap.aclose()
    return dt


def parse_pass(events) -> float:
    t = time.perf_counter()
    for _, uuid, payload, _ in events:
        if uuid == HEART_RATE_MEASUREMENT:
            parse_heart_rate(payload)
        else:
            pmd.parse_pmd_frame(payload)
    return time.perf_counter() - t


def main() -> None:
    events, _ = strap_script()
    full = min(asyncio.run(adapter_pass(events)) for _ in range(5))
    base = min(parse_pass(events) for _ in range(5))
    print(f"{len(events)} notifications = {SIGNAL_S:.0f} s of one H10 (ECG 130 Hz + RR)")
    print(f"parse only     : {SIGNAL_S / base:10.0f} x real time")
    print(f"full adapter   : {SIGNAL_S / full:10.0f} x real time  (ratio to parse-only cost: {full / base:.2f})")


if __name__ == "__main__":
    main()
