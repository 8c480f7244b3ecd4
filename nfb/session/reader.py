"""Read a session folder back: :func:`read_session` and :class:`RecordedSession`.

Reading is tolerant of sessions still being recorded or killed mid-write: a partial trailing
record of ``raw.f64``/``frames.f64`` and a partial last line of ``events.jsonl`` are ignored.
Every file is read through :mod:`nfb.fs`: a link, a FIFO, a device or a folder where a data
file should be is refused with one line (:class:`~nfb.errors.SessionError`), never followed,
and nothing is read past what the file held when it was opened.

:attr:`RecordedSession.samples` are the samples as received; :attr:`RecordedSession.raw` is
the session on its timeline: each gap record's missing samples are inserted (zeros, see
:func:`~nfb.session.format.insert_gaps`) under its ``BAD_disconnect`` or ``BAD_dropped``
annotation, so that every annotation after a gap is at its real time.

Extra streams (a Muse's motion at 52 Hz and PPG at 64 Hz; :attr:`RecordedSession.streams`)
are read at their own rate, each with its own sample index, board timestamps, fetch times and
``eeg_index``. In :attr:`RecordedSession.raw` their signal rows are ``misc`` channels named
by their labels (``accel_x``, ``gyro_z``, ``ppg_1``; ``<stream>_<label>`` where two streams
share a label), in their own units (g,
deg/s, ADC counts), resampled onto the EEG sample grid by **linear interpolation on the
board's timestamps** (BrainFlow stamps every preset on one clock): each EEG sample gets the
stream's value at its own timestamp, the stream's first (last) value before (after) the
stream's first (last) sample. A session without timestamps uses ``eeg_index`` instead: each
EEG sample holds the newest stream sample received by then. Interpolation neither adds nor
removes content below the slower rate's Nyquist frequency (26 Hz for 52 Hz motion), which is
all such a stream has; :meth:`RecordedSession.stream_raw` gives a stream at its own rate,
untouched.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import fs
from .._logging import logger
from ..errors import SessionError, one_line
from .annotations import session_annotations
from .format import (
    EVENTS_FILE,
    FRAMES_FILE,
    META_FILE,
    RAW_FILE,
    STREAM_EXTRA_COLUMNS,
    Gap,
    frames_dtype,
    insert_gaps,
    session_gaps,
)
from .schema import event_problem, is_int, load_meta, stream_problem

if TYPE_CHECKING:  # pragma: no cover
    import mne

_DEFAULT_FILES = {"raw": RAW_FILE, "frames": FRAMES_FILE, "events": EVENTS_FILE}


def is_live(path: str | os.PathLike) -> bool:
    """Return whether a recorder currently holds the session at ``path`` (its ``raw.f64`` lock)."""
    return fs.is_locked(Path(path) / RAW_FILE)


def session_status(path: Path, meta: dict[str, Any]) -> str:
    """``meta``'s status, ``"interrupted"`` for a ``"recording"`` no recorder holds."""
    status = meta.get("status", "recording")
    if status == "recording" and not is_live(path):
        return "interrupted"
    return status


def data_file(path: Path, meta: dict[str, Any], key: str) -> Path:
    """The ``raw``, ``frames`` or ``events`` file of a session (a name checked by the schema)."""
    return path / str(meta.get(key, {}).get("file", _DEFAULT_FILES[key]))


def n_records(file: Path, n_cols: int) -> int:
    """Whole records of ``n_cols`` float64 values in ``file`` (0 if it does not exist).

    Raises :class:`SessionError` if ``file`` is a link, a FIFO or a folder.
    """
    try:
        return fs.size(file) // (8 * n_cols)
    except OSError as err:
        raise SessionError(f"{file} is refused: {err.strerror or err}") from None


def read_records(file: Path, n_cols: int, max_records: int | None = None) -> np.ndarray:
    """Read whole float64 records of ``n_cols`` values; a partial trailing record is ignored,
    and so is what lies beyond the first ``max_records`` (None: no limit)."""
    try:
        with fs.opened(file) as fd:
            n = os.fstat(fd).st_size // (8 * n_cols)
            if max_records is not None:
                n = min(n, max_records)
            data = fs.read_fd(fd, n * n_cols * 8, file, cap=False)  # what it held at open
    except FileNotFoundError:
        return np.empty((0, n_cols))
    except OSError as err:
        raise SessionError(f"{file} is refused: {err.strerror or err}") from None
    n = len(data) // (8 * n_cols)  # it may have shrunk meanwhile (never does, but be safe)
    out = np.frombuffer(data, dtype="<f8", count=n * n_cols).reshape(n, n_cols)
    return out.astype(np.float64)  # a writable copy in native order


def read_events(file: Path) -> list[dict[str, Any]]:
    """The events of ``events.jsonl``; damaged lines are skipped with one warning each."""
    try:
        data = fs.read_bytes(file, fs.MAX_EVENTS_BYTES)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise SessionError(f"{file} is refused: {err.strerror or err}") from None
    lines = data.split(b"\n")
    if lines and lines[-1]:
        lines = lines[:-1]  # partial last line of a killed writer
    # one depth scan of the whole file; lines are scanned alone only if it is deep somewhere
    deep = fs.json_depth(data) > fs.MAX_JSON_DEPTH
    events = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = fs.loads_json(line, file) if deep else json.loads(line)
        except (OSError, ValueError) as err:  # TooDeep, UnicodeDecodeError, JSONDecodeError
            reason = err.strerror if isinstance(err, OSError) else one_line(err)
            logger.warning("%s line %d skipped: %s", file, i, reason)
            continue
        idx = event.get("sample_index") if isinstance(event, dict) else None
        if not is_int(idx) or not 0 <= idx < 2**53 or not isinstance(event.get("kind"), str):
            # every consumer orders events by sample index: one without it is damage
            logger.warning("%s line %d skipped: no sample_index/kind", file, i)
            continue
        problem = event_problem(event)
        if problem:
            logger.warning("%s line %d skipped: %s", file, i, problem)
            continue
        events.append(event)
    return events


class RecordedStream:
    """One extra stream of a session (motion, PPG), at its own rate.

    Attributes
    ----------
    name : str
        ``"auxiliary"`` or ``"ancillary"``.
    layout : dict
        Its :class:`~nfb.sources.StreamLayout` as recorded (``sfreq``, ``rows``, ``labels``,
        ``kinds``, ``timestamp_row``, ...).
    samples : array, shape (n_rows, n)
        All rows of the preset, in row order; column ``i`` is the stream's sample ``i``.
    fetch_time : array, shape (n,)
        Unix wall time each sample's chunk was fetched.
    eeg_index : array of int, shape (n,)
        The session's EEG samples received when each was fetched.
    """

    def __init__(self, name: str, layout: dict[str, Any], records: np.ndarray) -> None:
        extra = len(STREAM_EXTRA_COLUMNS)
        self.name = name
        self.layout = layout
        self.samples = records[:, :-extra].T
        self.fetch_time = records[:, -2]
        self.eeg_index = np.clip(np.nan_to_num(records[:, -1]), 0, 2**62).astype(np.int64)

    @property
    def sfreq(self) -> float:
        """Its sampling rate in Hz."""
        return float(self.layout["sfreq"])

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def labels(self) -> list[str]:
        """Names of its signal rows (``accel_x``, ``ppg_0``, ...)."""
        return [str(c) for c in self.layout["labels"]]

    @property
    def signals(self) -> np.ndarray:
        """Its signal rows, ``(len(labels), n)``."""
        return self.samples[[int(r) for r in self.layout["rows"]]]

    @property
    def timestamps(self) -> np.ndarray | None:
        """The board's timestamp of each sample (s since the epoch), None without."""
        row = self.layout.get("timestamp_row")
        return None if row is None else self.samples[int(row)]

    def __repr__(self) -> str:
        return f"<RecordedStream {self.name} | {self.n_samples} samples at {self.sfreq:g} Hz>"


def on_eeg_grid(
    stream: RecordedStream, n_eeg: int, eeg_timestamps: np.ndarray | None
) -> np.ndarray:
    """A stream's signal rows resampled onto the EEG samples (see the module docstring).

    Returns ``(len(stream.labels), n_eeg)`` float64.
    """
    values = stream.signals
    out = np.zeros((values.shape[0], n_eeg))
    if stream.n_samples == 0 or n_eeg == 0:
        return out
    # a damaged record's NaN, inf or beyond-float32 value (FIF stores float32, EDF needs
    # finite numbers) is no value: the grid takes its row's valid neighbours instead
    valid = np.isfinite(values) & (np.abs(values) <= np.finfo(np.float32).max)
    if not valid.all():
        logger.warning(
            "the %s stream has %d damaged values (NaN, inf or beyond float32): its valid "
            "neighbours stand in for them",
            stream.name,
            int(valid.size - valid.sum()),
        )
        values = _fill_invalid(values, valid)
    ts = stream.timestamps
    usable = (
        ts is not None
        and eeg_timestamps is not None
        and np.isfinite(ts).all()
        and np.isfinite(eeg_timestamps).all()
        and (ts > 0).all()
        and (eeg_timestamps > 0).all()
        and (np.diff(ts) >= 0).all()
    )
    if usable:
        for i, row in enumerate(values):
            out[i] = np.interp(eeg_timestamps, ts, row)
        return out
    # no common clock: EEG sample j holds the newest stream sample received by then (a
    # damaged eeg_index that goes back is taken as its running maximum: sorted)
    received = np.maximum.accumulate(stream.eeg_index)
    newest = np.searchsorted(received, np.arange(n_eeg), side="right") - 1
    return values[:, np.clip(newest, 0, None)]


def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each invalid value replaced by its row's previous valid one (the first valid one
    before it; 0 in a row without any)."""
    out = np.zeros_like(values)
    n = values.shape[1]
    for i, (row, ok) in enumerate(zip(values, valid, strict=True)):
        if not ok.any():
            continue
        last = np.maximum.accumulate(np.where(ok, np.arange(n), -1))
        last[last < 0] = int(np.argmax(ok))
        out[i] = row[last]
    return out


def stream_channel_names(taken: list[str], streams: list[RecordedStream]) -> list[str]:
    """The Raw's names of the streams' rows: their labels (``accel_x``, ``ppg_1``: short
    enough for EDF's 16 characters), ``<stream>_<label>`` where a label is taken twice."""
    labels = [c for st in streams for c in st.labels]
    seen = {c.lower() for c in taken}
    return [
        f"{st.name}_{c}" if labels.count(c) > 1 or c.lower() in seen else c
        for st in streams
        for c in st.labels
    ]


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
        self.meta["status"] = session_status(self.path, self.meta)
        columns = self.meta["frames"]["columns"]
        try:
            dtype = frames_dtype(columns)
        except (KeyError, TypeError, ValueError):
            raise SessionError(
                f"{self.path / META_FILE} is corrupted: bad frames.columns"
            ) from None
        records = read_records(data_file(self.path, self.meta, "frames"), len(columns))
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
        self.events: list[dict[str, Any]] = read_events(data_file(self.path, self.meta, "events"))

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
        """The channel labels (10-20 for EEG), in the order of ``layout["eeg_rows"]``."""
        return [str(c) for c in self.meta["layout"].get("ch_names", [])]

    @property
    def ch_types(self) -> list[str]:
        """The type of each channel (``"eeg"``, ``"eog"``, ...); EEG for sessions without."""
        return [str(t) for t in self.meta["layout"].get("ch_types", ["eeg"] * len(self.ch_names))]

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.frames.shape[0]

    @property
    def n_samples(self) -> int:
        """Number of whole samples in ``raw.f64``."""
        if "_raw_records" in self.__dict__:
            return self._raw_records.shape[0]
        return n_records(self._raw_file, len(self.meta["raw"]["columns"]))

    # ------------------------------------------------------------------ samples
    @property
    def _raw_file(self) -> Path:
        return data_file(self.path, self.meta, "raw")

    @cached_property
    def _raw_records(self) -> np.ndarray:
        return read_records(self._raw_file, len(self.meta["raw"]["columns"]))

    @property
    def samples(self) -> np.ndarray:
        """All board rows, float64, shape (n_rows, n_samples), in the board's row order."""
        return self._raw_records[:, :-1].T

    @property
    def fetch_time(self) -> np.ndarray:
        """Unix wall time at which each sample's chunk was fetched, shape (n_samples,)."""
        return self._raw_records[:, -1]

    @cached_property
    def streams(self) -> dict[str, RecordedStream]:
        """The extra streams (motion, PPG) by name; empty for most devices.

        A stream that cannot be read (its layout or columns damaged, its file a link, a
        FIFO or a folder) is left out with one warning naming it: the EEG stays readable.
        A file missing reads as a stream without samples. Records beyond what the session's
        timeline can hold (twice its length at the stream's rate, and a minute) are damage
        (a sparse or runaway file) and are not read.
        """
        out = {}
        for name, node in (self.meta.get("streams") or {}).items():
            problem = stream_problem(self.meta, name)
            file = self.path / str(node["file"])
            if problem is None:
                layout = next(st for st in self.layout["streams"] if st.get("name") == name)
                n_cols = len(node["columns"])
                cap = self._max_stream_records(float(layout["sfreq"]))
                try:
                    records = read_records(file, n_cols, max_records=cap)
                except SessionError as err:  # said by its file name: the folder comes first
                    problem = str(err).replace(f"{self.path}{os.sep}", "")
            if problem is not None:
                logger.warning("%s: the %s stream is left out: %s", self.path, name, problem)
                continue
            if records.shape[0] == cap:
                with contextlib.suppress(SessionError):
                    if n_records(file, n_cols) > cap:
                        logger.warning(
                            "%s holds more records than the session's timeline can (damaged?):"
                            " only its first %d are read",
                            file,
                            cap,
                        )
            out[name] = RecordedStream(name, layout, records)
        return out

    def _max_stream_records(self, sfreq: float) -> int:
        try:
            seconds = (self.n_samples + self.n_missing) / self.sfreq
        except (SessionError, ZeroDivisionError, TypeError, ValueError):
            seconds = 0.0
        return math.ceil((2 * seconds + 60) * sfreq)

    def stream_raw(self, name: str) -> mne.io.RawArray:
        """Stream ``name`` at its own rate as ``misc`` channels (values in their own units),
        starting at the session's start."""
        import mne

        stream = self.streams.get(name)
        if stream is None:
            raise SessionError(f"{self.path} has no {name!r} stream (it has {list(self.streams)})")
        if stream.n_samples == 0:
            raise SessionError(f"{self.path}: the {name} stream has no samples")
        info = mne.create_info(stream.labels, stream.sfreq, "misc", verbose=False)
        raw = mne.io.RawArray(stream.signals, info, verbose=False)
        start_unix = self.meta.get("start_unix")
        if start_unix is not None:
            raw.set_meas_date(datetime.fromtimestamp(float(start_unix), timezone.utc))
        return raw

    @cached_property
    def gaps(self) -> list[Gap]:
        """The gap records (outages and losses), in timeline order."""
        return session_gaps(self.events)

    @property
    def n_missing(self) -> int:
        """Samples missing from the timeline (the gaps' sum); the Raw has
        :attr:`n_samples` + this many."""
        return sum(g.missing for g in self.gaps)

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
        """The signal rows as typed :class:`mne.io.RawArray` in volts, with montage and
        annotations, on the session's timeline (the gaps' missing samples inserted as zeros)."""
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
        types = self.ch_types
        if self.streams:
            row = layout.get("timestamp_row")
            eeg_ts = self.samples[int(row)] if row is not None else None
            extra = [on_eeg_grid(st, self.n_samples, eeg_ts) for st in self.streams.values()]
            data = np.vstack([data, *extra])
            names = names + stream_channel_names(names, list(self.streams.values()))
            types = types + ["misc"] * (len(names) - len(types))
        data = insert_gaps(data, self.gaps)
        # EOG/EMG/ECG/misc rows keep their type; the montage places the EEG ones only
        info = mne.create_info(names, self.sfreq, types, verbose=False)
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
