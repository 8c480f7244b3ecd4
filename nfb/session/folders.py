"""The folder tree of a session store: where it is, walking it, and making session folders.

``<store>/<client id>/<session id>/``. Folders are made 0700 (where the platform has modes)
and never through a link; a walk lists real folders only, so a link planted in the store
never leads a listing, a recovery or a report outside it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .. import fs
from .._logging import logger
from ..errors import SessionError
from ..paths import default_sessions_dir as default_sessions_dir  # the per-user store
from .format import META_FILE


def subfolders(folder: Path) -> list[Path]:
    """The real (not symlinked) subfolders of ``folder``, sorted; one that cannot be listed
    (``lost+found`` at the root of a store's own disk) is skipped with a warning."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        logger.warning("skipping %s: %s", folder, err.strerror or err)
        return []
    return [entry for entry in entries if fs.is_real_dir(entry)]


def session_folders(client_dirs: list[Path]) -> list[Path]:
    """The folders holding a ``session.json`` (whatever it is: a planted link or a FIFO is
    there to be refused with one line) in these client folders (missing ones: none)."""
    return [
        folder
        for client_dir in client_dirs
        if fs.is_real_dir(client_dir)
        for folder in subfolders(client_dir)
        if os.path.lexists(folder / META_FILE)
    ]


def store_folders(root: Path) -> list[Path]:
    """Every session folder of the store ``root`` (none if it does not exist).

    The store itself may be a link (the user's choice of disk); what is inside it may not.
    """
    return session_folders(subfolders(root) if root.is_dir() else [])


def new_session_folder(root: Path, client: str, base: str) -> Path:
    """Create ``root/client/base`` (or ``base-2``, ``base-3``...: never an existing one)."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fs.chmod_private_dir(root)  # the store lists client ids and dates: private too
        client_dir = root / client
        fs.mkdir_private(client_dir, exist_ok=True)
        session_id = base
        for n in range(2, 10_000):
            try:
                os.mkdir(client_dir / session_id, 0o700)
                break
            except FileExistsError:
                session_id = f"{base}-{n}"
        else:  # pragma: no cover
            raise SessionError(f"too many sessions named {base} in {client_dir}")
        path = client_dir / session_id
        fs.chmod_private_dir(path)
    except OSError as err:
        raise SessionError(f"cannot create a session in {root}: {err.strerror or err}") from None
    return path


def claim_folder(path: Path) -> Path:
    """Create ``path`` (0700) for a session, or take it if it is an empty real folder."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not fs.is_real_dir(path) or any(path.iterdir()):
                raise SessionError(
                    f"{path} already exists and is not an empty folder; choose a new one"
                ) from None
        fs.chmod_private_dir(path)
    except OSError as err:
        raise SessionError(f"cannot create {path}: {err.strerror or err}") from None
    return path


#: What a recorder makes before ``session.json``: a folder holding only these (empty data
#: files, the disk reserve, a temporary session.json, a lock's owner file) is a start that
#: failed or was killed, and holds no recording.
START_FILES = ("raw.f64", "frames.f64", "events.jsonl", ".reserve", ".raw.f64.owner")


def is_failed_start(folder: Path) -> bool:
    """Whether ``folder`` is what a failed session start left (see :data:`START_FILES`)."""
    if os.path.lexists(folder / META_FILE):
        return False
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        name = entry.name
        ours = name in START_FILES or (name.startswith(f".{META_FILE}.") and name.endswith("tmp"))
        if not ours or not entry.is_file(follow_symlinks=False):
            return False
        if name in START_FILES[:3] and entry.stat(follow_symlinks=False).st_size:
            return False  # data: not ours to delete
    return True


def remove_failed_start(folder: Path) -> bool:
    """Delete a failed start's folder (only its own files, never through a link)."""
    if not is_failed_start(folder):
        return False
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            os.unlink(entry.path)
        os.rmdir(folder)
        return True
    return False
