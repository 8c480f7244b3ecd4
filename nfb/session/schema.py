"""The ``session.json`` schema: what readers, reports and replays may rely on.

:func:`load_meta` reads a session folder's ``session.json`` through the file-system layer
(no link followed, bounded size and nesting) and checks the fields every reader uses, so a
hand edit, a buggy tool or a planted file gives one line naming the folder and the problem,
never a TypeError (or a RecursionError) deep inside a reader, an export or a replay.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .. import fs
from ..errors import SessionError, one_line
from .format import (
    BASE_FRAME_COLUMNS,
    CHANNEL_TYPES,
    COUNTER_RULES,
    EVENTS_FILE,
    FORMAT,
    FORMAT_VERSION,
    FRAME_KINDS,
    FRAMES_FILE,
    META_FILE,
    RAW_FILE,
    RESERVE_FILE,
    STATUSES,
    STREAM_EXTRA_COLUMNS,
)


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check the ``session.json`` of a session folder.

    Raises :class:`SessionError` (one line) if the folder is missing, is not a session (or is
    a link to one), or its ``session.json`` is not a regular file, is too large, too deeply
    nested, corrupted or from a newer format.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SessionError(f"{path} does not exist")
    meta_file = path / META_FILE
    if not fs.is_real_dir(path):
        what = fs.describe(path) or "a file"
        raise SessionError(f"{path} is not an nfb session folder ({what})")
    if not meta_file.exists() and not meta_file.is_symlink():
        raise SessionError(f"{path} is not an nfb session folder (no {META_FILE})")
    try:
        meta = fs.read_json(meta_file, fs.MAX_META_BYTES)
    except OSError as err:
        raise SessionError(f"{meta_file} is refused: {err.strerror or err}") from None
    except ValueError as err:  # json.JSONDecodeError
        raise SessionError(f"{meta_file} is corrupted: {one_line(err)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SessionError(f"{meta_file} is not an nfb session file (format is not {FORMAT!r})")
    fv = meta.get("format_version")
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise SessionError(
            f"{meta_file}: format_version {fv!r:.40} is not supported (this nfb reads "
            f"1..{FORMAT_VERSION}); upgrade nfb"
        )
    for keys in (("raw", "columns"), ("frames", "columns"), ("layout", "sfreq")):
        node: Any = meta
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise SessionError(f"{meta_file} is corrupted: no {'.'.join(keys)}")
            node = node[key]
    sfreq = meta["layout"]["sfreq"]
    if not is_num(sfreq) or not MIN_SFREQ <= sfreq < MAX_SFREQ:
        raise SessionError(
            f"{meta_file} is corrupted: layout.sfreq is {sfreq!r:.40}, "
            f"not {MIN_SFREQ:g}..{MAX_SFREQ:g} Hz"
        )
    problem = _meta_problem(meta)
    if problem:
        raise SessionError(f"{meta_file} is corrupted: {problem}")
    return meta


#: Sampling rates a session may have (Hz): a rate of 1e-300 would make every duration
#: overflow, one of 1e9 is no EEG board.
MIN_SFREQ, MAX_SFREQ = 0.01, 1e6


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
    if mains is not None and not (is_num(mains) and mains in (50, 60)):
        return f"device.mains_hz is {mains!r:.40}, not 50 or 60"
    cmap = meta.get("channel_map") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in cmap.items()):
        return "channel_map must map labels to labels"
    for i, block in enumerate(meta.get("blocks") or []):
        if not isinstance(block, dict):
            return f"blocks[{i}] must be an object"
        index = block.get("index")
        if index is not None and not (is_int(index) and index >= 1):
            return f"blocks[{i}].index is {index!r:.40}, not a block number"
        for key in _BLOCK_SAMPLES:
            v = block.get(key)
            if v is not None and not (is_int(v) and 0 <= v < 2**53):
                return f"blocks[{i}].{key} is {v!r:.40}, not a count >= 0"
        for key in _BLOCK_RATES:
            v = block.get(key)
            if v is not None and not (is_num(v) and 0 <= v <= 1):
                return f"blocks[{i}].{key} is {v!r:.40}, not a fraction"
        for key in _BLOCK_MEANS:
            v = block.get(key)
            if v is not None and not (is_num(v) and abs(v) < 1e15):
                return f"blocks[{i}].{key} is {v!r:.40}, not a number"
    for key in ("anxiety_before", "anxiety_after"):
        v = (meta.get("ratings") or {}).get(key)
        if v is not None and not (is_num(v) and abs(v) < 1e15):
            return f"ratings.{key} is {v!r:.40}, not a number"
    for key, low in (("frame_rate", 0), ("dropped_samples", -1)):
        v = meta.get(key)
        # a garbage package counter can claim billions of dropped samples: still readable
        if v is not None and not (is_num(v) and low < v < 2**53):
            return f"{key} is {v!r:.40}, out of range"
    return None


def is_num(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond any float
        return False


def is_unix(v: Any) -> bool:
    """A unix time that dates can show: from 1970 to the end of year 9999."""
    return is_num(v) and 0 <= v < 253402300800


def is_int(v: Any) -> bool:
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
    streams = meta.get("streams", {})
    if not isinstance(streams, dict):
        return "streams must be an object"
    for key, node in streams.items():
        cols = node.get("columns") if isinstance(node, dict) else None
        name = node.get("file") if isinstance(node, dict) else None
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
            return f"streams.{key}.file must be a file name inside the session folder"
        if (
            not isinstance(cols, list)
            or len(cols) < 3
            or not all(isinstance(c, str) and c for c in cols)
            or len(set(cols)) != len(cols)
        ):
            return f"streams.{key}.columns must be a list of distinct names"
    layout = meta["layout"]
    n_rows = layout.get("n_rows", len(raw_cols) - 1)
    if not is_int(n_rows) or n_rows != len(raw_cols) - 1:
        return f"layout.n_rows is {n_rows!r} but raw.columns has {len(raw_cols) - 1} board rows"
    rows, names = layout.get("eeg_rows", []), layout.get("ch_names", [])
    if (
        not isinstance(rows, list)
        or not all(is_int(r) and 0 <= r < n_rows for r in rows)
        or not isinstance(names, list)
        or not all(isinstance(c, str) for c in names)
        or len(rows) != len(names)
    ):
        return "layout.eeg_rows and layout.ch_names must be lists of rows and labels, as long"
    types = layout.get("ch_types", ["eeg"] * len(rows))
    if (
        not isinstance(types, list)
        or len(types) != len(rows)
        or not all(isinstance(t, str) and t in CHANNEL_TYPES for t in types)
    ):
        return f"layout.ch_types must list one of {', '.join(CHANNEL_TYPES)} per EEG row"
    for key in ("counter_row", "timestamp_row", "marker_row"):
        row = layout.get(key)
        if row is not None and not (is_int(row) and 0 <= row < n_rows):
            return f"layout.{key} is {row!r}, not a row of the board"
    for key in ("counter_modulo", "counter_step", "counter_repeat"):
        value = layout.get(key)
        if value is not None and not (is_int(value) and value > 0):
            return f"layout.{key} is {value!r}, not an integer > 0"
    rule = layout.get("counter_rule", "sequence")
    if rule not in COUNTER_RULES:
        return f"layout.counter_rule is {rule!r}, not one of {', '.join(COUNTER_RULES)}"
    rail = layout.get("rail_uv")
    if rail is not None and not (is_num(rail) and rail > 0):
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
        if value is not None and not is_unix(value):
            return f"{key} is {value!r}, not a unix time"
    return None


_DATA_FILES = {"raw": RAW_FILE, "frames": FRAMES_FILE, "events": EVENTS_FILE}
#: Rows of a stream's preset no BrainFlow board comes near (Muse: 9; the synthetic board: 20).
MAX_STREAM_ROWS = 1024


def stream_problem(meta: dict[str, Any], name: str) -> str | None:
    """What makes stream ``name`` of a checked ``session.json`` unreadable (None: nothing).

    A stream is an extra beside the EEG: its problem leaves it out of a reading (the reader
    says so in one line) and out of a recovery's cuts, rather than refusing the session.
    Checked: its layout (``layout.streams``: rate, rows, labels, kinds, timestamp row), its
    file's columns against the layout's rows, and its file name against the session's other
    files (a stream file that is ``raw.f64`` would be read, and cut, as a stream).
    """
    node = meta["streams"][name]
    layouts = meta["layout"].get("streams", [])
    if not isinstance(layouts, list):
        return "layout.streams is not a list"
    found = [st for st in layouts if isinstance(st, dict) and st.get("name") == name]
    if len(found) != 1:
        return f"layout.streams has {len(found)} entries named {name!r}, not 1"
    st = found[0]
    sfreq, n_rows = st.get("sfreq"), st.get("n_rows")
    if not (is_num(sfreq) and 0 < sfreq < 1e6):
        return f"its sfreq is {sfreq!r:.40}, not a rate in Hz"
    if not (is_int(n_rows) and 0 < n_rows <= MAX_STREAM_ROWS):
        return f"its n_rows is {n_rows!r:.40}, not 1 … {MAX_STREAM_ROWS}"
    rows, labels, kinds = st.get("rows"), st.get("labels"), st.get("kinds")
    if (
        not isinstance(rows, list)
        or not rows
        or not all(is_int(r) and 0 <= r < n_rows for r in rows)
        or not isinstance(labels, list)
        or not all(isinstance(c, str) and c for c in labels)
        or len(set(labels)) != len(labels)
        or not isinstance(kinds, list)
        or not all(isinstance(k, str) for k in kinds)
        or not len(rows) == len(labels) == len(kinds)
    ):
        return f"its rows, labels and kinds must be as many rows below n_rows ({n_rows}), names"
    for key in ("counter_row", "timestamp_row"):
        row = st.get(key)
        if row is not None and not (is_int(row) and 0 <= row < n_rows):
            return f"its {key} is {row!r:.40}, not a row of the stream"
    n_cols = n_rows + len(STREAM_EXTRA_COLUMNS)
    if len(node["columns"]) != n_cols:
        return f"streams.{name}.columns has {len(node['columns'])} names, its layout {n_cols}"
    taken = {META_FILE, RESERVE_FILE}
    taken |= {str(meta.get(k, {}).get("file", d)) for k, d in _DATA_FILES.items()}
    taken |= {str(n["file"]) for k, n in meta["streams"].items() if k != name}
    if node["file"] in taken:
        return f"streams.{name}.file is {node['file']!r}, a file of the session already"
    return None


def event_problem(event: dict[str, Any]) -> str | None:
    """What is wrong with the fields readers use (annotations, reports), or None."""
    count = event.get("count")
    if count is not None and not (is_int(count) and 0 <= count < 2**53):
        return f"count is {count!r:.40}, not a sample count"
    for key, low in (("onset_s", -1e9), ("duration_s", 0)):
        v = event.get(key)
        if v is not None and not (is_num(v) and low <= v < 1e9):
            return f"{key} is {v!r:.40}, not seconds"
    if event["kind"] == "annotation" and not isinstance(event.get("description"), str):
        return "an annotation without a text description"
    step = event.get("step")
    if step is not None and not is_int(step):
        return f"step is {step!r:.40}, not a step number"
    return None
