"""A client's past sessions, newest first: what the console's history shows.

Every figure comes from what the store already computes: the summary rows
(:func:`~nfb.session.summary.session_rows`: reward per block, ratings, the last threshold,
questionnaire totals) and ``session.json`` as :func:`~nfb.session.schema.load_meta` reads
it. A session folder that cannot be read (a damaged or planted ``session.json``, a data file
that is a link or a FIFO) is an entry that says what is wrong, never an exception: one broken
folder does not hide the client's other sessions.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import fs
from .._logging import logger
from ..errors import NfbError, SessionError, one_line
from .clients import ClientIndex, validate_client
from .folders import default_sessions_dir, session_folders
from .format import INHIBIT_LIMIT_EVENT
from .reader import data_file, n_records, read_events, session_status
from .schema import load_meta
from .summary import session_rows

#: Questionnaires whose latest total (on or before the session's day) an entry carries.
OUTCOMES = ("gad7", "phq9")


@dataclass(frozen=True)
class HistoryEntry:
    """One past session of a client.

    Attributes
    ----------
    path : Path
        The session folder.
    session_id : str
        Its id (``YYYYmmdd-HHMMSS-<protocol>``).
    start : datetime | None
        When it started (UTC), ``None`` if unknown.
    protocol : str
        The protocol's name as used; ``protocol_slug`` its folder-safe slug.
    status : str
        ``complete``, ``stopped``, ``failed``, ``recovered``, ``interrupted``, ``recording``,
        or ``damaged``.
    duration_s : float | None
        Seconds of signal recorded.
    block_rewards : tuple of float | None
        Each training block's reward rate (0–1).
    reward_rate : float | None
        Over all blocks, weighted by their frames.
    target_rate : float | None
        The protocol's target reward rate.
    anxiety_before, anxiety_after : float | None
        The client's self-ratings (0–10).
    outcomes : dict
        ``gad7``/``phq9`` to ``(total, date)``: the latest questionnaire on or before the
        session's day (the client's course), where there is one.
    last_threshold : float | None
        The session's last reward threshold.
    inhibit_limits : dict
        The inhibit limits the practitioner set during the session (``inhibit_limit``
        events): the last value of each, by inhibit name. Filled by :func:`last_threshold`
        only (the history table does not read the events).
    problem : str | None
        Why the session cannot be read (one line); ``None`` for a readable one.
    """

    path: Path
    session_id: str
    start: datetime | None = None
    protocol: str = ""
    protocol_slug: str = ""
    status: str = ""
    duration_s: float | None = None
    block_rewards: tuple[float | None, ...] = ()
    reward_rate: float | None = None
    target_rate: float | None = None
    anxiety_before: float | None = None
    anxiety_after: float | None = None
    outcomes: dict[str, tuple[float, str]] = field(default_factory=dict)
    last_threshold: float | None = None
    inhibit_limits: dict[str, float] = field(default_factory=dict)
    problem: str | None = None

    @property
    def damaged(self) -> bool:
        """Whether the session could not be read."""
        return self.problem is not None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _start_of(meta: dict[str, Any] | None, folder: Path) -> datetime | None:
    unix = _num((meta or {}).get("start_unix"))
    if unix is not None:
        return datetime.fromtimestamp(unix, timezone.utc)
    try:  # a damaged session: its folder's name says when it started
        return datetime.strptime(folder.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def read_entry(folder: str | os.PathLike) -> HistoryEntry:
    """The history entry of one session folder (a damaged one says why, never raises)."""
    folder = Path(folder)
    meta: dict[str, Any] | None = None
    try:
        meta = load_meta(folder)
        for key in ("raw", "frames", "events"):
            what = fs.describe(data_file(folder, meta, key))
            if what is not None:
                name = data_file(folder, meta, key).name
                raise SessionError(f"{name} is {what}, not a regular file")
        n = n_records(data_file(folder, meta, "raw"), len(meta["raw"]["columns"]))
        sfreq = _num((meta.get("layout") or {}).get("sfreq"))
        rows = session_rows(folder, meta=meta)
    except (NfbError, OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        # everything a hostile folder can raise on the way is one line in the table
        problem = one_line(err) if isinstance(err, NfbError) else f"cannot be read: {err}"
        logger.warning("history: %s: %s", folder, problem)
        problem = problem.replace(f"{folder}{os.sep}", "")  # the row names the session
        return HistoryEntry(
            folder, folder.name, start=_start_of(meta, folder), status="damaged", problem=problem
        )
    session, blocks = rows[0], rows[1:]
    protocol = meta.get("protocol") if isinstance(meta.get("protocol"), dict) else {}
    outcomes = {
        key: (session[f"{key}_total"], session[f"{key}_date"])
        for key in OUTCOMES
        if _num(session[f"{key}_total"]) is not None
    }
    return HistoryEntry(
        folder,
        str(meta.get("session_id") or folder.name),
        start=_start_of(meta, folder),
        protocol=str(protocol.get("name") or meta.get("protocol_slug") or ""),
        protocol_slug=str(meta.get("protocol_slug") or ""),
        status=session_status(folder, meta),
        duration_s=n / sfreq if sfreq else None,
        block_rewards=tuple(_num(b["reward_rate"]) for b in blocks),
        reward_rate=_num(session["reward_rate"]),
        target_rate=_num((protocol.get("reward") or {}).get("target_rate")),
        anxiety_before=_num(session["anxiety_before"]),
        anxiety_after=_num(session["anxiety_after"]),
        outcomes=outcomes,
        last_threshold=_num(session["threshold_last"]),
    )


def client_folder(sessions_dir: str | os.PathLike | None, client: str) -> Path | None:
    """The folder of a client given by name or id, read-only (``None``: no such client)."""
    root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
    if not client or not root.is_dir():
        return None
    found = ClientIndex(root).find(client)
    if found is None:
        try:
            found = validate_client(" ".join(client.split()))
        except SessionError:
            return None
    return root / found


def client_history(sessions_dir: str | os.PathLike | None, client: str) -> list[HistoryEntry]:
    """A client's sessions, newest first (damaged ones included, see :func:`read_entry`).

    Parameters
    ----------
    sessions_dir : path-like | None
        The store (default ``$NFB_SESSIONS_DIR``, else the per-user data folder).
    client : str
        The client's name (as the store's index knows it) or id. Nothing is created.

    Returns
    -------
    entries : list of HistoryEntry
        Newest first; ``[]`` for a client the store does not know.

    Raises
    ------
    SessionError
        If the store's client index is unreadable.
    """
    folder = client_folder(sessions_dir, client)
    if folder is None:
        return []
    entries = [read_entry(f) for f in session_folders([folder])]
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    entries.sort(key=lambda e: (e.start or oldest, e.session_id), reverse=True)
    return entries


def last_threshold(
    sessions_dir: str | os.PathLike | None, client: str, protocol_slug: str
) -> HistoryEntry | None:
    """The client's newest readable session of this protocol that set a threshold.

    Its :attr:`~HistoryEntry.last_threshold` and :attr:`~HistoryEntry.inhibit_limits` are
    what "reuse the last thresholds" starts a new session from; ``None`` if there is none.
    """
    for entry in client_history(sessions_dir, client):
        if (
            not entry.damaged
            and entry.protocol_slug == protocol_slug
            and entry.last_threshold is not None
        ):
            try:
                events = read_events(data_file(entry.path, load_meta(entry.path), "events"))
            except NfbError as err:
                logger.warning("history: %s; its inhibit limits are not reused", err)
                events = []
            limits = {
                str(e["inhibit"]): float(e["value"])
                for e in events
                if e["kind"] == INHIBIT_LIMIT_EVENT
                and isinstance(e.get("inhibit"), str)
                and _num(e.get("value")) is not None
            }
            return replace(entry, inhibit_limits=limits)
    return None
