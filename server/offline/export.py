"""Exports of a recorded session: features/events CSV, EDF+ of the raw signals with annotations,
and RR-interval text files for Kubios HRV."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS
from ...sensors.chunk import StreamKind
from ...sensors.errors import InputError, OutputError
from ..session.store import SessionStore

FORMATS = ("csv", "edf", "rr")


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 6)) if v == v else ""
    return str(v)


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    """One CSV table: a header, then one line per row (missing or NaN values as empty cells)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow([_fmt(r.get(c)) for c in columns])
    return path


def export_csv(store: SessionStore, out_dir: Path, summary=None) -> list[Path]:
    """features.csv (one row per participant per second), events.csv, annotations.csv,
    withdrawn_events.csv when a live session withdrew provisional events,
    dyad.csv when the session has two or more people, and summary.csv (one row per person and
    one for the dyad; ``summary``, a :class:`~.summary.SessionSummary`, is computed when not
    given). Empty cells: not computable."""
    from .summary import SUMMARY_FILE, summarize_store, write_summary

    feats = store.features()
    extra = sorted({k for r in feats for k in r} - set(FEATURE_COLUMNS))
    files = [write_csv(out_dir / "features.csv", list(FEATURE_COLUMNS) + extra, feats)]
    events = [dict(e, evidence=json.dumps(e["evidence"], sort_keys=True)) for e in store.events()]
    files.append(write_csv(out_dir / "events.csv",
                            ["t_start", "t_end", "participant", "kind", "label", "rule", "evidence"], events))
    files.append(write_csv(out_dir / "annotations.csv", ["t_s", "t_end", "author", "text", "source"],
                            store.annotations()))
    withdrawn = [dict(e, evidence=json.dumps(e["evidence"], sort_keys=True)) for e in store.withdrawn_events()]
    if withdrawn:  # live sessions only: provisional events the final data did not confirm (an audit record)
        files.append(write_csv(out_dir / "withdrawn_events.csv",
                                ["t_start", "t_end", "participant", "kind", "label", "rule", "final_upto_s", "evidence"],
                                withdrawn))
    if len(store.participants()) >= 2:
        dyad = store.dyad()
        extra = sorted({k for r in dyad for k in r} - set(DYAD_COLUMNS))
        files.append(write_csv(out_dir / "dyad.csv", list(DYAD_COLUMNS) + extra, dyad))
    files.append(write_summary(summary or summarize_store(store), out_dir / SUMMARY_FILE))
    return files


def _file_stem(participant: str) -> str:
    """A participant code as part of a file name: whatever a (crafted) session file says, the
    export never writes outside its folder."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", participant).strip("_") or "participant"


def export_rr(store: SessionStore, out_dir: Path) -> list[Path]:
    """One ``<participant>_rr.txt`` per person with an RR stream: one interval in ms per line,
    the plain format Kubios HRV imports. A dropout (gap) is not bridged: the file says so in a
    comment-free way by starting a new file segment, ``<participant>_rr_partN.txt``."""
    files = []
    for s in store.streams():
        if s.kind is not StreamKind.RR:
            continue
        parts: list[list[float]] = [[]]
        for c in store.chunks(s.key):
            if c.gap_before and parts[-1]:
                parts.append([])
            parts[-1].extend(float(v) for v in c.values)
        parts = [p for p in parts if p]
        for i, p in enumerate(parts):
            stem = _file_stem(s.participant)
            name = f"{stem}_rr.txt" if len(parts) == 1 else f"{stem}_rr_part{i + 1}.txt"
            path = out_dir / name
            path.write_text("".join(f"{v:.1f}\n" for v in p))
            files.append(path)
    if not files:
        raise InputError("the session has no RR-interval stream to export", path=store.path,
                         expected="a session recorded from a strap's RR intervals or an RR file")
    return files


def export_edf(store: SessionStore, out_dir: Path) -> list[Path]:
    """EDF+ (pyedflib) of every regular raw stream, one file per sample rate, with events and
    annotations as EDF+ annotations. Gaps are left as recorded (EDF+C needs contiguous data,
    so missing stretches are written as zeros and marked by a ``gap`` annotation)."""
    import pyedflib

    streams = [s for s in store.streams() if s.rate and s.kind not in (StreamKind.AUDIO, StreamKind.PROSODY)]
    if not streams:
        raise InputError("the session has no regular raw signal to export as EDF", path=store.path)
    duration = store.duration()
    files = []
    by_rate: dict[float, list] = {}
    for s in streams:
        by_rate.setdefault(float(s.rate), []).append(s)
    for rate, group in sorted(by_rate.items()):
        n_total = int(np.ceil(duration * rate))
        labels, signals, units = [], [], []
        for s in group:
            chans = s.channels or ("",)
            data = np.zeros((n_total, len(chans)))
            for c in store.chunks(s.key):
                i0 = int(round(c.t0 * rate))
                v = c.values.reshape(len(c.values), -1)
                i1 = min(i0 + len(v), n_total)
                if i1 > i0 >= 0:
                    data[i0:i1] = v[: i1 - i0]
            for j, ch in enumerate(chans):
                labels.append(f"{s.participant[:6]} {s.kind.value}{ch}"[:16])
                signals.append(data[:, j])
                units.append(s.unit)
        path = out_dir / (f"signals_{rate:g}Hz.edf" if len(by_rate) > 1 else "signals.edf")
        try:
            w = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write EDF ({exc})") from None
        try:
            headers = []
            for lab, sig, unit in zip(labels, signals, units):
                # EDF stores the physical range as 8 characters: whole units keep it exact
                lo, hi = float(np.floor(np.min(sig))), float(np.ceil(np.max(sig)))
                if hi - lo < 1:
                    lo, hi = lo - 1, hi + 1
                headers.append({"label": lab, "dimension": unit, "sample_frequency": rate,
                                "physical_min": lo, "physical_max": hi, "digital_min": -32768, "digital_max": 32767,
                                "transducer": "", "prefilter": ""})
            w.setSignalHeaders(headers)
            w.writeSamples([np.ascontiguousarray(s) for s in signals])
            for e in store.events():
                dur = -1 if e["t_end"] is None else max(0.0, e["t_end"] - e["t_start"])
                w.writeAnnotation(e["t_start"], dur, f"{e['kind']} {e['participant'] or 'dyad'}"[:40])
            for a in store.annotations():
                dur = -1 if a["t_end"] is None else max(0.0, a["t_end"] - a["t_s"])
                w.writeAnnotation(a["t_s"], dur, a["text"][:40])
            for g in store.gaps():
                w.writeAnnotation(g["t_start"], g["t_end"] - g["t_start"], f"gap {g['stream']}"[:40])
        finally:
            w.close()
        files.append(path)
    return files


def export_session(store_path: str | Path, fmt: str, out_dir: str | Path) -> list[Path]:
    """Export one session file in ``fmt`` (csv, edf or rr) into ``out_dir``."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}", field="--format", expected=" or ".join(FORMATS))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the export folder ({exc.strerror})") from None
    with SessionStore(store_path) as store:
        return {"csv": export_csv, "edf": export_edf, "rr": export_rr}[fmt](store, out)
