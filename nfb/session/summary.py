"""The summary table of a study: one row per session and one per training block.

The figures come from what the runner recorded in ``session.json`` (block statistics,
baselines, thresholds), so a summary of a replayed session is as exact as the replay. The
table is a NumPy structured array (no pandas needed), a pandas DataFrame on request, or a
CSV file written by ``nfb replay`` over many sources.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .. import fs
from .store import load_meta

#: The columns of the summary table, in order, with their NumPy dtypes.
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("level", "U7"),  # "session" or "block"
    ("source", "U512"),
    ("path", "U512"),
    ("client", "U64"),
    ("session_id", "U96"),
    ("protocol", "U40"),
    ("status", "U16"),
    ("block", "i4"),  # 0 on session rows
    ("sham", "U5"),  # "true"/"false"; "" when blinded or the protocol had no sham blocks
    ("duration_s", "f8"),
    ("n_frames", "i8"),
    ("reward_rate", "f8"),
    ("inhibited_rate", "f8"),
    ("mean_value", "f8"),
    ("own_reward_rate", "f8"),
    ("own_mean_value", "f8"),
    ("threshold_first", "f8"),
    ("threshold_last", "f8"),
    ("baseline_eo_mean", "f8"),
    ("baseline_ec_mean", "f8"),
    ("dropped_samples", "i8"),
    ("anxiety_before", "f8"),
    ("anxiety_after", "f8"),
    # the client's latest questionnaires on or before the session's day (course.json)
    ("gad7_total", "f8"),
    ("gad7_date", "U10"),
    ("phq9_total", "f8"),
    ("phq9_date", "U10"),
    ("error", "U200"),
)
_NAMES = [name for name, _ in SUMMARY_COLUMNS]


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _weighted(blocks: list[dict], key: str) -> float:
    """A session's rate or mean over its blocks, weighted by their frames."""
    pairs = [(b.get(key), b.get("n_frames") or 0) for b in blocks]
    pairs = [(float(v), n) for v, n in pairs if isinstance(v, int | float) and n]
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else math.nan


def session_rows(
    path: str | os.PathLike,
    *,
    source: str = "",
    unblind: bool = False,
    meta: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The summary rows of one session folder: the session's, then one per block.

    Parameters
    ----------
    path : path-like
        A session folder.
    source : str
        What the session was made from (for a batch replay: its source).
    unblind : bool
        Fill the ``sham`` column of sessions with sham blocks (blinded by default).
    meta : dict | None
        The session's ``session.json`` as :func:`~nfb.session.schema.load_meta` read it, if
        the caller has it already (else it is read).
    """
    path = Path(path)
    if meta is None:
        meta = load_meta(path)
    blocks = [b for b in meta.get("blocks") or [] if isinstance(b, dict)]
    thresholds = [t for t in meta.get("thresholds") or [] if isinstance(t, dict)]
    baseline = meta.get("baseline") or {}
    ratings = meta.get("ratings") or {}
    sham_blocks = set((meta.get("blinding") or {}).get("sham_blocks") or [])
    # a blinded session: any figure that differs between sham and real blocks (the client's
    # own scoring, a threshold that stands still while the feedback is yoked) is left out
    blinded = isinstance(meta.get("blinding"), dict) and not unblind
    sfreq = _num((meta.get("layout") or {}).get("sfreq"))
    base = {
        "source": source,
        "path": str(path),
        "client": str(meta.get("client", "")),
        "session_id": str(meta.get("session_id", path.name)),
        "protocol": str(meta.get("protocol_slug", "")),
        "status": str(meta.get("status", "")),
        "dropped_samples": int(meta.get("dropped_samples") or 0),
        "anxiety_before": _num(ratings.get("anxiety_before")),
        "anxiety_after": _num(ratings.get("anxiety_after")),
        **_outcome_columns(path, source, meta),
        "error": "",
    }

    def sham(block: int | None) -> str:
        if not unblind or not sham_blocks:
            return ""
        return "" if block is None else str(block in sham_blocks).lower()

    def own(b: dict, key: str) -> float:
        return math.nan if blinded else _num(b.get(f"own_{key}", b.get(key)))

    rows = [
        {
            **base,
            "level": "session",
            "block": 0,
            "sham": sham(None),
            "duration_s": _num(meta.get("n_samples")) / sfreq,
            "n_frames": sum(int(b.get("n_frames") or 0) for b in blocks),
            "reward_rate": _weighted(blocks, "reward_rate"),
            "inhibited_rate": _weighted(blocks, "inhibited_rate"),
            "mean_value": _weighted(blocks, "mean_value"),
            "own_reward_rate": _weighted(
                [{**b, "reward_rate": own(b, "reward_rate")} for b in blocks], "reward_rate"
            ),
            "own_mean_value": _weighted(
                [{**b, "mean_value": own(b, "mean_value")} for b in blocks], "mean_value"
            ),
            "threshold_first": _num(thresholds[0].get("value")) if thresholds else math.nan,
            "threshold_last": _num(thresholds[-1].get("value")) if thresholds else math.nan,
            "baseline_eo_mean": _num(
                ((baseline.get("baseline_eyes_open") or {}).get("value") or {}).get("mean")
            ),
            "baseline_ec_mean": _num(
                ((baseline.get("baseline_eyes_closed") or {}).get("value") or {}).get("mean")
            ),
        }
    ]

    def in_effect(sample: Any) -> float:
        """The threshold in effect at a sample (the first one set, if none was yet)."""
        if not isinstance(sample, int) or not thresholds:
            return math.nan
        past = [t for t in thresholds if t.get("sample_index", 0) <= sample]
        return _num((past[-1] if past else thresholds[0]).get("value"))

    for b in blocks:
        start, end = b.get("start_sample"), b.get("end_sample")
        timed = isinstance(start, int) and isinstance(end, int)
        duration = (end - start) / sfreq if timed else math.nan
        rows.append(
            {
                **base,
                "level": "block",
                "block": int(b.get("index") or 0),
                "sham": sham(b.get("index")),
                "duration_s": duration,
                "n_frames": int(b.get("n_frames") or 0),
                "reward_rate": _num(b.get("reward_rate")),
                "inhibited_rate": _num(b.get("inhibited_rate")),
                "mean_value": _num(b.get("mean_value")),
                "own_reward_rate": own(b, "reward_rate"),
                "own_mean_value": own(b, "mean_value"),
                "threshold_first": math.nan if blinded else in_effect(start),
                "threshold_last": math.nan if blinded else in_effect(end),
                "baseline_eo_mean": math.nan,
                "baseline_ec_mean": math.nan,
            }
        )
    return rows


def _outcome_columns(path: Path, source: str, meta: dict[str, Any]) -> dict[str, Any]:
    """``gad7_total``/``gad7_date``/``phq9_...``: the latest questionnaire on or before the
    session's day, from the client's ``course.json`` beside the session (or beside the
    source session of a replay); NaN and "" where there is none."""
    from .course import COURSE_FILE, latest_before, read_course, session_day

    out: dict[str, Any] = {}
    client = str(meta.get("client", ""))
    course = None
    for folder in (path, Path(source) if source else None):
        if folder is None or folder.parent.name != client:
            continue
        if (folder.parent / COURSE_FILE).exists():
            course = read_course(folder.parent.parent, client)
            break
    day = session_day(meta.get("start_time"))
    for key in ("gad7", "phq9"):
        found = latest_before(course.outcomes, key, day) if course is not None else None
        out[f"{key}_total"] = float(found.total) if found is not None else math.nan
        out[f"{key}_date"] = found.date.isoformat() if found is not None else ""
    return out


def error_row(source: str, error: str) -> dict[str, Any]:
    """The summary row of a source that could not be replayed."""
    row = {name: "" for name, dtype in SUMMARY_COLUMNS if dtype.startswith("U")}
    row.update({name: math.nan for name, dtype in SUMMARY_COLUMNS if dtype == "f8"})
    row.update({name: 0 for name, dtype in SUMMARY_COLUMNS if dtype[0] == "i"})
    row.update({"level": "session", "source": source, "status": "error", "error": error[:200]})
    return row


def to_table(rows: Iterable[dict[str, Any]]) -> np.ndarray:
    """Summary rows as a structured array with :data:`SUMMARY_COLUMNS`."""
    rows = list(rows)
    return np.array([tuple(r[name] for name in _NAMES) for r in rows], dtype=list(SUMMARY_COLUMNS))


def summary_table(
    sessions: Iterable[str | os.PathLike | dict] | None = None,
    *,
    client: str | None = None,
    sessions_dir: str | os.PathLike | None = None,
    unblind: bool = False,
    as_frame: bool | None = None,
):
    """The summary table of some sessions: a row per session and a row per block.

    Parameters
    ----------
    sessions : iterable of path-like or dict | None
        Session folders (or :func:`~nfb.list_sessions` entries); default all sessions of the
        store (of ``client`` if given).
    client : str | None
        With ``sessions=None``: only this client's sessions.
    sessions_dir : path-like | None
        With ``sessions=None``: the store (default ``$NFB_SESSIONS_DIR``, else the per-user
        data folder).
    unblind : bool
        Reveal which blocks were sham.
    as_frame : bool | None
        Return a pandas DataFrame; default: when pandas is installed.

    Returns
    -------
    table : numpy structured array | pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`; NaN where a figure does not apply.
    """
    if sessions is None:
        from .store import list_sessions

        sessions = list_sessions(sessions_dir, client=client)
    rows: list[dict[str, Any]] = []
    for s in sessions:
        path = s["path"] if isinstance(s, dict) else s
        rows += session_rows(path, source=str(path), unblind=unblind)
    table = to_table(rows)
    if as_frame is None:
        try:
            import pandas  # noqa: F401
        except ImportError:
            as_frame = False
        else:
            as_frame = True
    if as_frame:
        import pandas as pd

        return pd.DataFrame.from_records(table)
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_summary_csv(rows: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write summary rows as CSV (atomically, mode 0600); floats keep every digit."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_NAMES)
    for r in rows:
        writer.writerow([_cell(r[name]) for name in _NAMES])
    path = Path(path)
    fs.write_atomic(path, buf.getvalue().encode("utf-8"))
    return path


def read_summary_csv(path: str | os.PathLike) -> np.ndarray:
    """Read a summary CSV written by :func:`write_summary_csv` back into a structured array."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = []
        for r in reader:
            row: dict[str, Any] = {}
            for name, dtype in SUMMARY_COLUMNS:
                text = r.get(name, "")
                if dtype == "f8":
                    row[name] = float(text) if text else math.nan
                elif dtype[0] == "i":
                    row[name] = int(text) if text else 0
                else:
                    row[name] = text
            rows.append(row)
    return to_table(rows)
