"""Recovery: finalise the sessions whose recorder was killed, crashed or lost power.

A session whose ``session.json`` says ``"recording"`` while no recorder holds its lock is
interrupted; :func:`recover_session` finalises it, and :func:`recover_store` does so for a
whole store at every ``nfb run``/``nfb gui`` start. Nothing is ever written through a link:
data files are opened with :mod:`nfb.fs` (no link followed, regular files only) and
truncated through their own descriptors. A damaged session is reported in one line and
never stops the store.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import fs
from .._logging import logger
from ..errors import SessionError, one_line
from .folders import (
    START_FILES,
    default_sessions_dir,
    remove_failed_start,
    store_folders,
    subfolders,
)
from .format import META_FILE, RESERVE_FILE, utc_iso, write_json_atomic
from .reader import data_file, is_live, n_records
from .schema import is_unix, load_meta, stream_problem

#: A folder left by a failed start is removed once it is this old (seconds): younger, it may
#: be a session another nfb is starting right now, between its mkdir and its lock.
FAILED_START_AGE_S = 60.0


def recover_session(path: str | os.PathLike) -> str:
    """Finalise an interrupted session (its recorder was killed or crashed).

    Trailing partial records of ``raw.f64``/``frames.f64`` (and of the motion and PPG
    stream files, whose ``n_samples`` is set too) and a partial last line of
    ``events.jsonl`` are truncated, ``n_samples``/``n_frames`` and ``end_time`` (the last fetch
    time) are set, and the status becomes ``"recovered"``. A session that is not interrupted
    is left alone. A data file that is a link, a FIFO or a folder stops the recovery before
    anything is changed (:class:`SessionError`).

    Parameters
    ----------
    path : path-like
        The session folder.

    Returns
    -------
    status : str
        The status afterwards: ``"recovered"``, or the unchanged final status.
    """
    path = Path(path)
    meta = load_meta(path)
    if meta.get("status", "recording") != "recording":
        return meta["status"]
    raw_file = data_file(path, meta, "raw")
    try:
        held = fs.lock(raw_file, flags=os.O_RDWR)
    except fs.LockBusy:
        raise SessionError(f"{path} is still being recorded; stop its recorder first") from None
    except OSError as err:
        raise SessionError(f"cannot recover {path}: {raw_file.name}: {err.strerror}") from None
    with held:
        # another recoverer may have finished while we waited for the lock: read it again
        meta = load_meta(path)
        if meta.get("status", "recording") != "recording":
            return meta["status"]
        try:
            counts = _truncate_partial(path, meta, held.fd)
            last_fetch = None
            if counts["raw"]:
                n_cols = len(meta["raw"]["columns"])
                tail = fs.read_at(held.fd, 8, (counts["raw"] * n_cols - 1) * 8)
                last_fetch = float(np.frombuffer(tail, "<f8")[0])
            if not is_unix(last_fetch):  # a replayed file has no fetch times (NaN)
                last_fetch = None
            end_unix = last_fetch if last_fetch is not None else meta.get("start_unix")
            _remove_start_files(path)
            meta.update(
                status="recovered",
                n_samples=counts["raw"],
                n_frames=counts["frames"],
                end_unix=end_unix,
                end_time=utc_iso(end_unix) if end_unix is not None else None,
                recovered_time=utc_iso(time.time()),
            )
            write_json_atomic(path / META_FILE, meta)
        except OSError as err:
            raise SessionError(f"cannot recover {path}: {err.strerror or err}") from None
        except (ValueError, OverflowError, TypeError) as err:  # what a damaged record holds
            raise SessionError(f"cannot recover {path}: {one_line(err)}") from None
    logger.info("Recovered %s: %d samples, %d frames", path, counts["raw"], counts["frames"])
    return "recovered"


def _truncate_partial(path: Path, meta: dict, raw_fd: int) -> dict[str, int]:
    """Cut the partial trailing records and event line; return the whole records kept.

    Every file is checked first (a link or a FIFO refuses the recovery before any file is
    cut), then cut through its own descriptor, so a link swapped in meanwhile is not cut.
    """
    fds = {"raw": raw_fd}
    streams = {}
    for name, node in (meta.get("streams") or {}).items():
        problem = stream_problem(meta, name)
        if problem is None:
            streams[name] = node
        else:  # its record size is unknown: cutting by a wrong one would lose samples
            logger.warning("%s: the %s stream is left as it is: %s", path, name, problem)
    files = {key: data_file(path, meta, key) for key in ("frames", "events")}
    files.update({f"stream:{name}": path / str(node["file"]) for name, node in streams.items()})
    try:
        for key, file in files.items():
            try:
                fds[key] = fs.open_file(file, os.O_RDWR)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise OSError(err.errno, f"{file.name}: {err.strerror}") from None
        counts = {"raw": 0, "frames": 0}
        for key in ("raw", "frames"):
            if key not in fds:
                continue
            record = 8 * len(meta[key]["columns"])
            size = os.fstat(fds[key]).st_size
            counts[key] = size // record
            if size != counts[key] * record:
                os.ftruncate(fds[key], counts[key] * record)
        for name, node in streams.items():  # motion, PPG: whole records, as raw.f64
            key = f"stream:{name}"
            if key in fds:
                record = 8 * len(node["columns"])
                size = os.fstat(fds[key]).st_size
                node["n_samples"] = size // record
                if size != node["n_samples"] * record:
                    os.ftruncate(fds[key], node["n_samples"] * record)
            else:  # its file is gone: none of its samples can be read
                node["n_samples"] = 0
        if "events" in fds:
            data = fs.read_fd(fds["events"], fs.MAX_EVENTS_BYTES, data_file(path, meta, "events"))
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                os.ftruncate(fds["events"], keep)
    finally:
        for key, fd in fds.items():
            if key != "raw":
                os.close(fd)
    return counts


def _remove_start_files(path: Path) -> None:
    """The dead recorder's disk reserve and temporary ``session.json``s (never a link)."""
    names = [RESERVE_FILE, *(p.name for p in path.glob(f".{META_FILE}.*tmp"))]
    for name in names:
        if fs.describe(path / name) is None:  # a regular file (or gone): ours
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path / name)


def _clean_failed_starts(root: Path) -> None:
    """Remove what failed or killed session starts left: folders without ``session.json``
    holding only a start's empty files (one warning line each)."""
    now = time.time()
    for client_dir in subfolders(root) if root.is_dir() else []:
        for folder in subfolders(client_dir):
            if os.path.lexists(folder / META_FILE):
                continue
            try:
                young = now - os.lstat(folder).st_mtime < FAILED_START_AGE_S
            except OSError:
                continue
            if young or fs.is_locked(folder / START_FILES[0]):
                continue
            if remove_failed_start(folder):
                logger.warning("removed %s: a session start that failed (no session.json)", folder)


@dataclass(frozen=True)
class Recovery:
    """What :func:`recover_store` did to one session.

    Attributes
    ----------
    path : Path
        The session folder.
    status : str
        ``"recovered"`` (it was interrupted and is now finalised), ``"live"`` (a recorder
        still holds it: left alone), ``"error"`` (it could not be recovered: see ``error``),
        or the session's unchanged final status (``complete``, ``stopped``, ``failed``,
        ``recovered``) for a named session that needed nothing.
    n_samples : int
        Whole samples in ``raw.f64`` afterwards.
    n_frames : int
        Whole frames in ``frames.f64`` afterwards.
    sfreq : float | None
        The sampling frequency (for durations); None if ``session.json`` is unreadable.
    error : str | None
        The one-line reason of an ``"error"``.
    """

    path: Path
    status: str
    n_samples: int = 0
    n_frames: int = 0
    sfreq: float | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float:
        """Seconds of signal on disk."""
        return self.n_samples / self.sfreq if self.sfreq else 0.0


def _recover_one(path: Path) -> Recovery:
    try:
        if is_live(path):
            status = "live"
        else:
            try:
                status = recover_session(path)
            except SessionError:
                if not is_live(path):
                    raise
                status = "live"  # a recorder took it between our check and our lock
        meta = load_meta(path)
        n_raw, n_frames = (
            n_records(data_file(path, meta, key), len(meta[key]["columns"]))
            for key in ("raw", "frames")
        )
    except SessionError as err:
        return Recovery(path, "error", error=one_line(err))
    except Exception as err:  # a start must never fail on one damaged session of the store
        logger.debug("recovering %s", path, exc_info=True)
        return Recovery(path, "error", error=f"{path}: {type(err).__name__}: {one_line(err)}")
    return Recovery(path, status, n_raw, n_frames, float(meta["layout"]["sfreq"]))


def recover_store(
    sessions_dir: str | os.PathLike | None = None,
    sessions: list[str | os.PathLike] | None = None,
    *,
    log: bool = True,
) -> list[Recovery]:
    """Finalise the interrupted sessions of a store (or the named sessions).

    An interrupted session says ``"recording"`` in its ``session.json`` while no recorder
    holds its lock (the process was killed, crashed, or the machine lost power): each is
    finalised with :func:`recover_session` and logged (one warning line each). A session a
    running recorder still holds is never touched.

    Parameters
    ----------
    sessions_dir : path-like | None
        The store; ``None`` for ``$NFB_SESSIONS_DIR``, else the per-user data folder. A store
        that does not exist has nothing to recover.
    sessions : list of path-like | None
        Only these session folders. Each is reported, whatever its status (``nfb recover
        SESSION``). A folder that is not a session raises :class:`SessionError` before any
        session is changed.
    log : bool
        Log a warning line per recovered (or unrecoverable) session of the store.

    Returns
    -------
    recoveries : list of Recovery
        Without ``sessions``: one per session whose ``session.json`` says ``"recording"``
        (recovered, live or error); sessions already final are not listed. With
        ``sessions``: one per named session, in order.
    """
    if sessions is not None:
        paths = [Path(p) for p in sessions]
        for path in paths:
            load_meta(path)  # a typo fails here, before anything changes
        return [_recover_one(path) for path in paths]
    root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
    _clean_failed_starts(root)
    out = []
    for path in store_folders(root):
        try:
            meta = load_meta(path)
        except SessionError as err:
            logger.warning("Skipping %s", err)
            continue
        if meta.get("status", "recording") != "recording":
            continue
        result = _recover_one(path)
        if log and result.status == "recovered":
            logger.warning(
                "recovered interrupted session %s: %d samples (%.1f s), %d frames",
                path,
                result.n_samples,
                result.duration_s,
                result.n_frames,
            )
        elif log and result.status == "error":
            reason = str(result.error).removeprefix(f"cannot recover {path}: ")
            logger.warning("cannot recover interrupted session %s: %s", path, reason)
        out.append(result)
    return out
