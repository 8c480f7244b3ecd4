"""SessionRecorder: folder layout, permissions, client ids, crash safety, disk full."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sessionfactory import (
    START,
    frame_columns,
    generate_session,
    make_session,
    open_recorder,
    synthetic_layout,
    write_session,
)

from nfb.errors import SessionError
from nfb.session.recorder import SessionRecorder
from nfb.session.store import read_session, recover_session

TESTS = Path(__file__).parent
DATA_FILES = {"session.json", "raw.f64", "frames.f64", "events.jsonl"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _meta(**extra):
    return {"layout": synthetic_layout(), "device": {"name": "synthetic"}, **extra}


@pytest.fixture
def umask_zero():
    old = os.umask(0)
    yield
    os.umask(old)


def test_folder_layout_and_permissions(tmp_path, umask_zero):
    """Folders are 0700 and files 0600 whatever the umask; only the documented files remain."""
    path = make_session(tmp_path / "store", seconds=4, client="anna")
    assert path.parent == tmp_path / "store" / "anna"
    assert path.name == "20240517-093000-alpha-up"
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o700
    assert {p.name for p in path.iterdir()} == DATA_FILES
    for p in path.iterdir():
        assert _mode(p) == 0o600, p.name


def test_session_json(tmp_path):
    truth = generate_session(seconds=4, protocol_name="Alpha/beta ratio up")
    path = write_session(truth, tmp_path)
    assert path.name == "20240517-093000-alpha-beta-ratio-up"
    meta = json.loads((path / "session.json").read_text())
    assert meta["format"] == "nfb-session"
    assert meta["format_version"] == 1
    assert set(meta["software"]) == {"nfb", "numpy", "scipy", "brainflow", "mne"}
    assert all(isinstance(v, str) for v in meta["software"].values())
    assert meta["client"] == "client-01"
    assert meta["session_id"] == path.name
    assert meta["status"] == "complete"
    assert meta["start_time"] == "2024-05-17T09:30:00.000000+00:00"
    assert meta["start_unix"] == START.timestamp()
    assert datetime.fromisoformat(meta["end_time"]).tzinfo is not None
    assert meta["n_samples"] == truth.n_samples == 1000
    assert meta["n_frames"] == truth.frames.shape[0]
    assert meta["device"]["name"] == "synthetic"
    assert meta["layout"] == truth.layout
    assert meta["channel_map"] == {}
    assert meta["protocol"]["name"] == "Alpha/beta ratio up"
    cols = meta["raw"]["columns"]
    assert meta["raw"]["file"] == "raw.f64"
    assert len(cols) == 33
    assert cols[0] == "row0" and cols[1:17] == truth.layout["ch_names"]
    assert cols[30] == "row30" and cols[-1] == "fetch_time"
    assert meta["frames"] == {"file": "frames.f64", "columns": [list(c) for c in frame_columns()]}
    assert meta["events"] == {"file": "events.jsonl"}
    assert [b["index"] for b in meta["blocks"]] == [1, 2, 3]
    assert set(meta["baseline"]) == {"eyes_open", "eyes_closed"}
    assert meta["notes"] == ""
    assert meta["ratings"] == {"anxiety_before": None, "anxiety_after": None}
    assert meta["source"] == {"kind": "live"}


@pytest.mark.parametrize(
    "client",
    ["../x", "a/b", ".hidden", "", "..", ".", "a\\b", "/abs", "x" * 65, "é", "a b", "a\n", None],
)
def test_client_id_refused(tmp_path, client):
    with pytest.raises(SessionError) as info:
        SessionRecorder.create(
            tmp_path / "store", client, "p", _meta(), frame_columns=frame_columns()
        )
    msg = str(info.value)
    assert "\n" not in msg
    assert repr(client) in msg and "letters, digits" in msg
    assert not (tmp_path / "store").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("client", ["a", "client-01", "A_b.c", "x" * 64, "-x", "9"])
def test_client_id_accepted(tmp_path, client):
    rec = SessionRecorder.create(tmp_path, client, "p", _meta(), frame_columns=frame_columns())
    rec.close()
    assert rec.path.parent == tmp_path / client


def test_never_overwrites(tmp_path):
    first = make_session(tmp_path, seconds=2)
    before = _digest(first)
    second = make_session(tmp_path, seconds=2, seed=1)
    third = make_session(tmp_path, seconds=2, seed=2)
    assert [first.name, second.name, third.name] == [
        "20240517-093000-alpha-up",
        "20240517-093000-alpha-up-2",
        "20240517-093000-alpha-up-3",
    ]
    assert _digest(first) == before
    assert read_session(third).meta["session_id"] == third.name


def test_threaded_and_synchronous_write_the_same_bytes(tmp_path):
    truth = generate_session(seconds=6, seed=4)
    a = write_session(truth, tmp_path / "a", threaded=True)
    b = write_session(truth, tmp_path / "b", threaded=False)
    for name in ("raw.f64", "frames.f64", "events.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_start_time_and_naive_datetime(tmp_path):
    rec = SessionRecorder.create(
        tmp_path,
        "c",
        "Theta",
        _meta(),
        frame_columns=frame_columns(),
        start=datetime(2023, 1, 2, 3, 4, 5),  # naive: UTC
    )
    rec.close()
    assert rec.path.name == "20230102-030405-theta"
    assert rec.meta["start_time"] == "2023-01-02T03:04:05.000000+00:00"
    assert rec.meta["start_unix"] == datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()


def test_argument_validation(tmp_path):
    cols = frame_columns()
    with pytest.raises(ValueError, match="owns"):
        SessionRecorder.create(tmp_path, "c", "p", _meta(status="x"), frame_columns=cols)
    with pytest.raises(ValueError, match="layout"):
        SessionRecorder.create(tmp_path, "c", "p", {}, frame_columns=cols)
    with pytest.raises(ValueError, match="kind"):
        SessionRecorder.create(tmp_path, "c", "p", _meta(), frame_columns=[*cols, ("x", "f4")])
    with pytest.raises(ValueError, match="reward"):
        SessionRecorder.create(
            tmp_path, "c", "p", _meta(), frame_columns=[c for c in cols if c[0] != "reward"]
        )
    with pytest.raises(ValueError, match="raw columns"):
        SessionRecorder.create(
            tmp_path, "c", "p", _meta(), raw_columns=["a", "b"], frame_columns=cols
        )
    rec = SessionRecorder.create(tmp_path, "c", "p", _meta(), frame_columns=cols)
    with pytest.raises(ValueError, match=r"\(32, n\)"):
        rec.append_samples(np.zeros((31, 4)), 1.0)
    with pytest.raises(ValueError, match="frames must have shape"):
        rec.append_frames(np.zeros((2, len(cols) + 1)))
    with pytest.raises(ValueError, match="sample_index"):
        rec.append_event({"kind": "marker"})
    with pytest.raises(ValueError, match="kind"):
        rec.append_event({"sample_index": 3})
    with pytest.raises(ValueError, match="owns"):
        rec.update_meta(n_samples=4)
    with pytest.raises(ValueError, match="status"):
        rec.close("done")
    rec.append_samples(np.zeros((32, 0)), 1.0)  # empty chunks are fine
    rec.close("stopped")
    with pytest.raises(RuntimeError, match="closed"):
        rec.append_samples(np.zeros((32, 4)), 1.0)
    rec.close()  # idempotent
    assert read_session(rec.path).status == "stopped"


def test_update_meta_is_atomic_and_numpy_friendly(tmp_path):
    truth = generate_session(seconds=2)
    rec = open_recorder(truth, tmp_path)
    rec.update_meta(notes="calm", ratings={"anxiety_before": np.int64(6), "anxiety_after": None})
    rec.append_event({"sample_index": np.int64(5), "kind": "marker", "label": "x", "v": np.nan})
    rec.flush()
    meta = json.loads((rec.path / "session.json").read_text())
    assert meta["notes"] == "calm" and meta["ratings"]["anxiety_before"] == 6
    assert meta["status"] == "recording"
    # .raw.f64.owner: the lock of a platform with neither flock nor msvcrt (simulated)
    assert {p.name for p in rec.path.iterdir()} <= DATA_FILES | {".reserve", ".raw.f64.owner"}
    rec.close()
    assert {p.name for p in rec.path.iterdir()} == DATA_FILES
    event = read_session(rec.path).events[0]
    assert event["sample_index"] == 5 and np.isnan(event["v"])


@pytest.mark.parametrize(
    ("exc", "status"), [(RuntimeError, "failed"), (KeyboardInterrupt, "stopped")]
)
def test_context_manager_status(tmp_path, exc, status):
    truth = generate_session(seconds=2)
    with pytest.raises(exc), open_recorder(truth, tmp_path) as rec:
        truth.feed(rec)
        raise exc()
    session = read_session(rec.path)
    assert session.status == status
    assert session.n_samples == truth.n_samples


CHILD = """
import sys, time
from sessionfactory import generate_session, open_recorder

truth = generate_session(seconds=60, seed=3)
rec = open_recorder(truth, sys.argv[1])
print("path", rec.path, flush=True)
t0 = time.monotonic()
reported = 0

def on_chunk(stop):
    global reported
    delay = t0 + stop / truth.sfreq - time.monotonic()  # acquire in real time
    if delay > 0:
        time.sleep(delay)
    if stop // truth.sfreq > reported:
        reported = int(stop // truth.sfreq)
        print("seconds", reported, flush=True)

truth.feed(rec, on_chunk)
rec.close()
"""


def test_sigkill_mid_recording_loses_at_most_a_second(tmp_path):
    n_seconds = 3
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    path = None
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            for line in child.stdout:
                key, value = line.split()
                if key == "path":
                    path = Path(value)
                elif int(value) >= n_seconds:
                    os.kill(child.pid, signal.SIGKILL)
                    break
        finally:
            child.kill()
            child.wait(timeout=30)
    assert path is not None, "the child did not start recording"
    assert child.returncode == -signal.SIGKILL
    truth = generate_session(seconds=60, seed=3)
    sfreq = truth.sfreq
    session = read_session(path)
    assert session.status == "interrupted"
    n = session.n_samples
    assert (n_seconds - 1) * sfreq <= n < truth.n_samples
    np.testing.assert_array_equal(session.samples, truth.samples[:, :n])
    np.testing.assert_array_equal(session.fetch_time, truth.fetch_time[:n])
    frames = np.column_stack([session.frames[name] for name in session.frames.dtype.names])
    assert frames.shape[0] >= np.count_nonzero(truth.frames[:, 0] < (n_seconds - 1) * sfreq)
    np.testing.assert_array_equal(frames, truth.frames[: frames.shape[0]])
    done = [e for e in truth.events if e["sample_index"] < (n_seconds - 1) * sfreq]
    assert session.events[: len(done)] == done
    assert session.events == truth.events[: len(session.events)]

    assert recover_session(path) == "recovered"
    again = read_session(path)
    assert again.status == "recovered"
    assert again.meta["n_samples"] == again.n_samples >= n
    assert (path / "raw.f64").stat().st_size == again.n_samples * 33 * 8


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("disk-full test needs the mount command")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"disk-full test needs root to mount a 1 MB tmpfs: {res.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("threaded", [True, False])
def test_disk_full(tiny_disk, threaded):
    truth = generate_session(seconds=40, seed=5)  # 2.6 MB of raw samples for a 1 MB disk
    rec = open_recorder(truth, tiny_disk, threaded=threaded)
    if threaded:
        truth.feed(rec)  # never raises: the error is polled
        rec.flush()
    else:
        with pytest.raises(SessionError, match="No space left on device"):
            truth.feed(rec)
        truth.feed(rec)  # further appends are dropped, no error
    assert rec.failed
    msg = str(rec.error)
    assert "\n" not in msg
    assert msg.startswith(f"cannot write {rec.path}/")
    assert msg.endswith(": No space left on device")
    rec.close("complete")
    session = read_session(rec.path)
    assert session.status == "failed"
    assert session.meta["error"] == msg
    n = session.n_samples
    assert 5 * truth.sfreq < n < truth.n_samples  # ~15 s fit in 1 MB
    assert session.meta["n_samples"] == n
    np.testing.assert_array_equal(session.samples, truth.samples[:, :n])
    frames = np.column_stack([session.frames[name] for name in session.frames.dtype.names])
    np.testing.assert_array_equal(frames, truth.frames[: frames.shape[0]])
    assert session.events == truth.events[: len(session.events)]
    assert not (rec.path / ".reserve").exists()


def test_explicit_folder(tmp_path, umask_zero):
    """``folder=`` records into a chosen folder (a replay's --out), never a used one."""
    cols = frame_columns()
    out = tmp_path / "out" / "replayed"
    rec = SessionRecorder.create(None, "c", "Alpha up", _meta(), frame_columns=cols, folder=out)
    rec.close()
    assert rec.path == out and _mode(out) == 0o700
    assert rec.meta["session_id"].endswith("-alpha-up")
    empty = tmp_path / "empty"
    empty.mkdir()
    rec = SessionRecorder.create(None, "c", "p", _meta(), frame_columns=cols, folder=empty)
    rec.close()
    assert read_session(empty).status == "complete"
    before = _digest(out)
    for used in (out, tmp_path / "out" / "replayed" / "session.json"):
        with pytest.raises(SessionError, match="already exists and is not an empty folder"):
            SessionRecorder.create(None, "c", "p", _meta(), frame_columns=cols, folder=used)
    assert _digest(out) == before


def test_fetch_time_per_sample(tmp_path):
    rec = SessionRecorder.create(
        tmp_path, "c", "p", _meta(), frame_columns=frame_columns(), threaded=False
    )
    block = np.arange(32 * 4, dtype=float).reshape(32, 4)
    rec.append_samples(block, np.array([1.0, 2.0, np.nan, 4.0]))
    rec.append_samples(block, 5.0)
    with pytest.raises(ValueError, match="fetch_time"):
        rec.append_samples(block, np.zeros(3))
    rec.close()
    session = read_session(rec.path)
    np.testing.assert_array_equal(session.fetch_time, [1, 2, np.nan, 4, 5, 5, 5, 5])
    np.testing.assert_array_equal(session.samples, np.hstack([block, block]))


def test_the_store_root_is_made_private(tmp_path):
    """A store that already exists (``./sessions`` from a git clone is 0755) is tightened."""
    import stat

    from sessionfactory import make_session

    root = tmp_path / "store"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    make_session(root, seconds=1)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
