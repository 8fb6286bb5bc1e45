"""Fixture writers and helpers for the reader tests: every format is generated in tmp_path."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from coregulate.sensors.readers.synthetic import (  # noqa: F401 - the reader tests import them from here
    POLAR_ACC_HEADER,
    POLAR_ECG_HEADER,
    POLAR_HR_HEADER,
    POLAR_RR_HEADER,
    phone_time,
    write_polar_ecg,
)


def write_e4(folder: Path, *, start=1_600_000_000.0, seconds=10, ibi_hole=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    bvp = np.round(rng.normal(0, 50, 64 * seconds), 2)
    eda = np.round(np.linspace(0.5, 0.8, 4 * seconds), 6)
    acc = rng.integers(-64, 64, (32 * seconds, 3))
    (folder / "BVP.csv").write_text(f"{start:.6f}\n64.000000\n" + "\n".join(f"{v:.2f}" for v in bvp) + "\n")
    (folder / "EDA.csv").write_text(f"{start:.6f}\n4.000000\n" + "\n".join(f"{v:.6f}" for v in eda) + "\n")
    (folder / "ACC.csv").write_text(
        f"{start:.6f}, {start:.6f}, {start:.6f}\n32.000000, 32.000000, 32.000000\n"
        + "\n".join(f"{x}, {y}, {z}" for x, y, z in acc) + "\n"
    )
    (folder / "HR.csv").write_text(f"{start + 10:.6f}\n1.000000\n" + "\n".join(["70.0", "71.5"]) + "\n")
    (folder / "TEMP.csv").write_text(f"{start:.6f}\n4.000000\n" + "\n".join(["33.1"] * (4 * seconds)) + "\n")
    beats = [(1.0, 0.8), (1.8, 0.8), (2.6, 0.8)] + ([(5.0, 0.8), (5.8, 0.8)] if ibi_hole else [(3.4, 0.8)])
    (folder / "IBI.csv").write_text(f"{start:.6f}, IBI\n" + "\n".join(f"{t:.6f},{i:.6f}" for t, i in beats) + "\n")
    (folder / "tags.csv").write_text(f"{start + 3.5:.2f}\n{start + 7.25:.2f}\n")
    return {"bvp": bvp, "eda": eda, "acc": acc, "beats": beats, "start": start}


# -- a minimal XDF writer (format spec: github.com/sccn/xdf/wiki/Specifications) ------------------
def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def write_xdf(path: Path, streams: list[dict]) -> None:
    """Each stream: id, name, type, srate, fmt ('float32' or 'string'), times, values (n x ch)."""
    out = [b"XDF:", _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')]
    for s in streams:
        vals = s["values"]
        nch = 1 if s["fmt"] == "string" else np.asarray(vals).reshape(len(s["times"]), -1).shape[1]
        unit = f"<desc><channels><channel><label>c</label><unit>{s['unit']}</unit></channel></channels></desc>" \
            if s.get("unit") else ""
        xml = (f'<?xml version="1.0"?><info><name>{s["name"]}</name><type>{s["type"]}</type>'
               f'<channel_count>{nch}</channel_count><nominal_srate>{s["srate"]}</nominal_srate>'
               f'<channel_format>{s["fmt"]}</channel_format><created_at>0</created_at>{unit}</info>')
        out.append(_chunk(2, struct.pack("<I", s["id"]) + xml.encode()))
    for s in streams:
        body = [struct.pack("<I", s["id"]), _varlen(len(s["times"]))]
        for i, t in enumerate(s["times"]):
            body.append(struct.pack("<Bd", 8, t))
            if s["fmt"] == "string":
                b = str(s["values"][i]).encode()
                body.append(_varlen(len(b)) + b)
            else:
                row = np.asarray(s["values"][i], dtype="<f4").reshape(-1)
                body.append(row.tobytes())
        out.append(_chunk(3, b"".join(body)))
        for ct in (s["times"][0], s["times"][-1]):
            out.append(_chunk(4, struct.pack("<Idd", s["id"], ct, 0.0)))
    for s in streams:
        xml = (f'<?xml version="1.0"?><info><first_timestamp>{s["times"][0]}</first_timestamp>'
               f'<last_timestamp>{s["times"][-1]}</last_timestamp><sample_count>{len(s["times"])}</sample_count>'
               f"</info>")
        out.append(_chunk(6, struct.pack("<I", s["id"]) + xml.encode()))
    path.write_bytes(b"".join(out))


def collect(reader):
    """All chunks of a reader grouped by stream kind, checking the time order contract."""
    by: dict[str, list] = {}
    last = -np.inf
    for c in reader.chunks():
        assert c.start >= last - 1e-9, "chunks must come in non-decreasing start order"
        last = c.start
        by.setdefault(c.kind.value, []).append(c)
    return by


def values(chunks):
    return np.concatenate([c.values for c in chunks])


def times(chunks):
    return np.concatenate([c.sample_times() for c in chunks])




def gap_starts(chunks):
    """Start times of the chunks that follow a gap."""
    return [c.start for c in chunks if c.gap_before]
