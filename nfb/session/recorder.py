"""Crash-safe writer of a session folder.

A session folder ``<sessions_dir>/<client>/<session_id>/`` holds ``session.json`` (metadata,
replaced atomically whenever it changes), ``raw.f64`` and ``frames.f64`` (append-only
little-endian float64 records), ``events.jsonl`` (append-only, one JSON object a line) and,
for a board with extra streams (``layout["streams"]``: motion, PPG), one ``<name>.f64`` per
stream at its own rate (its rows, then ``fetch_time`` and ``eeg_index``; see
:data:`~nfb.session.format.STREAM_EXTRA_COLUMNS`).
The format is documented in the README; :mod:`nfb.session.store` reads it.

:class:`SessionRecorder` is fed from the acquisition thread. Appends never touch the disk in
the caller's thread: they are serialised to bytes and handed to a writer thread through a
queue. The writer passes each payload to the kernel at once (so a killed process loses only
what is still queued) and fsyncs at least every ``sync_interval`` seconds (so a power cut
loses about a second). A disk error does not raise in the acquisition thread: it becomes
:attr:`SessionRecorder.error` and :attr:`SessionRecorder.failed`, later appends are dropped,
and what was written stays on disk. While a recorder is open it holds an exclusive
lock on ``raw.f64`` (:func:`nfb.fs.lock`): that is how readers tell a live session from an
interrupted one.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from .. import fs
from .._logging import logger
from .._version import __version__
from ..errors import SessionError
from .clients import validate_client
from .folders import claim_folder, default_sessions_dir, new_session_folder
from .format import (
    BASE_FRAME_COLUMNS,
    EVENTS_FILE,
    FINAL_STATUSES,
    FORMAT,
    FORMAT_VERSION,
    FRAME_KINDS,
    FRAMES_FILE,
    META_FILE,
    RAW_FILE,
    RESERVE_BYTES,
    RESERVE_FILE,
    RESERVED_KEYS,
    STREAM_EXTRA_COLUMNS,
    protocol_slug,
    stream_file,
    to_json,
    utc_iso,
    write_json_atomic,
)
from .schema import MAX_SFREQ, MIN_SFREQ

#: EEG seconds after which a stream that has sent nothing is said to be missing at close.
EMPTY_STREAM_WARN_S = 10.0


def raw_columns_from_layout(layout: Mapping[str, Any]) -> list[str]:
    """Return the ``raw.f64`` column names of a board layout.

    ``row<i>`` for each board row, EEG rows named by ``layout["ch_names"]``, then
    ``fetch_time``.
    """
    names = [f"row{i}" for i in range(int(layout["n_rows"]))]
    for row, label in zip(layout["eeg_rows"], layout["ch_names"], strict=True):
        names[int(row)] = str(label)
    return [*names, "fetch_time"]


def stream_columns_from_layout(stream: Mapping[str, Any]) -> list[str]:
    """The columns of a stream file: ``row<i>`` for each row of the preset, the signal rows
    named by their labels, then :data:`~nfb.session.format.STREAM_EXTRA_COLUMNS`."""
    names = [f"row{i}" for i in range(int(stream["n_rows"]))]
    for row, label in zip(stream["rows"], stream["labels"], strict=True):
        names[int(row)] = str(label)
    return [*names, *STREAM_EXTRA_COLUMNS]


def software_versions() -> dict[str, str | None]:
    """Return the versions of nfb and the libraries that shape a recording."""
    out: dict[str, str | None] = {"nfb": __version__}
    for name in ("numpy", "scipy", "brainflow", "mne"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = None
    return out


def _validate_frame_columns(frame_columns: Sequence[Sequence[str]]) -> list[list[str]]:
    cols: list[list[str]] = []
    for col in frame_columns:
        if len(col) != 2 or not isinstance(col[0], str) or not col[0]:
            raise ValueError(f"frame column {col!r} must be a (name, kind) pair")
        name, kind = col
        if kind not in FRAME_KINDS:
            raise ValueError(
                f"frame column {name!r} has kind {kind!r}; allowed: {', '.join(FRAME_KINDS)}"
            )
        cols.append([name, kind])
    names = [c[0] for c in cols]
    if len(set(names)) != len(names):
        raise ValueError(f"frame column names must be unique, got {names}")
    missing = [name for name, _ in BASE_FRAME_COLUMNS if name not in names]
    if missing:
        raise ValueError(f"frame columns lack the required {missing}")
    kinds = dict(map(tuple, cols))
    for name, kind in BASE_FRAME_COLUMNS:
        if kinds[name] != kind:
            raise ValueError(f"frame column {name!r} must have kind {kind!r}, not {kinds[name]!r}")
    return cols


def _validate_layout(layout: Any) -> None:
    if not isinstance(layout, Mapping):
        raise ValueError("meta['layout'] must be a dict (the board layout)")
    for key in ("sfreq", "n_rows", "eeg_rows", "ch_names"):
        if key not in layout:
            raise ValueError(f"meta['layout'] lacks {key!r}")
    if not MIN_SFREQ <= float(layout["sfreq"]) < MAX_SFREQ:
        raise ValueError(
            f"meta['layout']['sfreq'] must be {MIN_SFREQ:g}..{MAX_SFREQ:g} Hz, "
            f"got {layout['sfreq']!r:.40}"
        )
    if len(layout["eeg_rows"]) != len(layout["ch_names"]):
        raise ValueError("meta['layout'] eeg_rows and ch_names differ in length")


_OPEN: weakref.WeakSet[SessionRecorder] = weakref.WeakSet()


@atexit.register
def _flush_open_recorders() -> None:  # pragma: no cover - runs at interpreter exit
    for rec in list(_OPEN):
        with contextlib.suppress(Exception):
            rec.flush(timeout=5.0)


class SessionRecorder:
    """Write one session folder; crash-safe and non-blocking for the caller.

    Create with :meth:`create`. Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : Path
        The (new, empty) session folder.
    meta : dict
        The complete initial ``session.json`` content.
    threaded : bool
        ``True`` (live): appends are queued to a writer thread. ``False`` (offline replay):
        appends write synchronously, and a disk error raises :class:`SessionError` at once
        (it is also stored in :attr:`error`).
    sync_interval : float
        Seconds between fsyncs of the data files.
    """

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        *,
        threaded: bool = True,
        sync_interval: float = 0.5,
    ) -> None:
        self._path = Path(path)
        self._meta = meta
        self._meta_lock = threading.Lock()
        self._threaded = bool(threaded)
        self._sync_interval = float(sync_interval)
        self._n_raw_cols = len(meta["raw"]["columns"])
        self._n_frame_cols = len(meta["frames"]["columns"])
        streams = meta.get("streams") or {}
        self._n_stream_cols = {name: len(st["columns"]) for name, st in streams.items()}
        self.error: SessionError | None = None
        self.failed = False
        self._closed = False
        self._n_samples = 0  # accepted from the caller
        self._n_frames = 0
        self._written = {"raw": 0, "frames": 0}  # records handed to the kernel
        self._written.update({f"stream:{name}": 0 for name in streams})
        self._n_stream_samples = dict.fromkeys(streams, 0)
        self._dirty: set[str] = set()
        self._fds: dict[str, int] = {}
        self._lock: fs.Lock | None = None
        self._files = {"raw": RAW_FILE, "frames": FRAMES_FILE, "events": EVENTS_FILE}
        self._files.update({f"stream:{name}": st["file"] for name, st in streams.items()})
        # O_EXCL: a name planted in the folder (a link) is refused, never written through
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        try:
            for key, name in self._files.items():
                fd = fs.open_file(self._path / name, flags, 0o600)
                self._fds[key] = fd
                fs.make_private(fd, self._path / name)
            # the lock readers probe to tell a live session from an interrupted one
            self._lock = fs.lock(self._path / RAW_FILE)
            self._make_reserve()
            write_json_atomic(self._path / META_FILE, self._meta)
        except OSError as err:
            self._undo_start()
            raise SessionError(f"cannot write {self._path}: {err.strerror or err}") from None
        self._last_sync = time.monotonic()
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if self._threaded:
            self._thread = threading.Thread(
                target=self._run, name=f"nfb-recorder-{meta['session_id']}", daemon=True
            )
            self._thread.start()
        _OPEN.add(self)
        logger.info("Recording session %s", self._path)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        sessions_dir: str | os.PathLike | None,
        client: str,
        protocol_name: str,
        meta: Mapping[str, Any],
        *,
        raw_columns: Sequence[str] | None = None,
        frame_columns: Sequence[Sequence[str]],
        start: datetime | None = None,
        threaded: bool = True,
        sync_interval: float = 0.5,
        folder: str | os.PathLike | None = None,
    ) -> SessionRecorder:
        """Create a new session folder and start recording into it.

        Parameters
        ----------
        sessions_dir : path-like | None
            The session store; ``None`` for :func:`default_sessions_dir`. Created if missing.
        client : str
            The client id (see :func:`validate_client`); the folder ``<sessions_dir>/<client>``.
        protocol_name : str
            Used in the session id ``YYYYmmdd-HHMMSS-<slug>`` (UTC start time).
        meta : dict
            Initial metadata: at least ``layout`` (the board layout dict); usually ``device``,
            ``protocol``, ``channel_map``, ``source``. Keys the recorder owns (``status``,
            ``n_samples``, ``raw``...) are refused.
        raw_columns : list of str | None
            Names of the board rows in row order (``"fetch_time"`` is appended if absent);
            ``None`` derives them from ``meta["layout"]``.
        frame_columns : list of (str, str)
            ``(name, kind)`` of each frame column, kind ``"i8"``, ``"f8"`` or ``"?"``; must
            include the base columns (:data:`BASE_FRAME_COLUMNS`).
        start : datetime | None
            Session start (naive means UTC); ``None`` for now.
        threaded : bool
            See :class:`SessionRecorder`.
        sync_interval : float
            Seconds between fsyncs.
        folder : path-like | None
            Record into this folder instead of ``<sessions_dir>/<client>/<session_id>`` (e.g.
            the output of a replay); it must not exist or be empty. ``session_id`` in
            ``session.json`` is still ``YYYYmmdd-HHMMSS-<slug>``.

        Returns
        -------
        recorder : SessionRecorder
            The open recorder; its folder is :attr:`path`. An existing folder is never reused:
            ``-2``, ``-3``... is appended to the session id instead.
        """
        client = validate_client(client)
        if not isinstance(meta, Mapping):
            raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
        reserved = sorted(RESERVED_KEYS.intersection(meta))
        if reserved:
            raise ValueError(f"meta may not set {reserved}: the recorder owns them")
        _validate_layout(meta.get("layout"))
        layout = meta["layout"]
        if raw_columns is None:
            raw_columns = raw_columns_from_layout(layout)
        raw_columns = [str(c) for c in raw_columns]
        if not raw_columns or raw_columns[-1] != "fetch_time":
            raw_columns.append("fetch_time")
        if len(set(raw_columns)) != len(raw_columns):
            raise ValueError(f"raw column names must be unique, got {raw_columns}")
        if len(raw_columns) - 1 != int(layout["n_rows"]):
            raise ValueError(
                f"{len(raw_columns) - 1} raw columns for a layout of {layout['n_rows']} rows"
            )
        frame_cols = _validate_frame_columns(frame_columns)
        streams = {
            str(st["name"]): {
                "file": stream_file(str(st["name"])),
                "columns": stream_columns_from_layout(st),
                "n_samples": 0,
            }
            for st in layout.get("streams", [])
        }

        if start is None:
            start = datetime.now(timezone.utc)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        start_unix = start.timestamp()

        base = f"{start.astimezone(timezone.utc):%Y%m%d-%H%M%S}-{protocol_slug(protocol_name)}"
        if folder is not None:
            path, session_id = claim_folder(Path(folder)), base
        else:
            root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
            path = new_session_folder(root, client, base)
            session_id = path.name

        full: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "software": software_versions(),
            "client": client,
            "session_id": session_id,
            "status": "recording",
            "start_time": utc_iso(start_unix),
            "start_unix": start_unix,
            "end_time": None,
            "end_unix": None,
            "n_samples": 0,
            "n_frames": 0,
            "device": {},
            "layout": None,
            "channel_map": {},
            "protocol": {"name": protocol_name},
            "raw": {"file": RAW_FILE, "columns": raw_columns},
            "frames": {"file": FRAMES_FILE, "columns": frame_cols},
            "events": {"file": EVENTS_FILE},
            **({"streams": streams} if streams else {}),
            "blocks": [],
            "baseline": {},
            "notes": "",
            "ratings": {"anxiety_before": None, "anxiety_after": None},
            "source": {"kind": "live"},
        }
        try:
            # a JSON round trip copies meta and fails early on what cannot be serialised
            full.update(json.loads(to_json(dict(meta))))
            return cls(path, full, threaded=threaded, sync_interval=sync_interval)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(path)  # the folder of a start that failed (empty by now)
            raise

    # ------------------------------------------------------------------ public API
    @property
    def path(self) -> Path:
        """The session folder."""
        return self._path

    @property
    def session_id(self) -> str:
        """The session id (the folder name)."""
        return self._meta["session_id"]

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of the current metadata."""
        with self._meta_lock:
            return json.loads(to_json(self._meta))

    @property
    def n_samples(self) -> int:
        """Samples accepted so far (queued or written)."""
        return self._n_samples

    @property
    def n_frames(self) -> int:
        """Frames accepted so far (queued or written)."""
        return self._n_frames

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def append_samples(self, block: np.ndarray, fetch_time: float | np.ndarray) -> None:
        """Append a chunk of board samples.

        Parameters
        ----------
        block : array, shape (n_rows, n_samples)
            All board rows in the board's row order (BrainFlow's ``get_board_data`` layout).
        fetch_time : float | array, shape (n_samples,)
            Unix wall time at which nfb fetched this chunk, stored as the last column; or one
            per sample (a replay carrying the source's fetch times, NaN where unknown).
        """
        self._check_open()
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self._n_raw_cols - 1:
            raise ValueError(
                f"samples must have shape ({self._n_raw_cols - 1}, n), got {block.shape}"
            )
        n = block.shape[1]
        fetch = np.asarray(fetch_time, dtype=np.float64)
        if fetch.ndim > 1 or (fetch.ndim == 1 and fetch.shape[0] != n):
            raise ValueError(f"fetch_time must be a float or have shape ({n},), got {fetch.shape}")
        if n == 0 or self.failed:
            return
        rec = np.empty((n, self._n_raw_cols), dtype="<f8")
        rec[:, :-1] = block.T
        rec[:, -1] = fetch
        self._n_samples += n
        self._submit("raw", (rec.tobytes(), n))

    def append_stream(
        self, name: str, block: np.ndarray, fetch_time: float | np.ndarray, eeg_index
    ) -> None:
        """Append a chunk of an extra stream (motion, PPG) at its own rate.

        Parameters
        ----------
        name : str
            The stream (a key of ``meta["streams"]``).
        block : array, shape (n_rows, n_samples)
            All rows of its preset.
        fetch_time : float | array, shape (n_samples,)
            Unix wall time at which nfb fetched the chunk (or one per sample).
        eeg_index : int | array, shape (n_samples,)
            EEG samples of the session received when the chunk was fetched.
        """
        self._check_open()
        n_cols = self._n_stream_cols.get(name)
        if n_cols is None:
            have = ", ".join(self._n_stream_cols) or "none"
            raise ValueError(f"no stream {name!r} in this session (it has: {have})")
        block = np.asarray(block)
        extra = len(STREAM_EXTRA_COLUMNS)
        if block.ndim != 2 or block.shape[0] != n_cols - extra:
            raise ValueError(
                f"{name} samples must have shape ({n_cols - extra}, n), got {block.shape}"
            )
        n = block.shape[1]
        if n == 0 or self.failed:
            return
        rec = np.empty((n, n_cols), dtype="<f8")
        rec[:, :-extra] = block.T
        rec[:, -2] = np.broadcast_to(np.asarray(fetch_time, dtype=np.float64), (n,))
        rec[:, -1] = np.broadcast_to(np.asarray(eeg_index, dtype=np.float64), (n,))
        self._n_stream_samples[name] += n
        self._submit(f"stream:{name}", (rec.tobytes(), n))

    def append_frames(self, rows: np.ndarray) -> None:
        """Append frames.

        Parameters
        ----------
        rows : array, shape (n_frames, n_frame_columns)
            One row per frame, columns as given to :meth:`create` (booleans as 0/1).
        """
        self._check_open()
        rows = np.asarray(rows, dtype="<f8")
        if rows.ndim == 1:
            rows = rows[np.newaxis]
        if rows.ndim != 2 or rows.shape[1] != self._n_frame_cols:
            raise ValueError(f"frames must have shape (n, {self._n_frame_cols}), got {rows.shape}")
        if rows.shape[0] == 0 or self.failed:
            return
        self._n_frames += rows.shape[0]
        self._submit("frames", (np.ascontiguousarray(rows).tobytes(), rows.shape[0]))

    def append_event(self, event: Mapping[str, Any]) -> None:
        """Append one event: a dict with ``sample_index`` (int), ``kind`` (str) and extra keys."""
        self._check_open()
        if not isinstance(event, Mapping):
            raise TypeError(f"event must be a dict, got {type(event).__name__}")
        idx = event.get("sample_index")
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)):
            raise ValueError(f"event sample_index must be an int, got {idx!r}")
        kind = event.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"event kind must be a non-empty str, got {kind!r}")
        if self.failed:
            return
        line = to_json({**event, "sample_index": int(idx)}) + "\n"
        self._submit("events", (line.encode("utf-8"), 1))

    def update_meta(self, **fields: Any) -> None:
        """Update ``session.json`` fields (``blocks``, ``baseline``, ``notes``, ``ratings``...).

        The new content is written atomically by the writer; recorder-owned keys are refused.
        """
        self._check_open()
        reserved = sorted(RESERVED_KEYS.intersection(fields))
        if reserved:
            raise ValueError(f"update_meta may not set {reserved}: the recorder owns them")
        copied = json.loads(to_json(fields))
        with self._meta_lock:
            self._meta.update(copied)
        if not self.failed:
            self._submit("meta", None)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything appended so far is written and fsynced.

        Parameters
        ----------
        timeout : float | None
            Give up after this many seconds (threaded mode); ``None`` waits as long as needed.

        Returns
        -------
        done : bool
            ``False`` if the timeout expired first.
        """
        if self._closed:
            return True
        if self._threaded:
            done = threading.Event()
            self._queue.put(("flush", done))
            return done.wait(timeout)
        self._sync()
        return True

    def close(self, status: str = "complete", *, end: datetime | None = None) -> None:
        """Finish the session: write pending data, set the final status, release the folder.

        Parameters
        ----------
        status : ``"complete"`` | ``"stopped"`` | ``"failed"``
            The final status; ``"failed"`` regardless if a disk error occurred.
        end : datetime | None
            End time stored in ``end_time``; ``None`` for now.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {FINAL_STATUSES}, got {status!r}")
        if self._closed:
            return
        self._closed = True
        end_unix = time.time() if end is None else _as_utc(end).timestamp()
        if self._threaded:
            self._queue.put(("stop", (status, end_unix)))
            assert self._thread is not None
            self._thread.join()
        else:
            self._finish(status, end_unix)
        _OPEN.discard(self)
        logger.info("Session %s closed: %s", self._path, self._meta["status"])
        seconds = self._n_samples / float(self._meta["layout"]["sfreq"])
        for name, n in self._n_stream_samples.items():
            if n == 0 and seconds >= EMPTY_STREAM_WARN_S:  # asked for, never sent
                logger.warning(
                    "the %s stream recorded no samples beside %.0f s of EEG: the board did "
                    "not send it (see its profile's streams and config)",
                    name,
                    seconds,
                )

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close("complete")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("stopped")
        else:
            self.close("failed")

    def __repr__(self) -> str:
        state = "failed" if self.failed else ("closed" if self._closed else "recording")
        return f"<SessionRecorder {self._path} | {state}, {self._n_samples} samples>"

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the recorder of {self._path} is closed")

    def _submit(self, key: str, payload: Any) -> None:
        if self._threaded:
            self._queue.put((key, payload))
            return
        self._handle(key, payload)
        if self.error is not None:
            raise self.error
        if time.monotonic() - self._last_sync >= self._sync_interval:
            self._sync()
            if self.error is not None:
                raise self.error

    def _run(self) -> None:
        """Writer thread: write queued payloads, fsync every ``sync_interval`` seconds."""
        while True:
            timeout = max(0.0, self._last_sync + self._sync_interval - time.monotonic())
            try:
                key, payload = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._sync()
                continue
            try:
                if key == "stop":
                    self._finish(*payload)
                    return
                if key == "flush":
                    self._sync()
                    payload.set()
                    continue
                self._handle(key, payload)
                if time.monotonic() - self._last_sync >= self._sync_interval:
                    self._sync()
            except Exception as err:  # pragma: no cover - a bug must not hang close()
                logger.exception("Recorder writer error")
                self._fail(err, self._path)
                if key == "flush":
                    payload.set()
                elif key == "stop":
                    return

    def _handle(self, key: str, payload: Any) -> None:
        if self.failed:
            return
        if key == "meta":
            self._write_meta()
            return
        data, count = payload
        try:
            fs.write_all(self._fds[key], data)
        except OSError as err:
            self._fail(err, self._path / self._files[key])
            return
        self._dirty.add(key)
        if key in self._written:
            self._written[key] += count

    def _sync(self) -> None:
        self._last_sync = time.monotonic()
        if self.failed:
            return
        for key in sorted(self._dirty):
            try:
                fs.sync(self._fds[key])
            except OSError as err:
                self._fail(err, self._path / self._files[key])
                return
        self._dirty.clear()

    def _write_meta(self) -> None:
        self._sync()  # data on disk first: session.json never claims more
        if self.failed:
            return
        with self._meta_lock:
            self._meta["n_samples"] = self._written["raw"]
            self._meta["n_frames"] = self._written["frames"]
            for name in self._n_stream_cols:
                self._meta["streams"][name]["n_samples"] = self._written[f"stream:{name}"]
            snapshot = json.loads(to_json(self._meta))
        try:
            write_json_atomic(self._path / META_FILE, snapshot)
        except OSError as err:
            self._fail(err, self._path / META_FILE)

    def _finish(self, status: str, end_unix: float) -> None:
        ok = not self.failed
        if ok:
            self._sync()
        if self.failed:
            status = "failed"
        with self._meta_lock:
            self._meta["status"] = status
            self._meta["end_unix"] = end_unix
            self._meta["end_time"] = utc_iso(end_unix)
        if ok and not self.failed:
            self._write_meta()
        else:
            self._write_failed_meta()
        self._release()

    def _release(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = {}
        if self._lock is not None:
            self._lock.release()
        with contextlib.suppress(OSError):
            (self._path / RESERVE_FILE).unlink(missing_ok=True)

    def _undo_start(self) -> None:
        """A start that failed (a full disk, a planted name): remove what it made, so no
        folder without a ``session.json`` is left behind; nothing was recorded yet."""
        made = [self._path / self._files[key] for key in self._fds]
        self._release()
        for file in made:
            with contextlib.suppress(OSError):
                os.unlink(file)
        for tmp in self._path.glob(f".{META_FILE}.*tmp"):
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _make_reserve(self) -> None:
        fd = fs.open_file(self._path / RESERVE_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            fs.preallocate(fd, RESERVE_BYTES)
        finally:
            os.close(fd)

    def _fail(self, err: BaseException, path: Path) -> None:
        """Record a disk error once: set ``error``/``failed``, mark session.json failed."""
        if self.failed:
            return
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        self.error = SessionError(f"cannot write {path}: {reason}")
        self.failed = True
        # not an ERROR line: the error is carried by .error, and whoever runs the session
        # (the CLI, the console) says it once, with the counts on disk
        logger.info("%s; recording stopped, data so far kept", self.error)
        with self._meta_lock:
            self._meta["status"] = "failed"
            self._meta["error"] = str(self.error)
        self._write_failed_meta()

    def _write_failed_meta(self) -> None:
        """Best effort: free the reserve, then write session.json with the on-disk counts."""
        with contextlib.suppress(OSError):
            (self._path / RESERVE_FILE).unlink(missing_ok=True)
        counts = {}
        sized = [("raw", self._n_raw_cols), ("frames", self._n_frame_cols)]
        sized += [(f"stream:{name}", n) for name, n in self._n_stream_cols.items()]
        for key, n_cols in sized:
            try:
                counts[key] = (self._path / self._files[key]).stat().st_size // (8 * n_cols)
            except OSError:  # pragma: no cover
                counts[key] = self._written[key]
        with self._meta_lock:
            self._meta["status"] = "failed"
            self._meta["n_samples"] = counts["raw"]
            self._meta["n_frames"] = counts["frames"]
            for name in self._n_stream_cols:
                self._meta["streams"][name]["n_samples"] = counts[f"stream:{name}"]
            snapshot = json.loads(to_json(self._meta))
        try:
            write_json_atomic(self._path / META_FILE, snapshot)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                logger.error("cannot write %s: %s", self._path / META_FILE, err.strerror)


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt
