"""Where nfb keeps things: built-in presets, the user's own ones, and the session store.

* **Built-in** device profiles and protocol presets ship inside the package
  (``nfb.builtin_devices``, ``nfb.builtin_protocols``; the repository's ``devices/`` and
  ``protocols/``, carried into the wheel by the build) and are read with
  :mod:`importlib.resources`.
* **User** profiles and protocols live in the per-user config folder
  (``platformdirs.user_config_dir("nfb")``, or ``$NFB_CONFIG_DIR``): ``devices/*.toml`` and
  ``protocols/*.toml`` there add to the built-in ones, and one of the same name replaces it.
* The **session store** defaults to ``sessions`` in the per-user data folder
  (``platformdirs.user_data_dir("nfb")``, or ``$NFB_DATA_DIR``); ``$NFB_SESSIONS_DIR`` or
  ``--sessions-dir`` choose another. A store left in ``./sessions`` by an older nfb is pointed
  out once per process (:func:`legacy_store_notice`; the console shows it too), never
  silently abandoned.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

from ._logging import logger

#: Kinds of preset and the package that holds the built-in ones.
BUILTIN_PACKAGES = {"devices": "nfb.builtin_devices", "protocols": "nfb.builtin_protocols"}
#: Environment variables that replace the built-in folder of a kind (tests, development).
BUILTIN_ENV = {"devices": "NFB_DEVICES_DIR", "protocols": "NFB_PROTOCOLS_DIR"}
BUILTIN = "built-in"
USER = "user"


def user_config_dir() -> Path:
    """The per-user config folder: ``$NFB_CONFIG_DIR``, else platformdirs' for ``nfb``."""
    env = os.environ.get("NFB_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("nfb", appauthor=False))


def user_data_dir() -> Path:
    """The per-user data folder: ``$NFB_DATA_DIR``, else platformdirs' for ``nfb``."""
    env = os.environ.get("NFB_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nfb", appauthor=False))


def builtin_dir(kind: str) -> Path:
    """The folder of the built-in presets of ``kind`` (``"devices"`` or ``"protocols"``).

    ``$NFB_DEVICES_DIR`` / ``$NFB_PROTOCOLS_DIR`` replace it. Otherwise it is the package
    data (``importlib.resources``), which in a checkout without an install is the
    repository's top-level folder.
    """
    env = os.environ.get(BUILTIN_ENV[kind])
    if env:
        return Path(env).expanduser()
    try:
        resource = importlib.resources.files(BUILTIN_PACKAGES[kind])
        return Path(os.fspath(resource))  # a wheel or an editable install: a real folder
    except (ModuleNotFoundError, TypeError):  # running from a checkout on sys.path
        return Path(__file__).resolve().parent.parent / kind


def user_dir(kind: str) -> Path:
    """The folder of the user's own presets of ``kind``, in :func:`user_config_dir`."""
    return user_config_dir() / kind


@dataclass(frozen=True)
class Preset:
    """One preset file and where it comes from.

    Attributes
    ----------
    name : str
        The file stem (``"cyton"``).
    path : Path
    origin : str
        ``"built-in"`` or ``"user"``.
    overrides : bool
        A user preset that replaces a built-in one of the same name.
    """

    name: str
    path: Path
    origin: str
    overrides: bool = False

    @property
    def label(self) -> str:
        """``"built-in"``, ``"user"`` or ``"user (replaces built-in)"``."""
        return f"{self.origin} (replaces built-in)" if self.overrides else self.origin


def _tomls(folder: Path) -> dict[str, Path]:
    try:
        return {p.stem: p for p in folder.glob("*.toml") if p.is_file()}
    except OSError:  # an unreadable folder lists nothing; loading a name says why
        return {}


def presets(kind: str) -> dict[str, Preset]:
    """Every preset of ``kind`` by name: the built-in ones, extended or replaced by the user's."""
    builtin = _tomls(builtin_dir(kind))
    user = _tomls(user_dir(kind))
    out = {name: Preset(name, path, BUILTIN) for name, path in builtin.items()}
    for name, path in user.items():
        out[name] = Preset(name, path, USER, overrides=name in builtin)
    return dict(sorted(out.items()))


def origin_of(kind: str, path: Path | None) -> str:
    """``"built-in"``, ``"user"`` or ``"file"`` (a path given by hand) for a preset's path."""
    if path is None:
        return "file"
    for preset in presets(kind).values():
        if _same(preset.path, path):
            return preset.label
    return "file"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --- the session store ---------------------------------------------------------------------
#: Where stores were by default before the per-user data folder (relative to the cwd).
LEGACY_STORE = Path("sessions")
_noticed: set[Path] = set()


def default_sessions_dir() -> Path:
    """The default session store: ``$NFB_SESSIONS_DIR``, else ``sessions`` in the data folder.

    The first call of a process that finds sessions in ``./sessions`` (the default of older
    versions) logs one warning naming both folders and how to keep using the old one.
    """
    env = os.environ.get("NFB_SESSIONS_DIR")
    if env:
        return Path(env).expanduser()
    store = user_data_dir() / "sessions"
    notice = legacy_store_notice(store)
    if notice is not None and Path.cwd() not in _noticed:
        _noticed.add(Path.cwd())
        logger.warning("%s", notice)
    return store


def legacy_store_notice(store: Path, *, cwd: Path | None = None) -> str | None:
    """One line about sessions in ``./sessions`` when the store in use is elsewhere.

    Parameters
    ----------
    store : Path
        The store in use.
    cwd : Path | None
        The folder to look in (default: the current one).

    Returns
    -------
    str | None
        The notice, or None if ``./sessions`` holds no session or is the store in use.
    """
    old = (cwd or Path.cwd()) / LEGACY_STORE
    try:
        old = old.resolve()
        if old == store.expanduser().resolve() or not _has_sessions(old):
            return None
    except OSError:
        return None
    return (
        f"sessions found in {old}, the default store of older nfb versions; the store is now "
        f"{store}. Use --sessions-dir {old} (or $NFB_SESSIONS_DIR) to keep using the old "
        f"one, or move its client folders into the new one"
    )


def _has_sessions(root: Path, limit: int = 2000) -> bool:
    """Whether ``root`` holds ``<client>/<session>/session.json`` (looks at ``limit`` folders)."""
    if not root.is_dir():
        return False
    seen = 0
    for client in root.iterdir():
        if not client.is_dir() or client.name.startswith("."):
            continue
        for session in client.iterdir():
            seen += 1
            if (session / "session.json").is_file():
                return True
            if seen >= limit:
                return False
    return False
