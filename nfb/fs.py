"""The file-system layer: every read and write of the session store goes through here.

The store is clinical data on practitioners' desktops (Windows and macOS as often as Linux),
so the platform differences live in this one module, and nothing here is POSIX-only at
module level (``fcntl`` and ``msvcrt`` are imported inside functions, where they exist):

- files are opened without following a symbolic link (``O_NOFOLLOW`` where it exists, an
  ``lstat``/``fstat`` comparison elsewhere), and anything that is not a regular file (a link,
  a FIFO, a device, a folder) is refused with :class:`NotRegularFile`;
- reads are bounded: a size cap per file kind (:class:`TooLarge`), and JSON nesting depth
  is checked before parsing (:class:`TooDeep`), so no file makes a reader recurse or read
  forever;
- locks (:func:`lock`) are ``flock`` on POSIX, ``msvcrt.locking`` on Windows, and a lock
  file holding the owner's process id where neither exists; every wait has a timeout;
- :func:`write_atomic` writes a temporary file, syncs it and replaces the target, retrying
  while Windows holds the target open;
- :func:`sync` reaches the disk (``F_FULLFSYNC`` on macOS, where ``fsync`` stops at the
  drive's cache); :func:`preallocate` falls back to writing zeros without
  ``posix_fallocate`` (macOS, Windows); :func:`make_private` sets 0600/0700 where the
  platform has modes (on Windows the store's privacy is that of the user's profile folder).

Every failure is an :class:`OSError` (its ``strerror`` is one line), so callers keep one
``except OSError`` and one message.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Size caps of what is read whole (bytes). Data files (``raw.f64``...) are read by their
#: ``fstat`` size instead: a regular file ends.
MAX_META_BYTES = 16 * 2**20  # session.json
MAX_EVENTS_BYTES = 512 * 2**20  # events.jsonl (a day of markers is a few MB)
MAX_INDEX_BYTES = 16 * 2**20  # clients.json
MAX_CONFIG_BYTES = 2**20  # a protocol or device TOML, a --set value
MAX_SIDECAR_BYTES = 16 * 2**20  # BIDS sidecars and tables
#: Deepest JSON nesting a store file may have (session.json needs about 6).
MAX_JSON_DEPTH = 64

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO's open must not wait for a writer
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # the writer threads' fds stay out of children
#: Seconds :func:`replace` retries while another process holds the target open (Windows).
REPLACE_RETRY_S = 2.0


class NotRegularFile(OSError):
    """A path of the store that is a link, a FIFO, a device or a folder, not a file."""


class TooLarge(OSError):
    """A file larger than the cap of its kind."""


class TooDeep(OSError):
    """A JSON document nested deeper than :data:`MAX_JSON_DEPTH`."""


class LockBusy(OSError):
    """Another process (or another open file of this one) holds the lock."""


def describe(path: str | os.PathLike) -> str | None:
    """What ``path`` is if it is not a regular file: ``"a symbolic link"``, ``"a FIFO"``...

    Returns None for a regular file, or if nothing is there.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return _kind(st.st_mode)


def describe_target(path: str | os.PathLike) -> str | None:
    """:func:`describe` of what a link leads to (None: a regular file, or nothing there)."""
    try:
        return _kind(os.stat(path).st_mode)
    except OSError:
        return None


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover - doors, whiteouts


def _refuse(path: str | os.PathLike, what: str) -> NotRegularFile:
    return NotRegularFile(errno.EINVAL, f"{what}, not a regular file", os.fspath(path))


def open_file(
    path: str | os.PathLike, flags: int = os.O_RDONLY, mode: int = 0o600, *, follow: bool = False
) -> int:
    """Open a regular file without following a symbolic link; return the fd.

    Parameters
    ----------
    path : path-like
        The file.
    flags : int
        ``os.open`` flags (``O_NOFOLLOW`` and ``O_BINARY`` are added).
    mode : int
        The mode of a created file.
    follow : bool
        Follow a link (a user's own file outside the store: a protocol, a profile); what it
        leads to must still be a regular file.

    Raises
    ------
    NotRegularFile
        ``path`` is a link, a FIFO, a device or a folder (nothing was read or written).
    OSError
        It cannot be opened.
    """
    path = os.fspath(path)
    nofollow = 0 if follow else _O_NOFOLLOW
    if not follow and not _O_NOFOLLOW:
        # no O_NOFOLLOW (Windows): look first, and compare what was opened with what we saw
        what = describe(path)
        if what is not None:
            raise _refuse(path, what)
    try:
        before = os.lstat(path) if not follow and not _O_NOFOLLOW else None
    except FileNotFoundError:
        before = None
    nonblock = _O_NONBLOCK if (flags & (os.O_WRONLY | os.O_RDWR)) == 0 else 0
    try:
        fd = os.open(path, flags | nofollow | _O_BINARY | _O_CLOEXEC | nonblock, mode)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR):
            # ELOOP (EMLINK on FreeBSD): the last part is a link; ENXIO: a FIFO with no
            # reader; EISDIR: a folder opened for writing
            what = (describe_target(path) if follow else describe(path)) or "not a regular file"
            raise _refuse(path, what) from None
        raise
    try:
        st = os.fstat(fd)
        what = _kind(st.st_mode)
        if (
            what is None
            and before is not None
            and (st.st_dev, st.st_ino)
            != (
                before.st_dev,
                before.st_ino,
            )
        ):
            what = "a file swapped while it was opened"
        if what is not None:
            raise _refuse(path, what)
        if nonblock:
            _clear_nonblock(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _clear_nonblock(fd: int) -> None:
    """Regular files ignore O_NONBLOCK, but a child inheriting the fd should not see it."""
    with contextlib.suppress(AttributeError, OSError):
        os.set_blocking(fd, True)


@contextlib.contextmanager
def opened(path: str | os.PathLike, flags: int = os.O_RDONLY, mode: int = 0o600) -> Iterator[int]:
    """:func:`open_file` as a context manager that closes the fd."""
    fd = open_file(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)


def size(path: str | os.PathLike) -> int:
    """The size of a regular file (0 if it does not exist); refuses links and special files."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    what = _kind(st.st_mode)
    if what is not None:
        raise _refuse(path, what)
    return st.st_size


def read_fd(
    fd: int, limit: int, path: str | os.PathLike = "", offset: int = 0, *, cap: bool = True
) -> bytes:
    """Read from ``offset`` of an open file, at most ``limit`` bytes.

    With ``cap``, a file holding more raises :class:`TooLarge` (measured by reading, not
    only by ``fstat``: some files claim 0 bytes and never end); without, the first
    ``limit`` bytes are returned (a data file read up to what it held when opened).
    """
    chunks: list[bytes] = []
    total = 0
    want = limit + 1 if cap else limit
    while total < want:
        chunk = read_at(fd, min(2**24, want - total), offset + total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if cap and total > limit:
        raise TooLarge(errno.EFBIG, f"larger than {_mb(limit)}", os.fspath(path))
    return b"".join(chunks)


def read_at(fd: int, n: int, offset: int) -> bytes:
    """Up to ``n`` bytes at ``offset`` of an open file (``pread``, else seek and read)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows has no pread
    return os.read(fd, n)


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"


def read_bytes(path: str | os.PathLike, limit: int, *, follow: bool = False) -> bytes:
    """The content of a regular file of at most ``limit`` bytes (see :func:`open_file`)."""
    fd = open_file(path, follow=follow)
    try:
        if os.fstat(fd).st_size > limit:
            raise TooLarge(errno.EFBIG, f"larger than {_mb(limit)}", os.fspath(path))
        return read_fd(fd, limit, path)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, limit: int, *, follow: bool = False) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes.

    Raises :class:`OSError` (``EILSEQ``) for bytes that are not UTF-8.
    """
    data = read_bytes(path, limit, follow=follow)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OSError(errno.EILSEQ, f"not UTF-8 text (byte {err.start})", os.fspath(path)) from None


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (strings are not counted)."""
    import re

    import numpy as np

    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    data = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', data)  # brackets inside strings do not nest
    codes = np.frombuffer(data, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def loads_json(
    text: str | bytes, path: str | os.PathLike = "", max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse JSON, refusing nesting deeper than ``max_depth`` (:class:`TooDeep`) before the
    parser recurses; malformed text raises :class:`ValueError` as ``json.loads`` does."""
    if json_depth(text) > max_depth:
        raise TooDeep(errno.EINVAL, f"nested deeper than {max_depth} levels", os.fspath(path))
    return json.loads(text)


def read_json(path: str | os.PathLike, limit: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Read and parse a JSON file (bounded size and depth); see :func:`loads_json`."""
    return loads_json(read_text(path, limit), path, max_depth)


# ---------------------------------------------------------------------------------- writing
def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_new(
    path: str | os.PathLike, data: bytes, *, exclusive: bool = True, durable: bool = False
) -> None:
    """Write ``data`` to a new file ``path`` (0600, never through a link).

    ``exclusive``: refuse a name that exists (``FileExistsError``), else truncate our own
    file; ``durable``: :func:`sync` it before closing.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = open_file(path, flags, 0o600)
    try:
        write_all(fd, data)
        if durable:
            sync(fd)
    finally:
        os.close(fd)


def sync(fd: int) -> None:
    """Make what was written to ``fd`` durable.

    ``fsync`` on macOS leaves data in the drive's cache; ``F_FULLFSYNC`` flushes it (and is
    refused by some filesystems, which then get ``fsync``).
    """
    if sys.platform == "darwin":
        try:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except (ImportError, AttributeError, OSError):
            pass
    os.fsync(fd)


def sync_dir(path: str | os.PathLike) -> None:
    """Make a rename or a new file in the folder ``path`` durable, where the platform can.

    Windows has no fsync of a folder (NTFS journals its metadata): nothing to do there.
    """
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None or os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_RDONLY | flag | _O_NOFOLLOW)
    except OSError:
        return
    try:
        sync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync of a folder
        pass
    finally:
        os.close(fd)


def make_private(fd: int, path: str | os.PathLike | None = None, mode: int = 0o600) -> None:
    """Give an open file ``mode`` (0600: the user only), where the platform has modes.

    Windows has no POSIX modes: a file there is as private as the folder it is in (the
    user's profile), so there is nothing to do.
    """
    if os.name != "posix":
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    elif path is not None:  # opened without following links just before: the same file
        os.chmod(path, mode)


def mkdir_private(path: str | os.PathLike, *, exist_ok: bool = False) -> None:
    """Create the folder ``path`` with mode 0700 (or check an existing real one, 0700 it).

    Raises :class:`NotRegularFile`-like :class:`OSError` if ``path`` is a link or a file.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not exist_ok:
            raise
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise NotRegularFile(
                errno.EEXIST, f"{_kind(st.st_mode) or 'a file'}, not a folder", os.fspath(path)
            ) from None
    chmod_private_dir(path)


def chmod_private_dir(path: str | os.PathLike) -> None:
    """0700 a folder where the platform has modes (a folder someone else owns is theirs)."""
    if os.name != "posix":
        return
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o700)


def is_real_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder and not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """``os.replace``, retried for :data:`REPLACE_RETRY_S` while the target is held open.

    On Windows a file another process has open (a reader, an indexer, an antivirus) cannot
    be replaced for a moment: ``PermissionError``. Elsewhere the first try is the answer.
    """
    deadline = time.monotonic() + REPLACE_RETRY_S
    delay = 0.01
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or time.monotonic() > deadline:
                raise
        time.sleep(delay)  # a wait for another process, not for timing
        delay = min(delay * 2, 0.2)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file (0600, never through a link),
    synced, then :func:`replace`, then the folder synced.

    Raises :class:`OSError` on failure; the previous file is then untouched. A ``path``
    that is a link or a special file is refused (:class:`NotRegularFile`), not replaced.
    """
    path = Path(path)
    what = describe(path)
    if what is not None:
        raise _refuse(path, what)
    # one temporary name per writer: two writers of one file (a recovery and a notes edit)
    # must not rename each other's half-written data into place
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # our own leftover (a killed write of this pid and thread)
    fd = open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        make_private(fd, tmp)
        write_all(fd, data)
        sync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sync_dir(path.parent)


def preallocate(fd: int, n_bytes: int) -> None:
    """Reserve ``n_bytes`` on disk for ``fd`` (``posix_fallocate``, else zeros written)."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, 0, n_bytes)
            return
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", 0)):
                raise  # ENOSPC: the disk is full, say so
    os.lseek(fd, 0, os.SEEK_SET)
    write_all(fd, bytes(n_bytes))


# ---------------------------------------------------------------------------------- locking
#: Where a lock with neither flock nor msvcrt lives: ``.<name>.owner`` beside the file.
_OWNER_SUFFIX = ".owner"
#: msvcrt locks a byte range and Windows enforces it against reads: lock one byte far past
#: any data, so readers of the file are never refused.
_MSVCRT_OFFSET = 2**62


def _backend() -> str:
    try:
        import fcntl  # noqa: F401

        return "flock"
    except ImportError:
        pass
    try:
        import msvcrt  # noqa: F401

        return "msvcrt"
    except ImportError:
        return "owner-file"


class Lock:
    """A lock held on a file of the store; :meth:`release` (or ``with``) frees it.

    The lock is also freed when the process ends, however it ends, with ``flock`` and
    ``msvcrt``; the owner-file fallback (a platform with neither) checks whether the owner's
    process still runs.
    """

    def __init__(self, fd: int, backend: str, owner: str | None = None) -> None:
        self.fd = fd
        self.backend = backend
        self._owner = owner

    def release(self) -> None:
        """Free the lock and close its file (idempotent)."""
        if self.fd < 0:
            return
        if self._owner is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._owner)
        with contextlib.suppress(OSError):
            os.close(self.fd)  # closing releases flock and msvcrt locks
        self.fd = -1

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock(
    path: str | os.PathLike,
    *,
    shared: bool = False,
    timeout: float = 0.0,
    create: bool = False,
    flags: int = os.O_RDONLY,
) -> Lock:
    """Lock the regular file ``path`` (opened without following links).

    Parameters
    ----------
    path : path-like
        The file to lock.
    shared : bool
        A shared lock (readers probing whether a writer holds the file); where the platform
        has no shared locks it is an exclusive one, held for as long as the caller holds it.
    timeout : float
        Seconds to wait for a lock another holds; 0 tries once. Never waits forever: a GUI
        thread must not hang on a lock.
    create : bool
        Create the file (0600) if it is missing.
    flags : int
        ``os.open`` access flags of the file kept open with the lock.

    Raises
    ------
    LockBusy
        Someone else holds it after ``timeout`` seconds.
    OSError
        The file cannot be opened (:class:`NotRegularFile` for a link or a FIFO).
    """
    backend = _backend()
    fd = open_file(path, flags | (os.O_CREAT if create else 0), 0o600)
    deadline = time.monotonic() + max(0.0, timeout)
    delay = 0.005
    try:
        while True:
            owner = _try_lock(fd, path, backend, shared)
            if owner is not False:
                return Lock(fd, backend, owner if isinstance(owner, str) else None)
            if time.monotonic() >= deadline:
                raise LockBusy(errno.EAGAIN, "in use by another nfb", os.fspath(path))
            time.sleep(delay)  # waiting for another process to release its lock
            delay = min(delay * 2, 0.1)
    except BaseException:
        os.close(fd)
        raise


def _try_lock(fd: int, path: str | os.PathLike, backend: str, shared: bool) -> bool | str:
    """One attempt: True (or the owner file's path) if locked, False if busy."""
    if backend == "flock":
        import fcntl

        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as err:  # pragma: no cover - a filesystem without flock (some NFS)
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                return True
            raise
        return True
    if backend == "msvcrt":  # pragma: no cover - Windows
        import msvcrt

        pos = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, _MSVCRT_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, pos, os.SEEK_SET)
        return True
    return _try_owner_file(path, shared)


def _try_owner_file(path: str | os.PathLike, shared: bool) -> bool | str:
    """The fallback lock: ``.<name>.owner`` created exclusively, holding our process id.

    A shared lock only checks that no live owner holds it; an owner whose process is gone
    (killed, crashed) leaves a stale file, which is taken over.
    """
    p = Path(path)
    owner = p.with_name(f".{p.name}{_OWNER_SUFFIX}")
    for _ in range(3):
        if shared:
            return not _live_owner(owner)
        try:
            _create_with(owner, f"{os.getpid()}\n".encode())
        except FileExistsError:
            if _live_owner(owner):
                return False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(owner)  # stale: its process is gone
            continue
        return str(owner)
    return False


def _create_with(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, all at once: never seen empty by another process
    (a hard link of a finished temporary file), else ``FileExistsError``."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    write_new(tmp, data, exclusive=False)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: create it exclusively instead
        write_new(path, data)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _live_owner(owner: Path) -> bool | None:
    """True if ``owner`` names a running process, None if there is no owner file."""
    try:
        text = read_text(owner, 64)
    except FileNotFoundError:
        return None
    except OSError:
        return True  # unreadable: treat as held rather than take someone's lock
    try:
        pid = int(text.strip())
    except ValueError:
        return False  # half-written by a killed owner
    return pid == os.getpid() or _pid_running(pid)


def _pid_running(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) terminates on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_locked(path: str | os.PathLike) -> bool:
    """Whether another open file holds a lock on ``path`` (False if it does not exist)."""
    try:
        with lock(path, shared=True):
            return False
    except LockBusy:
        return True
    except OSError:
        return False
