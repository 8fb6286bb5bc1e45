"""``analyze``: one session through the same runner as a live session, at max speed, into a
folder: ``session.sqlite``, ``features.csv``, ``events.csv``, ``dyad.csv`` (two people),
``summary.csv`` and ``report.html``. ``batch`` calls :func:`analyze_session` once per session."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...models.config import PipelineConfig
from ...models.registry import DEFAULT_REGISTRY
from ...sensors.errors import OutputError
from ..session.runner import open_session
from ..session.sources import build_source, check_codes, source_meta, video_meta
from ..session.store import SessionStore
from .export import export_csv
from .summary import summarize_store

SESSION_FILE = "session.sqlite"


@dataclass
class AnalysisResult:
    """What :func:`analyze_session` did: the output folder, the session file, every file written,
    the seconds analysed, the participants' roles, and the warnings and baseline notes to print.
    """

    out_dir: Path
    session_file: Path
    files: list[Path]
    seconds: float
    participants: list[str]
    warnings: list[str] = field(default_factory=list)  # the report's warnings, in plain words
    #: closing lines about the baselines: taken from elsewhere, or not to be trusted
    notes: list[str] = field(default_factory=list)


class _Progress:
    """A progress bar on stderr (only on a terminal) in session seconds."""

    def __init__(self, total: float | None, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=round(total) if total else None, unit="s", desc="analyzing", file=sys.stderr,
                            disable=None, dynamic_ncols=True, bar_format=None)
        self.done = 0

    def on_chunk(self, chunk) -> None:
        t = int(chunk.t_end)
        if self.bar is not None and t > self.done:
            self.bar.update(t - self.done)
            self.done = t

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def analyze_session(specs: list[str], out_dir: str | Path, *, config: PipelineConfig | None = None,
                    keep_audio: bool = False, session_id: str | None = None, overwrite: bool = False,
                    progress: bool = False, report: bool = True, meta: dict[str, Any] | None = None,
                    jobs: int = 1, participant_codes: dict[str, str] | None = None) -> AnalysisResult:
    """Analyze one session offline (speed max) and write its output folder.

    ``jobs > 1`` runs up to ``jobs - 1`` people's stream estimators in worker processes
    (:mod:`.parallel`); the output is identical to ``jobs = 1``. A recording that ends before its
    baseline segment does (nothing left after it) is analysed again with the whole recording as its baseline
    (:mod:`.baseline`), and says so (``AnalysisResult.notes``, the session's ``baseline`` meta).
    """
    config = config or PipelineConfig()
    kw = dict(keep_audio=keep_audio, session_id=session_id, progress=progress, report=report, meta=meta,
              jobs=jobs, participant_codes=participant_codes)
    res = _analyze_once(specs, out_dir, config=config, overwrite=overwrite, **kw)
    if config.baseline_reference is None and res.seconds <= config.baseline_segment[1]:
        from .baseline import WHOLE_SHORT_RECORDING, reference_from

        ref = reference_from(specs, config, WHOLE_SHORT_RECORDING)
        if ref:
            res = _analyze_once(specs, out_dir, config=replace(config, baseline_reference=ref), overwrite=True, **kw)
    return res


def _analyze_once(specs: list[str], out_dir: str | Path, *, config: PipelineConfig, keep_audio: bool,
                  session_id: str | None, overwrite: bool, progress: bool, report: bool,
                  meta: dict[str, Any] | None, jobs: int, participant_codes: dict[str, str] | None) -> AnalysisResult:
    source = build_source(specs, speed=None)  # headers checked before anything is written
    out = Path(out_dir)
    session_file = out / SESSION_FILE
    if session_file.exists():
        if not overwrite:
            raise OutputError(f"{session_file} exists; pass --overwrite to analyze again into {out}")
        for name in (SESSION_FILE, SESSION_FILE + "-wal", SESSION_FILE + "-shm"):
            (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    sid = session_id or out.resolve().name
    codes = participant_codes or {}
    check_codes(codes, [s.participant for s in source.streams])
    from .baseline import baseline_lines

    notes = baseline_lines(config.baseline_reference)
    extra = {"baseline": json.dumps(notes)} if notes else {}
    meta = {"sources": source_meta("files", specs), **extra, **video_meta(source), **(meta or {})}
    bar = _Progress(getattr(source, "duration_s", None), progress)
    registry = DEFAULT_REGISTRY
    if jobs > 1:
        from .parallel import ParallelRegistry, PrefetchSource

        if PrefetchSource.possible(source):
            source = PrefetchSource(source)  # same streams and utc0
            jobs -= 1
        registry = ParallelRegistry(jobs)
    runner = open_session(source, config, session_file, sid, keep_audio=keep_audio, participants=codes, meta=meta,
                          sinks=[bar], registry=registry)
    try:
        asyncio.run(runner.run())
    finally:
        bar.close()
    with SessionStore(session_file) as store:
        summary = summarize_store(store)
        files = export_csv(store, out, summary)
        participants = list(store.participants())
        seconds = store.duration()
        for e in store.events():
            if e.get("kind") == "baseline" and e.get("evidence", {}).get("trusted") is False:
                line = f"{e.get('participant')}: {e.get('label')}"
                if line not in notes:
                    notes.append(line)
        if report:
            from .report import write_report

            files.append(write_report(store, out / "report.html", summary))
    return AnalysisResult(out, session_file, [session_file, *files], seconds, participants,
                          [w.plain() for w in summary.warnings], notes)

