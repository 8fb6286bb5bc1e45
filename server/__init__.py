"""Everything above the estimators, split by job (the flow is ``sensors -> models -> server``).

* :mod:`~coregulate.server.session`: the session runtime -- the one session loop
  (:mod:`~coregulate.server.session.runner`), its recording (:mod:`~coregulate.server.session.recorder`),
  SPECs turned into sources, a session file read back as a source, and clean stops on signals.
* :mod:`~coregulate.server.offline`: recorded sessions analysed and written out -- ``analyze``,
  ``batch``, the whole-recording baseline, ``--jobs`` workers, exports, ``summary.csv`` and
  ``report.html``.
* :mod:`~coregulate.server.web`: the supervisor server -- the FastAPI app, its routers, access
  tokens, the websocket hub and the server's own sessions.
* :mod:`~coregulate.server.cli`: the ``coregulate`` command and its sub-commands.

:mod:`~coregulate.server.datadir` (where sessions and tokens live) and
:mod:`~coregulate.server.version` are shared by all four.
"""
