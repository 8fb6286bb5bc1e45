"""Forking worker processes without handing them the parent's uncollected garbage.

A forked child inherits every object of its parent, the garbage cycles not yet collected
included, but only the thread that forked. If the child's cyclic collector then frees such an
object that owns native threads, it can wait forever for threads that do not exist there: a
PyAV decoder left in an exception's traceback by an earlier analysis (a truncated video) is
freed by ``avcodec_free_context``, which joins its frame threads, and the reader or worker
process hangs, and the analysis with it (seen in the test suite when a video test ran before an
analysis with ``--jobs`` in the same process).

So the parent collects first (its threads are alive: freeing is safe there), then freezes what
is left for the moment of the fork (``gc.freeze``: the child's collector never visits inherited
objects, as the Python documentation advises before ``fork``), and unfreezes afterwards.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def forking_without_garbage() -> Iterator[None]:
    """Context for starting forked processes (``Process.start``, a fork-based pool's first submit).

    Yields
    ------
    None
        Inside, the parent's garbage has been collected and the surviving objects are frozen, so
        a child forked now never runs a finaliser of an object it inherited.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
