"""The session format: file names, frame columns and kinds, statuses, and its JSON.

One module owns the format of a session folder; the recorder, the readers, the recovery,
reports, BIDS and LSL import it, and none of them imports another for it. The
``session.json`` schema checks are :mod:`nfb.session.schema`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import fs

FORMAT = "nfb-session"
FORMAT_VERSION = 1
META_FILE = "session.json"
RAW_FILE = "raw.f64"
FRAMES_FILE = "frames.f64"
EVENTS_FILE = "events.jsonl"
#: Space kept aside while recording so that a full disk can still get a final session.json.
#: How losses are read from a board's package counter (``layout.counter_rule``): a wrapping
#: sequence, Muse S Athena's ``packet << 8 | sub-packet``, or no known rule (not counted).
COUNTER_RULES = ("sequence", "packet", "none")
#: Types of a board's signal rows (``layout.ch_types``), as MNE names them: EEG rows carry a
#: 10-20 label; EOG, EMG, ECG and misc rows any label.
CHANNEL_TYPES = ("eeg", "eog", "emg", "ecg", "misc")
#: BrainFlow presets beside the default (EEG) one that a profile may record as streams of
#: their own, by name: ``auxiliary`` (accelerometer, gyroscope; Muse's motion at 52 Hz) and
#: ``ancillary`` (Muse's PPG at 64 Hz). Each is a file of its own at its own rate.
STREAM_PRESETS = {"auxiliary": 1, "ancillary": 2}
#: Columns a stream file has after the board's rows of that preset: the wall time nfb fetched
#: the chunk, and ``eeg_index``: how many EEG samples of the session had been received when
#: it was fetched (the EEG clock of what was known live; the motion inhibit and replay use it).
STREAM_EXTRA_COLUMNS = ("fetch_time", "eeg_index")
#: What a stream's signal rows measure, by BrainFlow's ``<kind>_channels`` name, in the order
#: a row shared by two kinds takes its name from (Muse's PPG rows are also ``optical``); the
#: unit each is in; MNE type ``misc`` for all.
STREAM_KINDS = {
    "accel": "g",
    "gyro": "deg/s",
    "ppg": "ADC units",
    "optical": "ADC units",
    "eda": "µS",
    "temperature": "°C",
    "resistance": "Ω",
    "battery": "%",
    "other": "",
}
RESERVE_FILE = ".reserve"
RESERVE_BYTES = 64 * 1024

#: Frame column kinds: stored as float64 on disk, converted to these dtypes on read.
FRAME_KINDS: dict[str, type] = {"i8": np.int64, "f8": np.float64, "?": np.bool_}
#: Columns every frames file starts with (in any order), before inhibits and band values.
BASE_FRAME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sample_index", "i8"),
    ("time_s", "f8"),
    ("wall_time", "f8"),
    ("value", "f8"),
    ("threshold", "f8"),
    ("reward", "?"),
    ("inhibited", "?"),
    ("step", "i8"),
)
#: The columns every frame row of the engine starts with: the base columns, the feature
#: before z-scoring and the feedback ``level`` (0–1: what the display and the tone follow,
#: computed by the engine from the shown value and threshold, so replay reproduces it).
#: Inhibit flags (``inhibit_<kind>``), band values and the sham ``own_*`` columns follow.
#: Sessions recorded before ``level`` existed lack it; readers need only the base columns.
FRAME_COLUMNS: tuple[tuple[str, str], ...] = (
    *BASE_FRAME_COLUMNS,
    ("raw_value", "f8"),
    ("level", "f8"),
)
#: Status values ``close`` accepts. ``"recording"`` is the status while open.
FINAL_STATUSES = ("complete", "stopped", "failed")
#: Keys the recorder owns: ``meta`` and ``update_meta`` may not set them.
RESERVED_KEYS = frozenset(
    {
        "format",
        "format_version",
        "client",
        "session_id",
        "status",
        "start_time",
        "start_unix",
        "end_time",
        "end_unix",
        "n_samples",
        "n_frames",
        "raw",
        "frames",
        "events",
        "streams",
        "error",
    }
)


def stream_file(name: str) -> str:
    """The file of stream ``name`` (a key of :data:`STREAM_PRESETS`) in a session folder."""
    return f"{name}.f64"


def protocol_slug(name: str) -> str:
    """Return the folder-safe slug of a protocol name (``"Alpha/beta up"`` -> ``alpha-beta-up``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower(), flags=re.ASCII).strip("-")
    return slug[:40].rstrip("-") or "session"


def utc_iso(unix: float) -> str:
    """Return a unix time as ISO 8601 UTC with microseconds."""
    return datetime.fromtimestamp(unix, timezone.utc).isoformat(timespec="microseconds")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json(obj: Any, **kwargs: Any) -> str:
    """Serialise ``obj`` to JSON, accepting NumPy scalars/arrays, paths and datetimes."""
    return json.dumps(obj, default=_json_default, ensure_ascii=False, **kwargs)


def json_safe(value: Any) -> Any:
    """``value`` for strict JSON: non-finite floats as ``None``, NumPy scalars as Python ones
    (LSL markers and BIDS sidecars, whose readers refuse NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


#: The statuses a ``session.json`` may hold (``interrupted`` is derived, never stored).
STATUSES = ("recording", "complete", "stopped", "failed", "recovered")


def frames_dtype(columns: list[list[str]]) -> np.dtype:
    """Return the structured dtype of frames with the given ``[name, kind]`` columns."""
    return np.dtype([(str(name), FRAME_KINDS[kind]) for name, kind in columns])


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`nfb.fs.write_atomic`), 0600.

    Raises :class:`OSError` on failure; the previous file is then untouched.
    """
    fs.write_atomic(path, (to_json(obj, indent=2) + "\n").encode("utf-8"))


#: Event kind of a change of an inhibit's limit during a session (also the runner command
#: that makes it): ``inhibit`` (the inhibit's name, as in its ``inhibit_<name>`` frame column),
#: ``value`` (the new limit, in the inhibit's own unit) and ``previous`` (the limit before it,
#: None where the baseline had not set it yet).
INHIBIT_LIMIT_EVENT = "inhibit_limit"


# ---------------------------------------------------------------------------------------------
# The gap record

#: Event kind of a gap record (also the runner command that applies it).
GAP_EVENT = "gap"
#: Why samples are missing: the board was lost (``disconnect``), or the link lost packets
#: while the board streamed (``dropped``, from the package counter or the source).
GAP_CAUSES = ("disconnect", "dropped")
#: What measured a gap: the board's timestamp row (``timestamp``), nfb's monotonic clock
#: (``monotonic``, for a board without timestamps), the package counter (``counter``; with
#: the timestamps where the counter wrapped, ``counter+timestamp``), or the source itself
#: (``source``: an LSL stream's own loss detection).
GAP_CLOCKS = ("timestamp", "monotonic", "counter", "counter+timestamp", "source")
#: Annotation of the missing samples of each cause in the MNE Raw.
GAP_ANNOTATIONS = {"disconnect": "BAD_disconnect", "dropped": "BAD_dropped"}
#: What the missing samples hold in the MNE Raw (see :func:`insert_gaps`).
GAP_FILL = 0.0
#: The fields of a gap record besides ``kind`` and ``sample_index``.
GAP_FIELDS = ("at", "missing", "duration_s", "cause", "clock")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def gap_problem(fields: dict[str, Any]) -> str | None:
    """What is wrong with the fields of a gap record (or a ``gap`` command), or None.

    A ``gap`` without ``missing`` is a bare discontinuity (sessions recorded before gap
    records existed; a command of a test): it settles the filters and moves no time.
    """
    if "missing" not in fields:
        return None
    at, missing = fields.get("at"), fields.get("missing")
    if at is not None and not (_is_int(at) and 0 <= at < 2**53):
        return f"gap: at must be a sample index, got {at!r:.40}"
    if not (_is_int(missing) and 0 <= missing < 2**53):
        return f"gap: missing must be a sample count, got {missing!r:.40}"
    duration = fields.get("duration_s")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not (math.isfinite(duration) and 0 <= duration < 1e9)
    ):
        return f"gap: duration_s must be seconds, got {duration!r:.40}"
    if fields.get("cause") not in GAP_CAUSES:
        return f"gap: cause must be one of {', '.join(GAP_CAUSES)}, got {fields.get('cause')!r:.40}"
    if fields.get("clock") not in GAP_CLOCKS:
        return f"gap: clock must be one of {', '.join(GAP_CLOCKS)}, got {fields.get('clock')!r:.40}"
    return None


@dataclass(frozen=True)
class Gap:
    """Samples missing from the timeline before sample ``at``.

    Attributes
    ----------
    at : int
        Index of the first sample received after the gap.
    missing : int
        Samples the board would have sent meanwhile: ``round(duration_s * sfreq)`` for an
        outage, the lost count for dropped samples.
    duration_s : float
        The gap as measured, in seconds.
    cause : str
        One of :data:`GAP_CAUSES`.
    clock : str
        One of :data:`GAP_CLOCKS`.
    """

    at: int
    missing: int
    duration_s: float
    cause: str
    clock: str

    def __post_init__(self) -> None:
        problem = gap_problem(self.fields())
        if problem:
            raise ValueError(problem)

    def fields(self) -> dict[str, Any]:
        """The record's fields (``at``, ``missing``, ``duration_s``, ``cause``, ``clock``)."""
        return {
            "at": self.at,
            "missing": self.missing,
            "duration_s": self.duration_s,
            "cause": self.cause,
            "clock": self.clock,
        }

    @classmethod
    def measured(cls, at: int, duration_s: float, sfreq: float, cause: str, clock: str) -> Gap:
        """A gap of ``duration_s`` seconds (clipped at 0) before sample ``at``."""
        duration_s = max(0.0, float(duration_s))
        return cls(int(at), round(duration_s * sfreq), duration_s, cause, clock)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Gap | None:
        """The gap record of a ``gap`` event; None for a bare ``gap`` (no ``missing``).

        Raises :class:`ValueError` naming the field if the record is damaged.
        """
        if event.get("kind") != GAP_EVENT or "missing" not in event:
            return None
        fields = {k: event.get(k) for k in GAP_FIELDS}
        if fields["at"] is None:
            fields["at"] = event.get("sample_index")
        problem = gap_problem(fields)
        if problem:
            raise ValueError(problem)
        return cls(int(fields["at"]), int(fields["missing"]), float(fields["duration_s"]),
                   str(fields["cause"]), str(fields["clock"]))  # fmt: skip


def session_gaps(events: Iterable[dict[str, Any]]) -> list[Gap]:
    """The gap records of a session's events, in timeline order (by ``at``, then as
    recorded); a damaged record is skipped (readers have checked events already)."""
    gaps = []
    for event in events:
        try:
            gap = Gap.from_event(event)
        except ValueError:
            continue
        if gap is not None:
            gaps.append(gap)
    return sorted(gaps, key=lambda g: g.at)  # stable: equal ``at`` stay as recorded


def timeline_index(index: Any, gaps: Sequence[Gap]) -> Any:
    """The timeline position of sample index(es) ``index``: the index plus the samples
    missing before it (those of every gap whose ``at`` is at or before it).

    ``index`` is an int or an integer array; the result has its shape (int64). Over
    ``sfreq`` it is the time in seconds from the session's first sample.
    """
    ats = np.array([g.at for g in gaps], dtype=np.int64)
    missing = np.array([g.missing for g in gaps], dtype=np.int64)
    return timeline_from_pairs(index, ats, missing)


def timeline_from_pairs(index: Any, ats: np.ndarray, missing: np.ndarray) -> Any:
    """:func:`timeline_index` over sorted positions ``ats`` and their ``missing`` counts
    (the runner keys them on the frame that took each gap)."""
    idx = np.asarray(index, dtype=np.int64)
    if ats.size == 0:
        return idx if idx.ndim else int(idx)
    before = np.concatenate(([0], np.cumsum(missing)))
    out = idx + before[np.searchsorted(ats, idx, side="right")]
    return out if out.ndim else int(out)


def insert_gaps(data: np.ndarray, gaps: Sequence[Gap], fill: float = GAP_FILL) -> np.ndarray:
    """``data`` (n_rows, n_samples) with each gap's missing samples inserted as ``fill``.

    Zeros by default, MNE's own convention for acquisition skips (its FIF reader fills
    ``BAD_ACQ_SKIP`` with zeros): finite, so every writer (FIF, EDF, BrainVision) stores them
    and a filter does not spread them over the channel as NaN would; the ``BAD_`` annotation
    over them keeps them out of epochs and of ``reject_by_annotation``.
    """
    data = np.asarray(data)
    kept = [g for g in gaps if g.missing > 0 and 0 <= g.at <= data.shape[1]]
    if not kept:
        return data
    total = sum(g.missing for g in kept)
    out = np.full((data.shape[0], data.shape[1] + total), fill, dtype=data.dtype)
    src = 0
    dst = 0
    for gap in kept:
        n = gap.at - src
        out[:, dst : dst + n] = data[:, src : gap.at]
        src, dst = gap.at, dst + n + gap.missing
    out[:, dst:] = data[:, src:]
    return out
