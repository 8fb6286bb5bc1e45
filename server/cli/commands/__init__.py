"""One module per ``coregulate`` sub-command, each with ``add_parser(subparsers)``."""
