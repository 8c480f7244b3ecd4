"""Pseudonymous client ids: client names stay in one local index, folders hold only ids.

Session data is health data. A practitioner knows a client by name; nfb files the sessions
under a random id (``c`` and 8 letters or digits, e.g. ``c7kq2mzx4``) and keeps the mapping in
``<store>/clients.json`` (mode 0600, in the 0700 store). Session folders, ``session.json``,
exports (BIDS subject, EDF patient field), reports and LSL streams carry the id only, so a
session can be shared without the index, and deleting a name from the index (or the index)
leaves the data pseudonymous.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import fs
from .._logging import logger
from ..errors import ConfigError, SessionError, one_line
from .folders import default_sessions_dir
from .format import write_json_atomic

INDEX_FILE = "clients.json"
INDEX_FORMAT = "nfb-clients"
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: ids are read aloud and copied


#: Longest client name (characters).
MAX_NAME = 100
#: Seconds a writer waits for another nfb that holds the index (two consoles on one store);
#: a GUI thread must never wait for ever.
LOCK_TIMEOUT_S = 10.0

_CLIENT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}", re.ASCII)
_CLIENT_RULE = "1-64 letters, digits, '-', '_' or '.', not starting with '.'"


def validate_client(client: Any) -> str:
    """Return ``client`` if it is a safe client id, else raise :class:`SessionError`.

    A client id becomes a folder name, so it is restricted to 1–64 ASCII letters, digits,
    ``-``, ``_`` and ``.``, not starting with ``.`` (no path separators, no ``..``).
    """
    if not isinstance(client, str) or _CLIENT_RE.fullmatch(client) is None:
        raise SessionError(f"invalid client id {client!r:.80}: use {_CLIENT_RULE}")
    return client


def _shown(text: str) -> str:
    """``text`` quoted on one line, control characters escaped, long names cut."""
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def _normal(name: str) -> str:
    """Names match whatever their case, accents' encoding and spacing."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def new_client_id() -> str:
    """A fresh random id: ``c`` and 8 characters (40 bits), BIDS- and folder-safe."""
    return "c" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


class ClientIndex:
    """The name ↔ id index of a session store.

    Parameters
    ----------
    sessions_dir : path-like | None
        The store (default ``$NFB_SESSIONS_DIR``, else the per-user data folder).
    """

    def __init__(self, sessions_dir: str | os.PathLike | None = None) -> None:
        self.root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
        self.path = self.root / INDEX_FILE

    # --- reading ---------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = fs.read_json(self.path, fs.MAX_INDEX_BYTES)
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise SessionError(f"{self.path} is refused: {err.strerror or err}") from None
        try:
            clients = data["clients"]
            if data.get("format") != INDEX_FORMAT or not isinstance(clients, dict):
                raise ValueError("not an nfb client index")
            for cid, entry in clients.items():
                validate_client(cid)
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ValueError(f"entry {cid!r} has no name")
        except (ValueError, KeyError, TypeError, SessionError) as e:
            raise SessionError(f"{self.path} is corrupted ({one_line(e)})") from None
        return clients

    def clients(self) -> dict[str, str]:
        """Every client id of the index with its name."""
        return {cid: entry["name"] for cid, entry in sorted(self._load().items())}

    def name(self, client_id: str) -> str | None:
        """The name of a client id, or ``None`` if the index does not know it."""
        entry = self._load().get(client_id)
        return entry["name"] if entry else None

    def find(self, name_or_id: str) -> str | None:
        """The id of a known client (by id or by name, whatever its spacing), else ``None``."""
        clients = self._load()
        name_or_id = " ".join(name_or_id.split())
        if name_or_id in clients:
            return name_or_id
        key = _normal(name_or_id)
        for cid, entry in clients.items():
            if _normal(entry["name"]) == key:
                return cid
        return None

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        # two consoles on one store must not hand out two ids for one new name
        lock_file = self.root / f".{INDEX_FILE}.lock"
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            held = fs.lock(lock_file, create=True, flags=os.O_RDWR, timeout=LOCK_TIMEOUT_S)
        except fs.LockBusy:
            raise SessionError(
                f"{lock_file} is held by another nfb for over {LOCK_TIMEOUT_S:g} s; "
                "close the other console and try again"
            ) from None
        except OSError as err:
            raise SessionError(f"cannot lock {lock_file}: {err.strerror or err}") from None
        with held:
            yield

    def resolve(self, name_or_id: str, *, create: bool = True) -> str:
        """The client id for what the practitioner typed.

        A known id or name gives its id; a client folder that predates the index is its own
        id; anything else is a new client's name, which gets a new random id (``create``).

        Raises
        ------
        ConfigError
            An empty name, or an unknown client with ``create=False``.
        """
        if not isinstance(name_or_id, str) or not _normal(name_or_id):
            raise ConfigError(f"--client: a client name or id is needed, got {name_or_id!r}")
        text = " ".join(name_or_id.split())
        if len(text) > MAX_NAME or "/" in text or "\\" in text or text.startswith("."):
            # names never become paths, but one that looks like a path is refused, not stored
            raise ConfigError(
                f"client name {_shown(text)}: at most {MAX_NAME} characters, no '/' or '\\', "
                "not starting with '.'"
            )
        if not all(c.isprintable() for c in text):
            raise ConfigError(f"client name {_shown(text)}: control characters are not allowed")
        with self._locked():
            found = self.find(text)
            if found is not None:
                return found
            if _is_legacy_folder(self.root, text):
                return text
            if not create:
                raise ConfigError(
                    f"--client {text!r}: no such client in {self.path}; "
                    f"known: {', '.join(self.clients()) or 'none'}"
                )
            clients = self._load()
            cid = new_client_id()
            while cid in clients or (self.root / cid).exists():
                cid = new_client_id()
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            clients[cid] = {"name": text, "created": now}
            try:
                write_json_atomic(
                    self.path, {"format": INDEX_FORMAT, "version": 1, "clients": clients}
                )
            except OSError as err:
                raise SessionError(f"cannot write {self.path}: {err.strerror or err}") from None
        logger.info("new client: sessions of %r are filed under the id %s", text, cid)
        return cid


def client_names(sessions_dir: str | os.PathLike | None = None) -> list[str]:
    """What a practitioner picks from: the index's names, and client folders it does not know
    (stores from before the index), sorted; an unreadable index gives the folders only."""
    index = ClientIndex(sessions_dir)
    try:
        known = index.clients()
    except SessionError as err:
        logger.warning("%s", err)
        known = {}
    names = set(known.values())
    try:
        folders = list(index.root.iterdir()) if index.root.is_dir() else []
    except OSError as err:
        logger.warning("cannot list %s: %s", index.root, err.strerror or err)
        folders = []
    for folder in folders:
        if fs.is_real_dir(folder) and folder.name not in known and _is_client_id(folder.name):
            names.add(folder.name)  # lost+found and the like are not clients
    return sorted(names, key=_normal)


def _is_client_id(text: str) -> bool:
    try:
        validate_client(text)
    except SessionError:
        return False
    return True


def _is_legacy_folder(root: Path, text: str) -> bool:
    try:
        validate_client(text)
    except SessionError:
        return False
    return fs.is_real_dir(root / text)


def resolve_client(
    name_or_id: str, sessions_dir: str | os.PathLike | None = None, *, create: bool = True
) -> str:
    """The pseudonymous id of a client name (or id); see :class:`ClientIndex`."""
    return ClientIndex(sessions_dir).resolve(name_or_id, create=create)
