"""Write a report file: checked path, temp file, ``os.replace``, mode 0600."""

from __future__ import annotations

import os
from pathlib import Path

from .. import fs
from ..errors import ConfigError, SessionError


def check_out(out: str | os.PathLike, *, force: bool = False) -> Path:
    """Check that ``out`` can be written, before any work is done.

    Raises
    ------
    ConfigError
        If its folder does not exist, it is a folder, or it exists and ``force`` is false.
    """
    out = Path(out).expanduser()
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: folder {parent} does not exist")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as report.html")
    if (out.exists() or out.is_symlink()) and not force:
        raise _exists(out)
    return out


def _exists(out: Path) -> ConfigError:
    return ConfigError(f"--out {out} already exists; pass --overwrite to replace it")


def _link_new(tmp: Path, out: Path) -> None:
    """Give ``tmp`` the name ``out`` only if ``out`` does not exist, atomically (a hard link
    fails if the name is taken, so a file that appeared meanwhile is never replaced)."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise _exists(out) from None
    except OSError:  # a filesystem without hard links: check, then rename
        if out.exists() or out.is_symlink():
            raise _exists(out) from None
        fs.replace(tmp, out)


def write_report(html: str, out: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``html`` to ``out`` atomically, readable by the user only (0600).

    A reader never sees a half-written report: the text goes to a temporary file in the same
    folder, is fsynced, then takes the name ``out`` (``os.replace`` with ``force``, else a
    hard link, which fails rather than replace a file that appeared meanwhile). Session data
    is health data, hence 0600 whatever the umask.

    Parameters
    ----------
    html : str
        The document.
    out : path-like
        The file to write.
    force : bool
        Replace an existing file.

    Returns
    -------
    out : Path
    """
    out = check_out(out, force=force)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fd = fs.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fs.make_private(fd, tmp)
            fs.write_all(fd, html.encode("utf-8"))
            fs.sync(fd)
        finally:
            os.close(fd)
        if force:
            fs.replace(tmp, out)
        else:
            _link_new(tmp, out)
    except OSError as err:
        raise SessionError(f"cannot write {out}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
