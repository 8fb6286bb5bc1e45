"""One way to open a session (``open_session``), one id scheme, one ``sources`` schema."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.simulator import Simulator
from coregulate.server.session import runner
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionStatus, new_session_id, open_session
from coregulate.server.session.sources import source_meta

SERVER = Path(runner.__file__).parent.parent


def test_only_open_session_builds_a_recorder_or_a_runner():
    calls = re.compile(r"(?<!class )\b(Recorder|SessionRunner|recorder_cls|runner_cls)\(")
    found = [f"{p.relative_to(SERVER)}: {m.group(0)}" for p in sorted(SERVER.rglob("*.py"))
             for m in calls.finditer(p.read_text())]
    assert found == []  # open_session itself calls (recorder_cls or Recorder)(...)


def test_one_id_scheme():
    ids = {new_session_id("replay") for _ in range(50)}
    assert len(ids) == 50  # the same second, still distinct
    assert all(re.fullmatch(r"replay-\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", new_session_id())


def test_open_session_records_the_run_and_the_sources_in_one_schema(tmp_path):
    sim = Simulator(seed=1, duration_s=360, audio=False, speed=None)
    meta = {"sources": source_meta("files", ["sim?seed=1&duration=360&audio=0", "client=rr:/home/alice/c07.txt"])}
    run = open_session(sim, PipelineConfig(), tmp_path / "s.sqlite", "s1", participants={"client": "C01"}, meta=meta)
    assert asyncio.run(run.run()) is SessionStatus.COMPLETE
    with SessionStore(tmp_path / "s.sqlite") as st:
        info = st.info()
        assert len(st.features()) > 0
    # folders are dropped (they often carry a person's name)
    assert info["sources"] == {"kind": "files", "specs": ["sim?seed=1&duration=360&audio=0", "client=rr:c07.txt"]}
    assert info["status"] == "complete" and info["participants"]["client"] == "C01"


def test_files_with_a_plain_list_of_specs_read_in_the_same_schema(tmp_path):
    rec = open_session(Simulator(seed=1, duration_s=360, audio=False, speed=None), PipelineConfig(),
                       tmp_path / "old.sqlite", "old", meta={}).recorder
    rec.close()
    with sqlite3.connect(tmp_path / "old.sqlite") as con:  # as analyze and replay wrote it before
        con.execute("INSERT OR REPLACE INTO meta VALUES ('sources', ?)", (json.dumps(["client=rr:c07.txt"]),))
    with SessionStore(tmp_path / "old.sqlite") as st:
        assert st.info()["sources"] == {"kind": "files", "specs": ["client=rr:c07.txt"]}


def test_a_runner_that_cannot_be_built_leaves_a_failed_file_not_a_running_one(tmp_path):
    class Broken:
        def __init__(self, *a, **kw):
            raise ValueError("no estimator for these streams")

    with pytest.raises(ValueError):
        open_session(Simulator(seed=1, duration_s=360, audio=False, speed=None), PipelineConfig(),
                     tmp_path / "b.sqlite", "b", runner_cls=Broken)
    with SessionStore(tmp_path / "b.sqlite") as st:
        assert st.status() is SessionStatus.FAILED
