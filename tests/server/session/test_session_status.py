"""A session's status has one owner, ``SessionStatus`` in the runner module; the words stored in
session files and sent as JSON stay those of before the enum."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import StreamInfo, StreamKind
from coregulate.server.session import runner
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionStatus

SERVER = Path(runner.__file__).parent.parent  # the whole server/ package
# "unknown" is also a zone and a version word: the others belong to sessions only
WORDS = "|".join(s.value for s in SessionStatus if s is not SessionStatus.UNKNOWN)


def test_the_words_are_those_the_files_and_the_api_always_used():
    assert [str(s) for s in SessionStatus] == ["created", "starting", "running", "complete", "stopped", "failed",
                                               "interrupted", "unknown", "unreadable"]
    assert json.dumps({"status": SessionStatus.STOPPED}) == '{"status": "stopped"}'
    assert SessionStatus.is_active("running") and not SessionStatus.is_active(SessionStatus.COMPLETE)
    assert not SessionStatus.is_active("something else")


def test_no_status_word_is_spelt_out_outside_the_runner():
    literal = re.compile(rf"""["']({WORDS})["']""")
    found = []
    for path in sorted(SERVER.rglob("*.py")):
        if path.name == "runner.py":
            continue
        # an enum of another vocabulary may own a word too (the batch's RowOutcome.FAILED per manifest row)
        text = re.sub(r"""(?m)^    [A-Z_]+ = ["'][a-z]+["']$""", "", path.read_text())
        found += [f"{path.relative_to(SERVER)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
                  for m in literal.finditer(text)]
    assert found == []


def test_the_recorder_stores_the_plain_word_and_reads_back_the_member(tmp_path):
    rec = Recorder(tmp_path / "s.sqlite", "s1", [StreamInfo("client", StreamKind.RR)], PipelineConfig())
    with SessionStore(tmp_path / "s.sqlite") as st:
        assert st.status() is SessionStatus.RUNNING
    rec.close(SessionStatus.STOPPED)
    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        assert con.execute("SELECT value, typeof(value) FROM meta WHERE key='status'").fetchone() == ("stopped", "text")
    with SessionStore(tmp_path / "s.sqlite") as st:
        assert st.status() is SessionStatus.STOPPED and st.info()["status"] == "stopped"
