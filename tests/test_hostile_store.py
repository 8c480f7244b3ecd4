"""A store with planted files: links out of it and to /dev/zero, FIFOs, folders, deeply
nested and huge files. Nothing outside the store changes, each problem is one line, the
other sessions still list, read, replay and report, and a new session records.

Also run as on Windows and macOS (tests/test_platforms.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from conftest import nfb_cli
from sessionfactory import make_session

from nfb.errors import SessionError
from nfb.session.clients import ClientIndex
from nfb.session.store import list_sessions, read_session, recover_session, recover_store

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need POSIX")


def _digest(folder: Path) -> dict[str, str]:
    """Checksums of every regular file under ``folder`` (links not followed)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def outside(tmp_path):
    """Files outside the store that a planted link points to."""
    d = tmp_path / "outside"
    d.mkdir()
    for name in ("victim.bin", "victim.jsonl", "passwd"):
        (d / name).write_bytes(os.urandom(114))
    return d


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- each planted file, on its own ----------------------------------------------------------
def _plant(folder: Path, name: str, how: str, outside: Path) -> None:
    target = folder / name
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    else:
        target.unlink(missing_ok=True)
    if how == "link-out":
        target.symlink_to(outside / "victim.bin")
    elif how == "link-zero":
        target.symlink_to("/dev/zero")
    elif how == "fifo":
        os.mkfifo(target)
    elif how == "folder":
        target.mkdir()


_WHAT = {"link-out": "a symbolic link", "link-zero": "a symbolic link", "fifo": "a FIFO"}
_WHAT["folder"] = "a folder"
CASES = [
    (name, how)
    for name in ("raw.f64", "frames.f64", "events.jsonl")
    for how in ("link-out", "link-zero", "fifo", "folder")
]


@pytest.mark.parametrize(("name", "how"), CASES)
def test_planted_data_file_of_an_interrupted_session(tmp_path, outside, caplog, name, how):
    store = tmp_path / "store"
    good = make_session(store, seconds=2, client="good")
    bad = make_session(store, seconds=2, client="bad", interrupted=True)
    _plant(bad, name, how, outside)
    before_out, before_bad = _digest(outside), _digest(bad)

    with pytest.raises(SessionError) as err:
        recover_session(bad)
    assert name in str(err.value) and "\n" not in str(err.value)
    assert str(bad) in str(err.value)

    caplog.clear()
    results = recover_store(store)  # what every nfb run does first
    assert [r.status for r in results] == ["error"]
    assert [w for w in _warnings(caplog) if str(bad) in w] == [
        f"cannot recover interrupted session {bad}: {name}: {_WHAT[how]}, not a regular file"
    ]
    assert _digest(outside) == before_out  # nothing written through the link
    assert _digest(bad) == before_bad  # nothing of the damaged session changed either

    # the rest of the store works
    assert [s["path"] for s in list_sessions(store, client="good")] == [good]
    assert read_session(good).n_samples == 500
    with pytest.raises(SessionError, match=name):
        read_session(bad).samples  # noqa: B018 - the raw samples are read on first use


def test_session_json_nested_deeply_or_huge_or_linked(tmp_path, outside, caplog):
    store = tmp_path / "store"
    good = make_session(store, seconds=2, client="good")
    nested = make_session(store, seconds=2, client="nested")
    (nested / "session.json").write_text("[" * 200_000)
    huge = make_session(store, seconds=2, client="huge")
    with open(huge / "session.json", "r+b") as f:
        f.truncate(64 * 2**20)  # sparse: 64 MB that read as zeros
    linked = make_session(store, seconds=2, client="linked")
    (linked / "session.json").unlink()
    (linked / "session.json").symlink_to("/dev/zero")
    fifo = make_session(store, seconds=2, client="fifo", interrupted=True)
    (fifo / "session.json").unlink()
    os.mkfifo(fifo / "session.json")
    before = _digest(outside)

    caplog.clear()
    assert [s["path"] for s in list_sessions(store)] == [good]
    warned = _warnings(caplog)
    assert len(warned) == 4, warned
    for folder, why in (
        (nested, "nested deeper than"),
        (huge, "larger than"),
        (linked, "a symbolic link"),
        (fifo, "a FIFO"),
    ):
        assert [w for w in warned if str(folder) in w and why in w], (folder, warned)
    caplog.clear()
    assert recover_store(store) == []  # nothing to recover, nothing raised
    assert len(_warnings(caplog)) == 4
    assert _digest(outside) == before


def test_events_and_index_that_never_end(tmp_path, caplog):
    store = tmp_path / "store"
    s = make_session(store, seconds=2, client="zero")
    (s / "events.jsonl").unlink()
    (s / "events.jsonl").symlink_to("/dev/zero")
    with pytest.raises(SessionError, match=r"events\.jsonl is refused: a symbolic link"):
        read_session(s)
    (store / "clients.json").symlink_to("/dev/zero")
    with pytest.raises(SessionError, match=r"clients\.json is refused: a symbolic link"):
        ClientIndex(store).clients()
    (store / "clients.json").unlink()
    (store / "clients.json").write_text('{"clients": ' + "[" * 100_000)
    with pytest.raises(SessionError, match="nested deeper than"):
        ClientIndex(store).clients()


def test_a_deep_event_line_is_skipped_with_one_line(tmp_path, caplog):
    s = make_session(tmp_path / "store", seconds=2)
    n = len(read_session(s).events)
    with open(s / "events.jsonl", "ab") as f:
        f.write(b'{"sample_index": 3, "kind": "x", "deep": ' + b"[" * 100_000 + b"}\n")
    caplog.clear()
    assert len(read_session(s).events) == n
    assert [w for w in _warnings(caplog) if "nested deeper than" in w and f"line {n + 1}" in w]


def test_a_planted_client_index_lock_is_not_followed(tmp_path, outside):
    store = tmp_path / "store"
    store.mkdir()
    (store / ".clients.json.lock").symlink_to(outside / "created-by-the-lock")
    with pytest.raises(SessionError, match=r"\.clients\.json\.lock: a symbolic link"):
        ClientIndex(store).resolve("Anna K")
    assert not (outside / "created-by-the-lock").exists()
    (store / ".clients.json.lock").unlink()
    (store / ".clients.json.lock").symlink_to(outside / "victim.bin")
    before = _digest(outside)
    with pytest.raises(SessionError):
        ClientIndex(store).resolve("Anna K")
    assert _digest(outside) == before


def test_the_cli_on_a_hostile_store(tmp_path, outside):
    """nfb recover, report and run on a store full of planted files: one line per problem,
    exit codes, nothing outside changed, and a new session records."""
    store = tmp_path / "store"
    good = make_session(store, seconds=4, client="good")
    bad = make_session(store, seconds=2, client="bad", interrupted=True)
    _plant(bad, "raw.f64", "link-out", outside)
    nested = make_session(store, seconds=2, client="nested")
    (nested / "session.json").write_text("[" * 200_000)
    before = _digest(outside)

    rec = nfb_cli("recover", "--sessions-dir", store)
    assert "Traceback" not in rec.stderr
    lines = rec.stderr.strip().splitlines()
    assert len([ln for ln in lines if str(bad) in ln]) == 1, lines
    assert len([ln for ln in lines if str(nested) in ln]) == 1, lines

    rep = nfb_cli("report", bad, "--out", tmp_path / "bad.html")
    assert rep.returncode != 0 and "Traceback" not in rep.stderr
    assert len(rep.stderr.strip().splitlines()) == 1, rep.stderr
    rep = nfb_cli("report", good, "--out", tmp_path / "good.html")
    assert rep.returncode == 0, rep.stderr
    run = nfb_cli(
        "run",
        "--device",
        "synthetic",
        "--protocol",
        "alpha-beta-up",
        "--client",
        "new",
        "--sessions-dir",
        store,
        "--duration",
        "1",
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    new = Path(run.stdout.strip().splitlines()[-1])
    assert read_session(new).n_samples > 0
    rep = nfb_cli("replay", new, "--out", tmp_path / "replayed")
    assert rep.returncode == 0, rep.stderr
    assert read_session(tmp_path / "replayed").n_samples == read_session(new).n_samples
    assert _digest(outside) == before
    assert (nested / "session.json").read_bytes() == b"[" * 200_000  # damage left as it was


def test_recovery_removes_what_a_failed_start_left(tmp_path, caplog):
    """A start killed before its session.json: a folder of empty files and the reserve. The
    next start removes it (one line) once it is old enough not to be a start in progress;
    a folder holding data, or a link, is never removed."""
    from nfb.session.recovery import FAILED_START_AGE_S

    store = tmp_path / "store"
    good = make_session(store, seconds=2, client="c")
    shift = -(FAILED_START_AGE_S + 10)  # seconds into the past
    folders = {}
    for name, files in (
        ("left", {"raw.f64": b"", "frames.f64": b"", "events.jsonl": b"", ".reserve": b"0" * 64}),
        ("empty", {}),
        ("data", {"raw.f64": b"\x00" * 800}),
        ("young", {"raw.f64": b""}),
    ):
        folder = store / "c" / f"20260101-000000-{name}"
        folder.mkdir()
        for f, data in files.items():
            (folder / f).write_bytes(data)
        folders[name] = folder
    (folders["empty"] / "raw.f64").symlink_to(tmp_path / "nowhere")
    for name in ("left", "empty", "data"):
        st = folders[name].stat()
        os.utime(folders[name], (st.st_atime + shift, st.st_mtime + shift))
    caplog.clear()
    recover_store(store)
    assert not folders["left"].exists()
    assert folders["empty"].exists() and folders["data"].exists() and folders["young"].exists()
    assert _warnings(caplog) == [
        f"removed {folders['left']}: a session start that failed (no session.json)"
    ]
    assert [s["path"] for s in list_sessions(store)] == [good]
