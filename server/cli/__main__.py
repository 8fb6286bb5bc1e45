"""``python -m coregulate.server.cli``: the same as the ``coregulate`` command."""

from .main import entry_point

entry_point()
