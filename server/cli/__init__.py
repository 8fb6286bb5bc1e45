"""The ``coregulate`` command (:mod:`~coregulate.server.cli.main`), one module per sub-command in
:mod:`~coregulate.server.cli.commands`. Kept free of imports so that ``--help`` stays instant."""
