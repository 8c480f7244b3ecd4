"""Read, list and recover session folders written by :class:`~nfb.session.recorder.SessionRecorder`.

Reading is tolerant of sessions still being recorded or killed mid-write: a partial trailing
record of ``raw.f64``/``frames.f64`` and a partial last line of ``events.jsonl`` are ignored.
A session whose ``session.json`` says ``"recording"`` while no recorder holds its lock is
reported as ``"interrupted"``; :func:`recover_session` finalises it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._logging import logger
from ..errors import SessionError
from .recorder import (
    BASE_FRAME_COLUMNS,
    FORMAT,
    FORMAT_VERSION,
    FRAME_KINDS,
    META_FILE,
    default_sessions_dir,
    utc_iso,
    validate_client,
    write_json_atomic,
)

if TYPE_CHECKING:  # pragma: no cover
    import mne


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check the ``session.json`` of a session folder.

    Raises :class:`SessionError` (one line) if the folder is missing, is not a session, or its
    ``session.json`` is corrupted or from a newer format.
    """
    path = Path(path)
    if not path.exists():
        raise SessionError(f"{path} does not exist")
    meta_file = path / META_FILE
    if not path.is_dir() or not meta_file.is_file():
        raise SessionError(f"{path} is not an nfb session folder (no {META_FILE})")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SessionError(f"{meta_file} is corrupted: {_one_line(err)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SessionError(f"{meta_file} is not an nfb session file (format is not {FORMAT!r})")
    fv = meta.get("format_version")
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise SessionError(
            f"{meta_file}: format_version {fv!r} is not supported (this nfb reads "
            f"1..{FORMAT_VERSION}); upgrade nfb"
        )
    for keys in (("raw", "columns"), ("frames", "columns"), ("layout", "sfreq")):
        node: Any = meta
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise SessionError(f"{meta_file} is corrupted: no {'.'.join(keys)}")
            node = node[key]
    sfreq = meta["layout"]["sfreq"]
    if not _is_num(sfreq) or not 0 < sfreq < 1e9:
        raise SessionError(f"{meta_file} is corrupted: layout.sfreq is {sfreq!r}, not > 0")
    problem = _meta_problem(meta)
    if problem:
        raise SessionError(f"{meta_file} is corrupted: {problem}")
    return meta


#: The statuses a ``session.json`` may hold (``interrupted`` is derived, never stored).
STATUSES = ("recording", "complete", "stopped", "failed", "recovered")


#: Types of the record fields that readers, reports and replays rely on (when present).
_FIELD_TYPES: dict[str, type] = {
    "client": str,
    "session_id": str,
    "start_time": str,
    "protocol_slug": str,
    "notes": str,
    "device": dict,
    "protocol": dict,
    "channel_map": dict,
    "baseline": dict,
    "ratings": dict,
    "source": dict,
    "blinding": dict,
    "blocks": list,
    "thresholds": list,
}
_KIND_NAMES = {str: "a text", dict: "an object", list: "a list"}
#: Summary fields that may be null (no value yet): every reader takes null for empty.
_NULLABLE = (
    "notes",
    "ratings",
    "baseline",
    "blinding",
    "source",
    "channel_map",
    "blocks",
    "thresholds",
)
#: Block summary fields: samples (int >= 0), rates (0..1) and means (numbers); None allowed.
_BLOCK_SAMPLES = ("start_sample", "end_sample", "n_frames")
_BLOCK_RATES = ("reward_rate", "inhibited_rate", "own_reward_rate", "own_inhibited_rate")
_BLOCK_MEANS = ("mean_value", "own_mean_value")


def _record_problem(meta: dict[str, Any]) -> str | None:
    """Problems in the summary fields a report or a replay reads (device, blocks...)."""
    mains = meta.get("device", {}).get("mains_hz")  # device: a dict (checked before)
    if mains is not None and not (_is_num(mains) and mains in (50, 60)):
        return f"device.mains_hz is {mains!r:.40}, not 50 or 60"
    cmap = meta.get("channel_map") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in cmap.items()):
        return "channel_map must map labels to labels"
    for i, block in enumerate(meta.get("blocks") or []):
        if not isinstance(block, dict):
            return f"blocks[{i}] must be an object"
        index = block.get("index")
        if index is not None and not (_is_int(index) and index >= 1):
            return f"blocks[{i}].index is {index!r:.40}, not a block number"
        for key in _BLOCK_SAMPLES:
            v = block.get(key)
            if v is not None and not (_is_int(v) and 0 <= v < 2**53):
                return f"blocks[{i}].{key} is {v!r:.40}, not a count >= 0"
        for key in _BLOCK_RATES:
            v = block.get(key)
            if v is not None and not (_is_num(v) and 0 <= v <= 1):
                return f"blocks[{i}].{key} is {v!r:.40}, not a fraction"
        for key in _BLOCK_MEANS:
            v = block.get(key)
            if v is not None and not (_is_num(v) and abs(v) < 1e15):
                return f"blocks[{i}].{key} is {v!r:.40}, not a number"
    for key in ("anxiety_before", "anxiety_after"):
        v = (meta.get("ratings") or {}).get(key)
        if v is not None and not (_is_num(v) and abs(v) < 1e15):
            return f"ratings.{key} is {v!r:.40}, not a number"
    for key, low in (("frame_rate", 0), ("dropped_samples", -1)):
        v = meta.get(key)
        # a garbage package counter can claim billions of dropped samples: still readable
        if v is not None and not (_is_num(v) and low < v < 2**53):
            return f"{key} is {v!r:.40}, out of range"
    return None


def _is_num(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond any float
        return False


def _is_unix(v: Any) -> bool:
    """A unix time that dates can show: from 1970 to the end of year 9999."""
    return _is_num(v) and 0 <= v < 253402300800


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the parts of ``session.json`` the readers rely on (None: nothing).

    A hand edit or a buggy tool must give a clear error here, not a TypeError deep inside
    a reader, an export or a replay.
    """
    raw_cols = meta["raw"]["columns"]
    if (
        not isinstance(raw_cols, list)
        or len(raw_cols) < 2
        or not all(isinstance(c, str) and c for c in raw_cols)
        or len(set(raw_cols)) != len(raw_cols)
    ):
        return "raw.columns must be a list of distinct names (board rows, then fetch_time)"
    frame_cols = meta["frames"]["columns"]
    if (
        not isinstance(frame_cols, list)
        or not all(
            isinstance(c, list)
            and len(c) == 2
            and isinstance(c[0], str)
            and c[0]
            and str(c[1]) in FRAME_KINDS
            for c in frame_cols
        )
        or len({c[0] for c in frame_cols}) != len(frame_cols)
    ):
        return f"frames.columns must be distinct [name, kind] pairs, kinds {', '.join(FRAME_KINDS)}"
    kinds = {c[0]: c[1] for c in frame_cols}
    for name, kind in BASE_FRAME_COLUMNS:
        if kinds.get(name) != kind:
            return f"frames.columns lacks [{name!r}, {kind!r}]"
    for key in ("raw", "frames", "events"):
        node = meta.get(key, {})
        if not isinstance(node, dict):
            return f"{key} must be an object"
        name = node.get("file", "x")
        # a data file is a plain name inside the folder: never a path out of it
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
            return f"{key}.file must be a file name inside the session folder, got {name!r}"
    layout = meta["layout"]
    n_rows = layout.get("n_rows", len(raw_cols) - 1)
    if not _is_int(n_rows) or n_rows != len(raw_cols) - 1:
        return f"layout.n_rows is {n_rows!r} but raw.columns has {len(raw_cols) - 1} board rows"
    rows, names = layout.get("eeg_rows", []), layout.get("ch_names", [])
    if (
        not isinstance(rows, list)
        or not all(_is_int(r) and 0 <= r < n_rows for r in rows)
        or not isinstance(names, list)
        or not all(isinstance(c, str) for c in names)
        or len(rows) != len(names)
    ):
        return "layout.eeg_rows and layout.ch_names must be lists of rows and labels, as long"
    for key in ("counter_row", "timestamp_row", "marker_row"):
        row = layout.get(key)
        if row is not None and not (_is_int(row) and 0 <= row < n_rows):
            return f"layout.{key} is {row!r}, not a row of the board"
    for key in ("counter_modulo", "counter_step", "counter_repeat"):
        value = layout.get(key)
        if value is not None and not (_is_int(value) and value > 0):
            return f"layout.{key} is {value!r}, not an integer > 0"
    rail = layout.get("rail_uv")
    if rail is not None and not (_is_num(rail) and rail > 0):
        return f"layout.rail_uv is {rail!r}, not a number > 0"
    for key, kind in _FIELD_TYPES.items():
        if key in _NULLABLE and meta.get(key) is None:
            continue
        if key in meta and not isinstance(meta[key], kind):
            return f"{key} must be {_KIND_NAMES[kind]}, got {meta[key]!r:.40}"
    problem = _record_problem(meta)
    if problem:
        return problem
    if meta.get("status", "recording") not in STATUSES:
        return f"status is {meta['status']!r}, not one of {', '.join(STATUSES)}"
    for key in ("start_unix", "end_unix"):
        value = meta.get(key)
        if value is not None and not _is_unix(value):
            return f"{key} is {value!r}, not a unix time"
    return None


def is_live(path: str | os.PathLike) -> bool:
    """Return whether a recorder currently holds the session at ``path`` (its ``raw.f64`` lock)."""
    raw_file = Path(path) / "raw.f64"
    try:
        fd = os.open(raw_file, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # pragma: no cover - filesystems without flock
        return False
    finally:
        os.close(fd)  # also drops our shared lock
    return False


def _status(path: Path, meta: dict[str, Any]) -> str:
    status = meta.get("status", "recording")
    if status == "recording" and not is_live(path):
        return "interrupted"
    return status


def _data_file(path: Path, meta: dict[str, Any], key: str, default: str) -> Path:
    return path / str(meta.get(key, {}).get("file", default))


def _n_records(file: Path, n_cols: int) -> int:
    try:
        return file.stat().st_size // (8 * n_cols)
    except FileNotFoundError:
        return 0


def _read_records(file: Path, n_cols: int) -> np.ndarray:
    """Read whole float64 records of ``n_cols`` values; a partial trailing record is ignored."""
    if not file.exists():
        return np.empty((0, n_cols))
    n = _n_records(file, n_cols)
    with open(file, "rb") as fid:
        data = np.fromfile(fid, dtype="<f8", count=n * n_cols)
    n = data.size // n_cols  # the file may have shrunk meanwhile (never does, but be safe)
    return data[: n * n_cols].reshape(n, n_cols).astype(np.float64, copy=False)


def _read_events(file: Path) -> list[dict[str, Any]]:
    if not file.exists():
        return []
    data = file.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1]:
        lines = lines[:-1]  # partial last line of a killed writer
    events = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            logger.warning("%s line %d skipped: %s", file, i, _one_line(err))
            continue
        idx = event.get("sample_index") if isinstance(event, dict) else None
        if not _is_int(idx) or not 0 <= idx < 2**53 or not isinstance(event.get("kind"), str):
            # every consumer orders events by sample index: one without it is damage
            logger.warning("%s line %d skipped: no sample_index/kind", file, i)
            continue
        problem = _event_problem(event)
        if problem:
            logger.warning("%s line %d skipped: %s", file, i, problem)
            continue
        events.append(event)
    return events


def _event_problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the fields readers use (annotations, reports), or None."""
    count = event.get("count")
    if count is not None and not (_is_int(count) and 0 <= count < 2**53):
        return f"count is {count!r:.40}, not a sample count"
    for key, low in (("onset_s", -1e9), ("duration_s", 0)):
        v = event.get(key)
        if v is not None and not (_is_num(v) and low <= v < 1e9):
            return f"{key} is {v!r:.40}, not seconds"
    if event["kind"] == "annotation" and not isinstance(event.get("description"), str):
        return "an annotation without a text description"
    step = event.get("step")
    if step is not None and not _is_int(step):
        return f"step is {step!r:.40}, not a step number"
    return None


def frames_dtype(columns: list[list[str]]) -> np.dtype:
    """Return the structured dtype of frames with the given ``[name, kind]`` columns."""
    return np.dtype([(str(name), FRAME_KINDS[kind]) for name, kind in columns])


class RecordedSession:
    """A session folder read back.

    Frames, events and metadata are read at once; the raw samples on first access of
    :attr:`samples`, :attr:`fetch_time` or :attr:`raw`.

    Attributes
    ----------
    path : Path
        The session folder.
    meta : dict
        The content of ``session.json``; ``meta["status"]`` is ``"interrupted"`` if it says
        ``"recording"`` but no recorder is running.
    frames : structured array, shape (n_frames,)
        One record per frame, fields as in ``meta["frames"]["columns"]`` with dtypes int64,
        float64 or bool.
    events : list of dict
        The events, in file order.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.meta: dict[str, Any] = load_meta(self.path)
        self.meta["status"] = _status(self.path, self.meta)
        columns = self.meta["frames"]["columns"]
        try:
            dtype = frames_dtype(columns)
        except (KeyError, TypeError, ValueError):
            raise SessionError(
                f"{self.path / META_FILE} is corrupted: bad frames.columns"
            ) from None
        records = _read_records(
            _data_file(self.path, self.meta, "frames", "frames.f64"), len(columns)
        )
        frames = np.empty(records.shape[0], dtype=dtype)
        for j, (name, kind) in enumerate(columns):
            col = records[:, j]
            if kind == "?":
                frames[name] = col != 0
            elif kind == "i8":
                # clipped: a damaged record must not wrap around to a garbage index
                frames[name] = np.clip(np.nan_to_num(col), -(2**62), 2**62).astype(np.int64)
            else:
                frames[name] = col
        self.frames: np.ndarray = frames
        self.events: list[dict[str, Any]] = _read_events(
            _data_file(self.path, self.meta, "events", "events.jsonl")
        )

    # ------------------------------------------------------------------ metadata
    @property
    def status(self) -> str:
        """``recording``, ``complete``, ``stopped``, ``failed``, ``interrupted``, ``recovered``."""
        return self.meta["status"]

    @property
    def layout(self) -> dict[str, Any]:
        """The board layout dict."""
        return self.meta["layout"]

    @property
    def sfreq(self) -> float:
        """The sampling frequency in Hz."""
        return float(self.meta["layout"]["sfreq"])

    @property
    def ch_names(self) -> list[str]:
        """The EEG channel labels (10-20), in the order of ``layout["eeg_rows"]``."""
        return [str(c) for c in self.meta["layout"].get("ch_names", [])]

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.frames.shape[0]

    @property
    def n_samples(self) -> int:
        """Number of whole samples in ``raw.f64``."""
        if "_raw_records" in self.__dict__:
            return self._raw_records.shape[0]
        return _n_records(self._raw_file, len(self.meta["raw"]["columns"]))

    # ------------------------------------------------------------------ samples
    @property
    def _raw_file(self) -> Path:
        return _data_file(self.path, self.meta, "raw", "raw.f64")

    @cached_property
    def _raw_records(self) -> np.ndarray:
        return _read_records(self._raw_file, len(self.meta["raw"]["columns"]))

    @property
    def samples(self) -> np.ndarray:
        """All board rows, float64, shape (n_rows, n_samples), in the board's row order."""
        return self._raw_records[:, :-1].T

    @property
    def fetch_time(self) -> np.ndarray:
        """Unix wall time at which each sample's chunk was fetched, shape (n_samples,)."""
        return self._raw_records[:, -1]

    # ------------------------------------------------------------------ MNE
    def annotation_list(self) -> list[tuple[float, float, str]]:
        """Return the annotations as ``(onset_s, duration_s, description)`` tuples.

        See :func:`session_annotations`.
        """
        return session_annotations(self.events, self.frames, self.sfreq, self.n_samples)

    @cached_property
    def annotations(self) -> mne.Annotations:
        """The session's :class:`mne.Annotations` (onsets from the first sample)."""
        import mne

        items = self.annotation_list()
        return mne.Annotations(
            onset=[a[0] for a in items],
            duration=[a[1] for a in items],
            description=[a[2] for a in items],
        )

    @cached_property
    def raw(self) -> mne.io.RawArray:
        """The EEG rows as :class:`mne.io.RawArray` in volts, with montage and annotations."""
        import mne

        layout = self.layout
        rows = [int(r) for r in layout.get("eeg_rows", [])]
        names = self.ch_names
        if not rows or len(rows) != len(names):
            raise SessionError(
                f"{self.path / META_FILE}: layout has no EEG rows with matching ch_names"
            )
        if self.n_samples == 0:
            raise SessionError(f"{self.path} has no samples")
        data = self.samples[rows] * 1e-6  # µV -> V
        info = mne.create_info(names, self.sfreq, "eeg", verbose=False)
        info["description"] = f"nfb session {self.meta.get('client')}/{self.meta.get('session_id')}"
        raw = mne.io.RawArray(data, info, verbose=False)
        montage = mne.channels.make_standard_montage(_montage_name())
        raw.set_montage(montage, match_case=False, on_missing="ignore", verbose=False)
        start_unix = self.meta.get("start_unix")
        if start_unix is not None:
            raw.set_meas_date(datetime.fromtimestamp(float(start_unix), timezone.utc))
        raw.set_annotations(self.annotations, verbose=False)
        return raw

    def __repr__(self) -> str:
        return (
            f"<RecordedSession {self.meta.get('client')}/{self.meta.get('session_id')} | "
            f"{self.status}, {self.n_samples} samples, {self.n_frames} frames, "
            f"{len(self.events)} events>"
        )


def _montage_name() -> str:
    # MNE 1.13 renamed "standard_1020" (deprecated, removed in 1.14) to "colin27_1020"
    import mne

    builtin = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in builtin else "standard_1020"


def _step_description(event: dict[str, Any], counters: dict[str, int]) -> str:
    name = str(event.get("name") or "step")
    if name.startswith("baseline_"):
        return "baseline/" + name[len("baseline_") :]
    if name == "baseline":
        return name
    block = event.get("block")
    if block is not None:
        return f"{name}/{block}"
    counters[name] += 1
    return f"{name}/{counters[name]}"


def session_annotations(
    events: list[dict[str, Any]], frames: np.ndarray, sfreq: float, n_samples: int
) -> list[tuple[float, float, str]]:
    """Derive annotations from a session's events and frames.

    Parameters
    ----------
    events : list of dict
        The session events.
    frames : structured array
        The frames (``sample_index`` and ``inhibit_<kind>`` fields are used).
    sfreq : float
        Sampling frequency.
    n_samples : int
        Number of samples; open intervals end at the last sample.

    Returns
    -------
    annotations : list of (float, float, str)
        ``(onset_s, duration_s, description)`` sorted by onset, with descriptions:
        ``baseline/eyes_open``, ``baseline/eyes_closed``, ``block/<n>``, ``rest/<n>`` (a step,
        from its ``step_start`` to its ``step_end``); ``marker/<label>``; ``pause`` (pause to
        resume); ``BAD_disconnect`` (disconnected to reconnected); ``BAD_dropped`` (``count``
        samples from the event); an ``annotation`` event's own description; and
        ``inhibit/<kind>`` (a run of frames with ``inhibit_<kind>`` true, to the last one plus
        one frame interval).
    """
    end_s = n_samples / sfreq
    out: list[tuple[float, float, str]] = []

    def add(onset: float, stop: float, description: str) -> None:
        onset = min(max(float(onset), 0.0), end_s)
        stop = min(max(float(stop), onset), end_s)
        out.append((onset, stop - onset, description))

    def t(event: dict[str, Any]) -> float:
        return int(event["sample_index"]) / sfreq

    counters: dict[str, int] = defaultdict(int)
    open_steps: dict[Any, tuple[float, str]] = {}
    open_intervals: dict[str, float] = {}
    closers = {"resume": ("pause", "pause"), "reconnected": ("disconnected", "BAD_disconnect")}
    openers = {"pause": "pause", "disconnected": "BAD_disconnect"}
    for event in events:
        kind = event.get("kind")
        if "sample_index" not in event:
            continue
        if kind == "step_start":
            open_steps[event.get("step")] = (t(event), _step_description(event, counters))
        elif kind == "step_end":
            started = open_steps.pop(event.get("step"), None)
            if started is not None:
                add(started[0], t(event), started[1])
        elif kind == "marker":
            add(t(event), t(event), f"marker/{event.get('label', '')}")
        elif kind in openers:
            open_intervals.setdefault(openers[kind], t(event))
        elif kind in closers:
            desc = closers[kind][1]
            if desc in open_intervals:
                add(open_intervals.pop(desc), t(event), desc)
        elif kind == "dropped":
            count = int(event.get("count", 0) or 0)
            add(t(event), t(event) + count / sfreq, "BAD_dropped")
        elif kind == "annotation":
            onset = float(event.get("onset_s", t(event)))
            add(onset, onset + float(event.get("duration_s", 0.0)), str(event["description"]))
    for onset, desc in open_steps.values():
        add(onset, end_s, desc)
    for desc, onset in open_intervals.items():
        add(onset, end_s, desc)

    names = frames.dtype.names or ()
    if frames.shape[0] and "sample_index" in names:
        index = frames["sample_index"]
        interval = int(np.median(np.diff(index))) if index.size > 1 else 1
        for name in names:
            if not name.startswith("inhibit_"):
                continue
            mask = frames[name].astype(bool)
            edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
            starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
            for first, last in zip(starts.tolist(), stops.tolist(), strict=True):
                add(
                    int(index[first]) / sfreq,
                    (int(index[last]) + interval) / sfreq,
                    f"inhibit/{name[len('inhibit_') :]}",
                )
    out.sort(key=lambda a: (a[0], a[2]))
    return out


def read_session(path: str | os.PathLike) -> RecordedSession:
    """Read a session folder.

    Parameters
    ----------
    path : path-like
        The session folder ``<sessions_dir>/<client>/<session_id>``.

    Returns
    -------
    session : RecordedSession
        ``.meta``, ``.frames``, ``.events`` at once; ``.samples``, ``.fetch_time`` and
        ``.raw`` (an :class:`mne.io.RawArray` in volts with annotations) when first used.
    """
    return RecordedSession(path)


def list_sessions(
    sessions_dir: str | os.PathLike | None = None, client: str | None = None
) -> list[dict[str, Any]]:
    """List the sessions of a session store.

    Parameters
    ----------
    sessions_dir : path-like | None
        The store; ``None`` for ``$NFB_SESSIONS_DIR``, else ``./sessions``.
    client : str | None
        Only this client's sessions: its id, or its name as the store's index knows it.

    Returns
    -------
    sessions : list of dict
        Sorted by start time; each with ``path``, ``client``, ``session_id``, ``protocol``,
        ``start_time``, ``status`` and ``duration_s``. Folders that are not sessions are
        skipped; corrupted ones are skipped with a warning.
    """
    root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
    if client is not None:
        from .clients import ClientIndex

        # a client's name (as the index knows it) or id
        known = ClientIndex(root).find(str(client)) if root.is_dir() else None
        client_dirs = [root / (known or validate_client(client))]
    else:
        client_dirs = _subfolders(root) if root.is_dir() else []
    out = []
    for folder in _session_folders(client_dirs):
        try:
            meta = load_meta(folder)
        except SessionError as err:
            logger.warning("Skipping %s", err)
            continue
        n = _n_records(_data_file(folder, meta, "raw", "raw.f64"), len(meta["raw"]["columns"]))
        protocol = meta.get("protocol")
        out.append(
            {
                "path": folder,
                "client": meta.get("client", folder.parent.name),
                "session_id": meta.get("session_id", folder.name),
                "protocol": protocol.get("name") if isinstance(protocol, dict) else None,
                "start_time": meta.get("start_time"),
                "status": _status(folder, meta),
                "duration_s": n / float(meta["layout"]["sfreq"]),
            }
        )
    out.sort(key=lambda s: (str(s["start_time"]), s["client"], s["session_id"]))
    return out


def recover_session(path: str | os.PathLike) -> str:
    """Finalise an interrupted session (its recorder was killed or crashed).

    Trailing partial records of ``raw.f64``/``frames.f64`` and a partial last line of
    ``events.jsonl`` are truncated, ``n_samples``/``n_frames`` and ``end_time`` (the last fetch
    time) are set, and the status becomes ``"recovered"``. A session that is not interrupted
    is left alone.

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
    raw_file = _data_file(path, meta, "raw", "raw.f64")
    try:
        lock_fd = os.open(raw_file, os.O_RDWR)
    except OSError as err:
        raise SessionError(f"cannot recover {path}: {raw_file.name}: {err.strerror}") from None
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SessionError(f"{path} is still being recorded; stop its recorder first") from None
        # another recoverer may have finished while we waited for the lock: read it again
        meta = load_meta(path)
        if meta.get("status", "recording") != "recording":
            return meta["status"]
        try:
            counts = {}
            for key, n_cols in (
                ("raw", len(meta["raw"]["columns"])),
                ("frames", len(meta["frames"]["columns"])),
            ):
                file = _data_file(path, meta, key, f"{key}.f64")
                n = _n_records(file, n_cols)
                if file.exists() and file.stat().st_size != n * n_cols * 8:
                    os.truncate(file, n * n_cols * 8)
                counts[key] = n
            events_file = _data_file(path, meta, "events", "events.jsonl")
            if events_file.exists():
                data = events_file.read_bytes()
                keep = data.rfind(b"\n") + 1
                if keep != len(data):
                    os.truncate(events_file, keep)
            last_fetch = None
            if counts["raw"]:
                n_cols = len(meta["raw"]["columns"])
                with open(raw_file, "rb") as fid:
                    fid.seek((counts["raw"] * n_cols - 1) * 8)
                    last_fetch = float(np.frombuffer(fid.read(8), "<f8")[0])
            if not _is_unix(last_fetch):  # a replayed file has no fetch times (NaN)
                last_fetch = None
            end_unix = last_fetch if last_fetch is not None else meta.get("start_unix")
            (path / ".reserve").unlink(missing_ok=True)  # the dead recorder's disk reserve
            for tmp in path.glob(f".{META_FILE}.*tmp"):  # the dead writer's, killed mid-replace
                tmp.unlink(missing_ok=True)
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
            raise SessionError(f"cannot recover {path}: {_one_line(err)}") from None
    finally:
        os.close(lock_fd)
    logger.info("Recovered %s: %d samples, %d frames", path, counts["raw"], counts["frames"])
    return "recovered"


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


def _session_folders(client_dirs: list[Path]) -> list[Path]:
    """The folders holding a ``session.json`` in these client folders (missing ones: none)."""
    return [
        folder
        for client_dir in client_dirs
        if client_dir.is_dir()
        for folder in _subfolders(client_dir)
        if (folder / META_FILE).is_file()
    ]


def _subfolders(folder: Path) -> list[Path]:
    """The real (not symlinked) subfolders of ``folder``, sorted; one that cannot be listed
    (``lost+found`` at the root of a store's own disk) is skipped with a warning."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        logger.warning("skipping %s: %s", folder, err.strerror or err)
        return []
    out = []
    for entry in entries:
        try:
            if entry.is_dir() and not entry.is_symlink():
                out.append(entry)
        except OSError:
            continue
    return out


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
            _n_records(_data_file(path, meta, key, f"{key}.f64"), len(meta[key]["columns"]))
            for key in ("raw", "frames")
        )
    except SessionError as err:
        return Recovery(path, "error", error=_one_line(err))
    except Exception as err:  # a start must never fail on one damaged session of the store
        logger.debug("recovering %s", path, exc_info=True)
        return Recovery(path, "error", error=f"{path}: {type(err).__name__}: {_one_line(err)}")
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
        The store; ``None`` for ``$NFB_SESSIONS_DIR``, else ``./sessions``. A store that does
        not exist has nothing to recover.
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
    out = []
    for path in _session_folders(_subfolders(root) if root.is_dir() else []):
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
            logger.warning("cannot recover interrupted session %s: %s", path, result.error)
        out.append(result)
    return out


#: ``session.json`` fields a user may change after the session (the rest is the record).
EDITABLE_FIELDS = ("notes", "ratings")


def update_session_meta(path: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Set notes or self-ratings of a finished session (``session.json`` is rewritten atomically).

    Raises
    ------
    SessionError
        If the session is still being recorded (use the recorder) or a field is not editable.
    """
    from .recorder import write_json_atomic

    path = Path(path)
    bad = sorted(set(fields) - set(EDITABLE_FIELDS))
    if bad:
        raise SessionError(f"{bad[0]} cannot be changed; editable: {', '.join(EDITABLE_FIELDS)}")
    if is_live(path):
        raise SessionError(f"{path} is still being recorded")
    meta = load_meta(path)
    meta.update(fields)
    write_json_atomic(path / META_FILE, meta)
    return meta
