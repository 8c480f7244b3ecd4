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
        "error",
    }
)


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
