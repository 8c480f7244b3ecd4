"""The session store as a whole: list its sessions, edit a finished one's notes.

This module is also where callers import the store's public names from: reading
(:mod:`.reader`), the schema (:mod:`.schema`), annotations (:mod:`.annotations`) and recovery
(:mod:`.recovery`) each live in a module of their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._logging import logger
from ..errors import SessionError
from .annotations import session_annotations
from .clients import ClientIndex, validate_client
from .folders import default_sessions_dir, session_folders, subfolders
from .format import META_FILE, STATUSES, frames_dtype, write_json_atomic
from .reader import (
    RecordedSession,
    data_file,
    is_live,
    n_records,
    read_events,
    read_records,
    read_session,
    session_status,
)
from .recovery import Recovery, recover_session, recover_store
from .schema import load_meta

__all__ = [
    "EDITABLE_FIELDS",
    "STATUSES",
    "RecordedSession",
    "Recovery",
    "frames_dtype",
    "is_live",
    "list_sessions",
    "load_meta",
    "read_events",
    "read_records",
    "read_session",
    "recover_session",
    "recover_store",
    "session_annotations",
    "update_session_meta",
]


def list_sessions(
    sessions_dir: str | os.PathLike | None = None, client: str | None = None
) -> list[dict[str, Any]]:
    """List the sessions of a session store.

    Parameters
    ----------
    sessions_dir : path-like | None
        The store; ``None`` for ``$NFB_SESSIONS_DIR``, else the per-user data folder.
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
        # a client's name (as the index knows it) or id
        known = ClientIndex(root).find(str(client)) if root.is_dir() else None
        client_dirs = [root / (known or validate_client(client))]
    else:
        client_dirs = subfolders(root) if root.is_dir() else []
    out = []
    for folder in session_folders(client_dirs):
        try:
            meta = load_meta(folder)
            n = n_records(data_file(folder, meta, "raw"), len(meta["raw"]["columns"]))
        except SessionError as err:
            logger.warning("Skipping %s", err)
            continue
        protocol = meta.get("protocol")
        out.append(
            {
                "path": folder,
                "client": meta.get("client", folder.parent.name),
                "session_id": meta.get("session_id", folder.name),
                "protocol": protocol.get("name") if isinstance(protocol, dict) else None,
                "start_time": meta.get("start_time"),
                "status": session_status(folder, meta),
                "duration_s": n / float(meta["layout"]["sfreq"]),
            }
        )
    out.sort(key=lambda s: (str(s["start_time"]), s["client"], s["session_id"]))
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
    path = Path(path)
    bad = sorted(set(fields) - set(EDITABLE_FIELDS))
    if bad:
        raise SessionError(f"{bad[0]} cannot be changed; editable: {', '.join(EDITABLE_FIELDS)}")
    if is_live(path):
        raise SessionError(f"{path} is still being recorded")
    meta = load_meta(path)
    meta.update(fields)
    try:
        write_json_atomic(path / META_FILE, meta)
    except OSError as err:
        raise SessionError(f"cannot write {path / META_FILE}: {err.strerror or err}") from None
    return meta
