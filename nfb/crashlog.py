"""A trace of every abnormal end of the app, found and pointed out on the next start.

While the app runs, three files live in the user's log folder (``$NFB_LOG_DIR``, else
``platformdirs.user_log_dir("nfb")``):

- ``nfb.log``: nfb's log at INFO and above (rotated at 2 MB, two old files kept);
- ``faulthandler.log``: where :mod:`faulthandler` writes the Python stack of every thread if
  the process dies of a fatal signal (a segfault, an abort, a bus error);
- ``running.json``: this process's id, removed again by a clean exit.

On the next start, a ``running.json`` left by a process that no longer exists means that the
previous run did not end cleanly (a crash, a kill, a power cut): :meth:`CrashLog.start` then
writes ``crash-<UTC time>.txt`` with what faulthandler caught and the last lines of
``nfb.log`` before the end, and returns its path so the app can say where it is. Sessions that
the crash left open are finalised by the store's recovery, as after any other interruption.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from ._logging import add_file_handler, logger
from ._version import __version__

#: How many lines of the previous run's log a crash report keeps.
LOG_TAIL_LINES = 200
#: A crash report never reads more than this much of a log file (the tail of a huge one).
_TAIL_BYTES = 256 * 1024


def default_log_dir() -> Path:
    """The user's log folder for nfb (``$NFB_LOG_DIR`` overrides it)."""
    env = os.environ.get("NFB_LOG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("nfb", appauthor=False))


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (False when it cannot be told)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        import ctypes

        synchronize, wait_timeout = 0x00100000, 0x00000102
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive, and not ours
        return True
    except OSError:
        return False
    return True


def _tail(path: Path, n_lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read(_TAIL_BYTES)
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n_lines:])


class CrashLog:
    """The crash trace of one app process.

    Parameters
    ----------
    log_dir : path-like | None
        The log folder (default :func:`default_log_dir`).
    """

    def __init__(self, log_dir: str | os.PathLike | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else default_log_dir()
        self.log_file = self.log_dir / "nfb.log"
        self.fault_file = self.log_dir / "faulthandler.log"
        self.marker = self.log_dir / "running.json"
        self._fault_stream: IO[str] | None = None
        self._handler: logging.Handler | None = None

    # --- the previous run ------------------------------------------------------------------
    def previous_crash(self) -> Path | None:
        """Write a report if the previous run ended abnormally; return its path, else None."""
        try:
            info = json.loads(self.marker.read_text("utf-8"))
            pid = int(info["pid"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            info, pid = {}, -1  # a damaged marker is itself a sign of a bad end
        if pid == os.getpid() or _pid_alive(pid):
            return None  # another instance is running (or this one already started)
        try:
            faults = self.fault_file.read_text("utf-8", "replace").strip()
        except OSError:
            faults = ""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        report = self.log_dir / f"crash-{stamp}.txt"
        started = info.get("started", "an unknown time")
        parts = [
            f"nfb {info.get('version', '?')} (process {pid}, started {started}) did not end "
            "cleanly: it crashed, was killed or the computer stopped.",
            "",
            "--- what faulthandler caught (empty after a kill or a power cut) ---",
            faults or "(nothing)",
            "",
            f"--- the last {LOG_TAIL_LINES} lines of {self.log_file.name} ---",
            _tail(self.log_file, LOG_TAIL_LINES) or "(empty)",
            "",
        ]
        try:
            report.write_text("\n".join(parts), "utf-8")
            if os.name == "posix":
                os.chmod(report, 0o600)
        except OSError as err:
            logger.warning("could not write a crash report to %s: %s", report, err)
            return None
        return report

    # --- this run --------------------------------------------------------------------------
    def start(self) -> Path | None:
        """Report the previous run's crash, if any, then arm the trace for this run.

        Returns
        -------
        report : Path | None
            The crash report of the previous run, if it ended abnormally.
        """
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:
            logger.warning("no crash log (cannot create %s: %s)", self.log_dir, err)
            return None
        report = self.previous_crash()
        if report is not None:
            logger.warning("nfb did not end cleanly last time; a crash report is in %s", report)
        self._handler = add_file_handler(self.log_file)
        try:
            self._fault_stream = open(self.fault_file, "w", encoding="utf-8")  # noqa: SIM115
            faulthandler.enable(self._fault_stream, all_threads=True)
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            meta = {"pid": os.getpid(), "started": started, "version": __version__}
            self.marker.write_text(json.dumps(meta), "utf-8")
        except OSError as err:
            logger.warning("no crash log (%s)", err)
        logger.info("nfb started (process %d); log in %s", os.getpid(), self.log_dir)
        return report

    def stop(self) -> None:
        """A clean end: disarm faulthandler, remove the marker (nothing will be reported)."""
        logger.info("nfb ended cleanly (process %d)", os.getpid())
        if self._fault_stream is not None:
            faulthandler.disable()
            self._fault_stream.close()
            self._fault_stream = None
            with contextlib.suppress(OSError):
                self.fault_file.unlink()
        with contextlib.suppress(OSError):
            self.marker.unlink()
        if self._handler is not None:
            logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
