"""``batch``: many sessions through :func:`~coregulate.server.offline.analysis.analyze_session`, resumable,
on local processes or a Dask distributed cluster, with a study-level table.

A batch is a list of :class:`BatchSession` read from a manifest (CSV or TOML) or from a folder
layout (one sub-folder per session, files named by role). Each session is analysed by the
top-level, picklable :func:`~.session_task.run_session` into ``OUT/<session_id>/`` and summarised from its own
CSV outputs, so a skipped (up-to-date) session and a freshly analysed one give the same rows of
``OUT/study.csv``. Failures go to ``OUT/errors.csv`` and never stop the other sessions.

One module per job: :mod:`.manifest` (what to run), :mod:`.session_task` (one session, with
its fingerprint for resumability), :mod:`.execution` (local processes or Dask) and :mod:`.study`
(the study table).
"""

from .execution import BatchResult, run_batch
from .manifest import BatchSession, read_manifest
from .session_task import BATCH_FILE, fingerprint, is_complete, run_session
from .study import ERRORS_FILE, STUDY_FILE, summarize_session

__all__ = ["BATCH_FILE", "ERRORS_FILE", "STUDY_FILE", "BatchResult", "BatchSession", "fingerprint", "is_complete",
           "read_manifest", "run_batch", "run_session", "summarize_session"]
