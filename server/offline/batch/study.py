"""The study-level table of a batch: one row per person of each analysed session (with the
dyad summary and the session's warnings), from the session's own CSV outputs."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from ....models.columns import ZONES
from ....models.session_summary import QUALITY_LEVELS

STUDY_FILE = "study.csv"
ERRORS_FILE = "errors.csv"
#: Zones counted as episodes in study.csv (contiguous runs of seconds in that zone).
EPISODE_ZONES = ("hyper", "hypo", "hypo_candidate")


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _num(v: str | None) -> float | None:
    if v in (None, ""):
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _runs(flags: list[bool]) -> list[int]:
    runs, n = [], 0
    for f in flags:
        if f:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    if n:
        runs.append(n)
    return runs


def summarize_person(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Summary of one person's features.csv rows (one per second). Episodes are contiguous runs
    of seconds in the zone (the zone column already carries the tolerance model's sustain rules)."""
    n = len(rows)
    zones = [r.get("zone") or "unknown" for r in rows]
    out: dict[str, Any] = {"minutes": round(n / 60, 4)}
    for z in ZONES:
        out[f"share_{z}"] = sum(x == z for x in zones) / n if n else None
    for z in EPISODE_ZONES:
        runs = _runs([x == z for x in zones])
        out[f"n_{z}_episodes"] = len(runs)
        out[f"{z}_s"] = sum(runs)
    for col in ("arousal", "vocal_arousal", "hr_bpm", "rmssd_ms"):
        out[f"mean_{col}"] = _mean([x for x in (_num(r.get(col)) for r in rows) if x is not None])
    qual = [r.get("quality") or "none" for r in rows]
    for q in QUALITY_LEVELS:
        out[f"quality_{q}_share"] = sum(x == q for x in qual) / n if n else None
    return out




def summarize_session(out_dir: Path) -> list[dict[str, Any]]:
    """study.csv rows of one analysed session: one per person, the dyad summary repeated."""
    from ....models.dyad_summary import summarize_dyad

    feats = _read_csv(out_dir / "features.csv")
    by_person: dict[str, list[dict[str, str]]] = {}
    for r in feats:
        by_person.setdefault(r["participant"], []).append(r)
    dyad_rows = _read_csv(out_dir / "dyad.csv")
    dyad: dict[str, Any] = {}
    if dyad_rows:
        events = _read_csv(out_dir / "events.csv")
        dyad = {f"dyad_{k}": v for k, v in summarize_dyad(dyad_rows, events).items()}
    # the session's warnings (summary.csv), so that a study table shows which rows to read with care
    warnings = {r["participant"]: r.get("warnings", "") for r in _read_csv(out_dir / "summary.csv") if r["row"] == "person"}
    return [{"participant": p, **summarize_person(rows), **dyad, "warnings": warnings.get(p, "")}
            for p, rows in by_person.items()]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 6)) if math.isfinite(v) else ""
    return str(v)


def write_table(path: Path, rows: list[dict[str, Any]], first: list[str]) -> Path:
    """Write ``rows`` as CSV to ``path`` (atomically: a temporary file, then a rename).

    Parameters
    ----------
    path : Path
        The table to write.
    rows : list of dict
        One dict per row; a key missing from a row is an empty cell.
    first : list of str
        Columns that come first; the others follow in the order they first appear.

    Returns
    -------
    Path
        ``path``.
    """
    cols = list(first)
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_fmt(r.get(c)) for c in cols])
    os.replace(tmp, path)
    return path
