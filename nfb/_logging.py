"""The ``nfb`` logger: MNE-style ``verbose`` control instead of print."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("nfb")
logger.addHandler(logging.NullHandler())


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is logged.

    A plain StreamHandler keeps the stream it was made with; when ``nfb.cli.main`` runs in
    a process that swaps ``sys.stderr`` (a test's redirect, a notebook), that stream may be
    closed by the time a later run logs.
    """

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def set_log_level(verbose: bool | int | str | None = None) -> None:
    """Set the level of the ``nfb`` logger and attach a stderr handler once.

    Parameters
    ----------
    verbose : bool | int | str | None
        ``True`` for INFO, ``False``/``None`` for WARNING, an int or a level name otherwise.
    """
    if verbose is None or verbose is False:
        level = logging.WARNING
    elif verbose is True:
        level = logging.INFO
    elif isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
    else:
        level = int(verbose)
    logger.setLevel(level)
    if not any(getattr(h, "_nfb", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._nfb = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
