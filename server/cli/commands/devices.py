"""``coregulate devices scan|audio|lsl``: what live inputs this machine can see."""

from __future__ import annotations

import json
import sys

from .. import argtypes


def add_parser(sub) -> None:
    """Add the ``devices`` command (``scan``, ``audio``, ``lsl``) to the CLI's subparsers ``sub``."""
    p = sub.add_parser("devices", help="list heart-rate straps (scan), microphones (audio) or LSL streams (lsl)")
    dsub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    s = dsub.add_parser("scan", help="nearby Bluetooth LE heart-rate straps: name, address, RSSI, battery")
    s.add_argument("--timeout", type=argtypes.positive_float, default=5.0, metavar="S", help="scan time (default 5 s)")
    s.add_argument("--all", action="store_true", help="list every BLE device, not only straps")
    s.add_argument("--no-battery", action="store_true", help="do not connect to straps to read their battery")
    a = dsub.add_parser("audio", help="audio input devices (for --client-mic / --therapist-mic)")
    l = dsub.add_parser("lsl", help="Lab Streaming Layer streams on the network (for --lsl-in)")  # noqa: E741
    l.add_argument("--timeout", type=argtypes.positive_float, default=2.0, metavar="S", help="wait time (default 2 s)")
    for q in (s, a, l):
        q.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=run)


def run(args) -> int:
    """List the devices asked for, as a table or as JSON lines (``--json``); exit code 0, also when none
    is found (that is said on stderr)."""
    rows = {"scan": _scan, "audio": _audio, "lsl": _lsl}[args.what](args)
    if not rows:
        print({"scan": "no heart-rate straps found (is the strap worn and not connected to a phone?)",
               "audio": "no audio input devices found",
               "lsl": "no LSL streams found"}[args.what], file=sys.stderr)
        return 0
    if args.json:
        for r in rows:
            print(json.dumps(r, default=str))
    else:
        _table(rows)
    return 0


def _table(rows: list[dict]) -> None:
    cols = list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _scan(args) -> list[dict]:
    import asyncio

    from ....sensors.ble.scan import scan_devices

    found = asyncio.run(scan_devices(args.timeout, all_devices=args.all, read_battery=not args.no_battery))
    return [d.as_row() for d in found]


def _audio(args) -> list[dict]:
    from ....sensors.errors import DeviceUnavailableError

    try:
        from ....sensors.microphone import list_devices
    except ImportError as exc:
        raise DeviceUnavailableError(f"microphone support is not available in this installation ({exc})") from exc
    rows = []
    for i, d in enumerate(list_devices()):
        if isinstance(d, dict):
            rows.append(d)
        else:
            rows.append({"index": i, "device": str(d)})
    return rows


def _lsl(args) -> list[dict]:
    from ....sensors.lsl import load_pylsl

    pylsl = load_pylsl()  # configured quiet, or DeviceUnavailableError
    return [
        {"name": s.name(), "type": s.type(), "channels": s.channel_count(), "rate": s.nominal_srate(),
         "source_id": s.source_id(), "host": s.hostname()}
        for s in sorted(pylsl.resolve_streams(args.timeout), key=lambda s: (s.type(), s.name()))
    ]
