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


def terminal_level() -> int:
    """The level of what ``nfb`` shows on the terminal (stderr).

    The logger's own level where no file handler lowered it; otherwise the level the terminal
    handler was given by :func:`add_file_handler`, which is what ``-v`` asked for.
    """
    level = logger.getEffectiveLevel()
    for h in logger.handlers:
        if getattr(h, "_nfb", False) and h.level != logging.NOTSET:
            level = max(level, h.level)
    return level


def add_file_handler(
    path, level: int = logging.INFO, max_bytes: int = 2_000_000
) -> logging.Handler:
    """Also log to a rotating file at ``level``, without making the terminal any louder.

    The logger's own level is lowered to ``level`` where needed; the terminal handler keeps the
    level the logger had, so ``nfb`` stays as quiet on stderr as ``-v`` asked for.

    Returns
    -------
    handler : logging.Handler
        Remove it with ``logger.removeHandler`` (and close it) when the file is done with.
    """
    import logging.handlers

    terminal_level = logger.getEffectiveLevel()
    for h in logger.handlers:
        if getattr(h, "_nfb", False) and h.level == logging.NOTSET:
            h.setLevel(terminal_level)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=2, encoding="utf-8"
    )
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    if terminal_level > level:
        logger.setLevel(level)
    return handler
