"""Subcommands of the ``nfb`` CLI, one module each (``add_parser`` and ``run``)."""
