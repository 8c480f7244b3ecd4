"""Every way a user stops a terminal command, as one clean stop.

Ctrl-C (SIGINT), SIGTERM (``kill``, a logout on POSIX) and, where it exists, Ctrl-Break
(``SIGBREAK``, Windows) each raise :class:`KeyboardInterrupt` in the main thread, which the
command turns into its clean stop (the board released, the session folder closed). Closing
the console window on Windows (or logging off, or shutting down) sends no signal: Windows
calls a console control handler in a thread of its own and ends the process as soon as the
handler returns, or about 5 s later. :class:`CleanStop` registers one
(``SetConsoleCtrlHandler``, through :mod:`ctypes`, only on Windows) that interrupts the main
thread and returns only once the clean stop is done.

Nothing platform-specific is touched at import time: ``SIGBREAK`` is looked up with
``getattr`` and the Windows API inside a function that runs on Windows only.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ._logging import logger

#: The signals that stop a command, by name; those this platform lacks are left out.
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGBREAK")

# Console control events (wincon.h).
CTRL_C_EVENT = 0
CTRL_BREAK_EVENT = 1
CTRL_CLOSE_EVENT = 2
CTRL_LOGOFF_EVENT = 5
CTRL_SHUTDOWN_EVENT = 6
#: How long the console handler holds a closing console open for the clean stop (s):
#: Windows ends the process about 5 s after a close event whatever the handler does.
CONSOLE_CLOSE_WAIT_S = 4.5

#: ``(SetConsoleCtrlHandler, handler function type)``, or None for this platform's own
#: (Windows only). A simulation of Windows on another system sets a stand-in.
ConsoleApi = tuple[Callable[[Any, int], int], Callable[[Callable[[int], int]], Any]]


def stop_signals() -> list[signal.Signals]:
    """The signals of :data:`STOP_SIGNALS` this platform has."""
    return [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]


def windows_console_api() -> ConsoleApi:
    """Windows' ``SetConsoleCtrlHandler`` and its handler type (call on Windows only)."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handler_type = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_ulong)  # type: ignore[attr-defined]
    return kernel32.SetConsoleCtrlHandler, handler_type


def default_console_api() -> ConsoleApi | None:
    """The console-handler API :class:`CleanStop` uses: Windows' own, None elsewhere (a
    simulation of Windows replaces this function)."""
    return windows_console_api() if sys.platform == "win32" else None


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class CleanStop:
    """Make SIGINT, SIGTERM, SIGBREAK and a closing console stop a command cleanly.

    Use it around the command's work; put the clean-up under :meth:`shield`::

        with CleanStop() as stop:
            try:
                work()  # KeyboardInterrupt on Ctrl-C, SIGTERM, Ctrl-Break, console close
            except KeyboardInterrupt:
                ...
            finally:
                with stop.shield():
                    clean_up()  # no signal interrupts this

    Parameters
    ----------
    console_api : ConsoleApi | None
        The console-handler API; default :func:`default_console_api` (Windows' own on
        Windows, none elsewhere).

    Attributes
    ----------
    console_closed : bool
        Whether the stop came from the console closing (its handler then waits for
        :meth:`__exit__`).
    """

    def __init__(self, console_api: ConsoleApi | None = None) -> None:
        self._console_api = console_api
        self._previous: dict[int, Any] = {}
        self._done = threading.Event()
        self._handler_ref: Any = None  # the ctypes callback, kept alive while registered
        self._set_handler: Callable[[Any, int], int] | None = None
        self.console_closed = False

    # --- signals ---------------------------------------------------------------------------
    def __enter__(self) -> CleanStop:
        for sig in stop_signals():
            self._previous[sig] = signal.signal(sig, _interrupt)
        api = self._console_api if self._console_api is not None else default_console_api()
        if api is not None:
            set_handler, handler_type = api
            handler = handler_type(self._on_console_event)
            if set_handler(handler, 1):
                self._handler_ref, self._set_handler = handler, set_handler
            else:
                logger.info("no console handler: closing the console ends nfb uncleanly")
        return self

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        """No stop signal interrupts the block (a second Ctrl-C must not cut a clean-up)."""
        saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stop_signals()}
        try:
            yield
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        self._done.set()  # a closing console's handler may return: the stop is done
        if self._set_handler is not None:
            with contextlib.suppress(Exception):
                self._set_handler(self._handler_ref, 0)
            self._set_handler = None

    # --- the console (Windows) -------------------------------------------------------------
    def _on_console_event(self, event: int) -> int:
        """Windows calls this in a thread of its own; the process ends when it returns."""
        if event in (CTRL_C_EVENT, CTRL_BREAK_EVENT):
            return 0  # the next handler (Python's) turns them into SIGINT and SIGBREAK
        self.console_closed = True
        logger.warning("the console is closing: stopping")
        # a KeyboardInterrupt in the main thread, as Ctrl-C gives (nothing during shield():
        # SIGINT is ignored there, and the clean-up is already under way)
        _thread.interrupt_main()
        self._done.wait(CONSOLE_CLOSE_WAIT_S)
        return 1
