"""A session's stream files (motion, PPG) damaged as a disk, a sync tool or a person does:
each damage is one line naming the stream, the EEG stays readable and exportable with the
broken stream left out, and a recovery never cuts a file by a record size it cannot trust.

The session is a real recording of the synthetic board's auxiliary preset (``nfb run``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
from conftest import nfb_cli

from nfb.session.export import export_session
from nfb.session.store import read_session, recover_session

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need POSIX")
STREAM = "auxiliary"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A 2 s session of the synthetic board with its auxiliary preset recorded as a stream."""
    folder = tmp_path_factory.mktemp("synth-aux")
    profile = folder / "synth-aux.toml"
    profile.write_text('board = "SYNTHETIC_BOARD"\nstreams = ["auxiliary"]\n')
    out = nfb_cli(
        "run", "--device", profile, "--protocol", "alpha-up", "--client", "c1",
        "--duration", "2", "--sessions-dir", folder / "sessions",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip().splitlines()[-1])
    assert read_session(path).streams[STREAM].n_samples > 100
    return path


@pytest.fixture
def session(recorded, tmp_path):
    """A copy of the recording to damage."""
    path = tmp_path / "store" / recorded.parent.name / recorded.name
    shutil.copytree(recorded, path)
    return path


def _meta(path: Path) -> dict:
    return json.loads((path / "session.json").read_text())


def _write_meta(path: Path, meta: dict) -> None:
    (path / "session.json").write_text(json.dumps(meta))


def _interrupt(path: Path) -> None:
    meta = _meta(path)
    meta["status"] = "recording"
    _write_meta(path, meta)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _sha(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def _plant(path: Path, how: str, outside: Path) -> None:
    file = path / f"{STREAM}.f64"
    if how in ("link-out", "link-zero", "fifo", "folder"):
        file.unlink()
    if how == "link-out":
        file.symlink_to(outside)
    elif how == "link-zero":
        file.symlink_to("/dev/zero")
    elif how == "fifo":
        os.mkfifo(file)
    elif how == "folder":
        file.mkdir()
    else:
        meta = _meta(path)
        node, layout = meta["streams"][STREAM], meta["layout"]["streams"]
        if how == "columns":
            node["columns"] = node["columns"][:5]
        elif how == "rows":
            layout[0]["rows"] = [999, 1000]
        elif how == "timestamp-row":
            layout[0]["timestamp_row"] = 500
        elif how == "sfreq":
            layout[0]["sfreq"] = "fast"
        elif how == "labels":
            layout[0]["labels"] = ["a"]
        elif how == "layout-garbage":
            meta["layout"]["streams"] = [5]
        elif how == "no-layout":
            meta["layout"]["streams"] = []
        elif how == "file-is-raw":
            node["file"] = "raw.f64"
        _write_meta(path, meta)


BROKEN = {
    "link-out": "auxiliary.f64 is refused: a symbolic link",
    "link-zero": "auxiliary.f64 is refused: a symbolic link",
    "fifo": "auxiliary.f64 is refused: a FIFO",
    "folder": "auxiliary.f64 is refused: a folder",
    "columns": "streams.auxiliary.columns has 5 names, its layout 22",
    "rows": "its rows, labels and kinds must be",
    "timestamp-row": "its timestamp_row is 500, not a row of the stream",
    "sfreq": "its sfreq is 'fast', not a rate in Hz",
    "labels": "its rows, labels and kinds must be",
    "layout-garbage": "layout.streams has 0 entries named 'auxiliary', not 1",
    "no-layout": "layout.streams has 0 entries named 'auxiliary', not 1",
    "file-is-raw": "streams.auxiliary.file is 'raw.f64', a file of the session already",
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_a_broken_stream_is_left_out_and_the_eeg_exported(session, tmp_path, caplog, how):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(os.urandom(1000))
    before = _sha(outside)
    _plant(session, how, outside)
    caplog.clear()
    rec = read_session(session)
    assert STREAM not in rec.streams
    warned = [w for w in _warnings(caplog) if "stream is left out" in w]
    assert warned == [f"{session}: the {STREAM} stream is left out: {warned[0].split(': ', 2)[2]}"]
    assert BROKEN[how] in warned[0] and "\n" not in warned[0]
    raw = rec.raw
    assert set(raw.get_channel_types()) == {"eeg"} and raw.n_times == rec.n_samples
    edf = export_session(rec, tmp_path / "s.edf")
    assert mne.io.read_raw(edf, verbose="error").ch_names == rec.ch_names
    assert _sha(outside) == before  # nothing read into or written through the link


def test_the_cli_exports_a_session_whose_stream_is_a_link(session, tmp_path):
    _plant(session, "link-out", Path("/etc/passwd"))
    for fmt, out in (("fif", "s.fif"), ("edf", "s.edf"), ("bids", "bids")):
        res = nfb_cli("export", session, "-f", fmt, "--out", tmp_path / out)
        assert res.returncode == 0, res.stderr
        assert "Traceback" not in res.stderr
        assert "the auxiliary stream is left out: auxiliary.f64 is refused" in res.stderr


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e300])
def test_damaged_stream_values_do_not_stop_an_edf_export(session, tmp_path, caplog, value):
    rec = read_session(session)
    n_cols = len(rec.meta["streams"][STREAM]["columns"])
    file = session / f"{STREAM}.f64"
    records = np.fromfile(file, "<f8").reshape(-1, n_cols)
    records[::7, 2:5] = value  # accel_x/y/z of every 7th sample
    records.tofile(file)
    caplog.clear()
    rec = read_session(session)
    data = rec.raw.get_data(picks=["accel_x", "accel_y", "accel_z"])
    assert np.isfinite(data).all() and np.abs(data).max() < 10  # the synthetic board: ~1 g
    assert any("auxiliary stream has" in w and "damaged values" in w for w in _warnings(caplog))
    edf = export_session(rec, tmp_path / "s.edf")
    back = mne.io.read_raw(edf, verbose="error")
    assert "accel_x" in back.ch_names


def test_an_eeg_index_going_back_is_taken_as_received(session):
    """Without board timestamps the grid goes by eeg_index; a damaged one that goes back
    must not pick samples from the future."""
    meta = _meta(session)
    meta["layout"]["streams"][0]["timestamp_row"] = None
    _write_meta(session, meta)
    n_cols = len(meta["streams"][STREAM]["columns"])
    file = session / f"{STREAM}.f64"
    records = np.fromfile(file, "<f8").reshape(-1, n_cols)
    records[:, 2] = np.arange(len(records))  # accel_x: the stream's sample number
    records[10, -1] = 0  # sample 10 claims to have come with the first EEG samples
    records.tofile(file)
    rec = read_session(session)
    grid = rec.raw.get_data(picks="accel_x")[0]
    received = np.maximum.accumulate(rec.streams[STREAM].eeg_index)
    for j in (0, int(received[5]), int(received[20]), rec.n_samples - 1):
        newest = np.searchsorted(received, j, side="right") - 1
        assert grid[j] == max(newest, 0)


def test_a_huge_sparse_stream_file_is_read_only_as_far_as_the_session_goes(session, caplog):
    rec = read_session(session)
    n_cols = len(rec.meta["streams"][STREAM]["columns"])
    n = rec.streams[STREAM].n_samples
    with open(session / f"{STREAM}.f64", "r+b") as f:
        f.truncate(8 * n_cols * 20_000_000)  # 3.5 GB that read as zeros
    caplog.clear()
    stream = read_session(session).streams[STREAM]
    seconds = rec.n_samples / rec.sfreq
    assert n < stream.n_samples <= (2 * seconds + 60) * stream.sfreq + 1
    assert any("holds more records than the session" in w for w in _warnings(caplog))


@pytest.mark.parametrize("how", ["columns", "file-is-raw"])
def test_a_recovery_never_cuts_by_a_damaged_streams_record(session, caplog, how):
    _interrupt(session)
    meta = _meta(session)
    file = session / f"{STREAM}.f64"
    size = file.stat().st_size
    with open(file, "ab") as f:  # a partial last record, as a kill leaves
        f.write(b"\x00" * 100)
    if how == "columns":  # a record size the file's length is no multiple of
        k = next(k for k in range(3, 40) if (size + 100) % (8 * k))
        meta["streams"][STREAM]["columns"] = meta["streams"][STREAM]["columns"][:k]
        _write_meta(session, meta)
        kept = file
    else:
        kept = session / "raw.f64"
        _plant(session, how, Path())
    before = _sha(kept)
    caplog.clear()
    assert recover_session(session) == "recovered"
    assert _sha(kept) == before  # the stream's file is left as it is
    assert any("stream is left as it is" in w for w in _warnings(caplog))
    assert read_session(session).n_samples > 0


def test_a_recovery_counts_a_missing_stream_file_as_empty(session):
    _interrupt(session)
    (session / f"{STREAM}.f64").unlink()
    assert recover_session(session) == "recovered"
    assert _meta(session)["streams"][STREAM]["n_samples"] == 0
    rec = read_session(session)
    assert rec.streams[STREAM].n_samples == 0
    assert set(rec.raw.get_channel_types()) == {"eeg", "misc"}  # an empty stream reads as 0


# --- the user's own protocols (the protocol editor's files) ---------------------------------
def test_a_protocol_too_large_to_read_back_is_not_saved(tmp_path):
    from nfb.errors import ConfigError
    from nfb.protocol import load_protocol, save_user_protocol, user_protocols_dir

    data = {**load_protocol("alpha-up").data, "description": "x" * 2_000_000}
    with pytest.raises(ConfigError, match=r"mine.toml: the protocol is 1.9 MB, more than the 1 MB"):
        save_user_protocol(data, "mine")
    assert not (user_protocols_dir() / "mine.toml").exists()


def test_a_protocol_with_text_no_file_can_hold_is_one_line(tmp_path):
    from nfb.errors import ConfigError
    from nfb.protocol import load_protocol, save_user_protocol

    data = {**load_protocol("alpha-up").data, "name": "alpha \ud800 pasted"}
    with pytest.raises(ConfigError, match=r"^mine.toml: the protocol holds text that is not Unic"):
        save_user_protocol(data, "mine")


def test_a_linked_user_protocols_folder_is_named_when_a_save_is_refused(tmp_path):
    from nfb.errors import ConfigError
    from nfb.protocol import load_protocol, save_user_protocol, user_protocols_dir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = user_protocols_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(elsewhere)
    with pytest.raises(ConfigError) as err:
        save_user_protocol(load_protocol("alpha-up").data, "mine")
    assert str(err.value) == (
        f"{folder}: cannot write protocols there: a symbolic link, not a folder (nfb never "
        "writes through a link)"
    )
    assert list(elsewhere.iterdir()) == []


# --- Ctrl-C --------------------------------------------------------------------------------
def test_ctrl_c_while_nfb_starts_is_one_line():
    """A real SIGINT while the commands import SciPy/MNE/BrainFlow (the first second or two
    of every nfb command): one line and 130, no traceback."""
    import subprocess
    import sys

    code = (
        "import importlib, os, signal, sys\n"
        "real = importlib.import_module\n"
        "def imp(name, *a):\n"
        "    if name == 'nfb.commands.run':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *a)\n"
        "importlib.import_module = imp\n"
        "from nfb.cli import main\n"
        "sys.exit(main(['run', '--help']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stderr) == (130, "nfb: interrupted\n")


def test_ctrl_c_during_a_recording_with_streams_leaves_them_readable(tmp_path):
    import signal
    import subprocess
    import sys

    profile = tmp_path / "synth-aux.toml"
    profile.write_text('board = "SYNTHETIC_BOARD"\nstreams = ["auxiliary"]\n')
    args = ["run", "--device", profile, "--protocol", "alpha-up", "--client", "c1"]
    args += ["--duration", "60", "--sessions-dir", tmp_path / "sessions"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nfb.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stderr:  # the first live line: the session is recording
            if line.startswith("00:0"):
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    rec = read_session(out.strip().splitlines()[-1])
    assert rec.status == "stopped"
    stream = rec.streams[STREAM]
    n_cols = len(rec.meta["streams"][STREAM]["columns"])
    size = (rec.path / f"{STREAM}.f64").stat().st_size
    assert stream.n_samples > 0 and size == stream.n_samples * n_cols * 8
    assert rec.meta["streams"][STREAM]["n_samples"] == stream.n_samples
    assert "accel_x" in rec.raw.ch_names


def test_a_stream_the_board_never_sends_is_said_at_the_end(tmp_path, caplog):
    """A Muse told to stream PPG that never does (no 'p61'), a playback without its file."""
    from nfb.devices import load_profile, open_source
    from nfb.session.format import BASE_FRAME_COLUMNS
    from nfb.session.recorder import SessionRecorder

    path = tmp_path / "synth-aux.toml"
    path.write_text('board = "SYNTHETIC_BOARD"\nstreams = ["auxiliary"]\n')
    layout = open_source(load_profile(str(path))).layout
    for seconds, warned in ((9, False), (11, True)):
        rec = SessionRecorder.create(
            tmp_path / "store", "c1", f"p{seconds}", {"layout": layout.to_dict()},
            frame_columns=BASE_FRAME_COLUMNS, threaded=False,
        )  # fmt: skip
        rec.append_samples(np.zeros((layout.n_rows, int(seconds * layout.sfreq))), 0.0)
        caplog.clear()
        rec.close("stopped")
        said = [w for w in _warnings(caplog) if "auxiliary stream recorded no samples" in w]
        assert said == ([f"the auxiliary stream recorded no samples beside {seconds} s of EEG: "
                         "the board did not send it (see its profile's streams and config)"]
                        if warned else [])  # fmt: skip


# --- device profiles -----------------------------------------------------------------------
@pytest.mark.parametrize("how", ["fifo", "folder", "device"])
def test_a_device_path_that_is_no_file_says_what_it_is(tmp_path, how):
    from nfb.devices import load_profile
    from nfb.errors import ConfigError

    path = tmp_path / "muse.toml"
    if how == "fifo":
        os.mkfifo(path)
    elif how == "folder":
        path.mkdir()
    else:
        path = Path(os.devnull)
    what = {"fifo": "a FIFO", "folder": "a folder", "device": "a device"}[how]
    with pytest.raises(ConfigError, match=rf"cannot read \({what}, not a regular file\)$"):
        load_profile(str(path))


@pytest.mark.parametrize("name", ["alpha\nup", "alpha\x1b[31m up", "   ", "a" * 201, "x\u2028y"])
def test_a_protocol_name_is_one_line(name):
    from nfb.errors import ConfigError
    from nfb.protocol import load_protocol, save_user_protocol

    data = {**load_protocol("alpha-up").data, "name": name}
    with pytest.raises(ConfigError) as err:
        save_user_protocol(data, "mine")
    assert str(err.value).startswith(
        "mine.toml: field 'name' must be one line of text, at most 200 characters, got "
    )
    assert "\n" not in str(err.value)
