"""LSL outlet: frames, markers and EEG received by real pylsl inlets over loopback.

liblsl's default configuration resolves streams over loopback in this sandbox (checked with a
10-line outlet/inlet script: resolved in under a millisecond), so no ``lsl_api.cfg`` is needed.
Where multicast discovery is blocked, point ``LSLAPICFG`` at a file with
``[multicast] ResolveScope = machine`` and ``[lab] KnownPeers = {127.0.0.1}``.

Waiting is on resolve/pull timeouts and sample indices, never on fixed sleeps. Streams are
found by their source id (``nfb:<session id>:...``), so other LSL streams cannot interfere.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from conftest import ROOT  # noqa: E402
from pylsl.util import LostError  # noqa: E402

from nfb.devices import load_profile  # noqa: E402
from nfb.lsl import EEG_NAME, FRAMES_NAME, MARKERS_NAME, LslOutlet  # noqa: E402
from nfb.protocol import load_protocol  # noqa: E402
from nfb.session.live import LiveSession  # noqa: E402
from nfb.session.store import read_session  # noqa: E402
from nfb.stream import DeviceStream  # noqa: E402

SHORT = [
    "script.baseline_eyes_open=0.05",
    "script.baseline_eyes_closed=0",
    "script.blocks=1",
    "script.block_min=0.1",
]


def _resolve(name: str, source_tag: str, timeout: float = 30.0):
    pred = f"name='{name}' and contains(source_id,'{source_tag}')"
    found = pylsl.resolve_bypred(pred, 1, timeout)
    assert found, f"no LSL stream {name} with source id containing {source_tag}"
    # recover=False: a pull raises LostError when the outlet goes (a recovering inlet's pull
    # can block past its timeout once the outlet is gone)
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=False)
    inlet.open_stream(10.0)
    return inlet


def _drain(inlets: dict, timeout: float = 60.0) -> dict:
    """Pull every inlet until its outlet is gone (the session stopped)."""
    got = {name: ([], []) for name in inlets}
    live = dict(inlets)
    deadline = time.monotonic() + timeout
    while live:
        assert time.monotonic() < deadline, f"{sorted(live)} still streaming"
        for name, inlet in list(live.items()):
            try:
                data, stamps = inlet.pull_chunk(timeout=0.05)
            except LostError:
                del live[name]
                continue
            got[name][0].extend(data)
            got[name][1].extend(stamps)
    return got


def _channel_labels(inlet) -> list[str]:
    ch = inlet.info(10.0).desc().child("channels").child("channel")
    labels = []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    return labels


def _check_frames(rec, rows, stamps) -> None:
    """Received frame rows equal the recorded frames of the same sample index, bit for bit."""
    names = list(rec.frames.dtype.names)
    rows = np.asarray(rows, dtype=np.float64)
    assert rows.shape[1] == len(names)
    index = rec.frames["sample_index"]
    got_index = rows[:, names.index("sample_index")].astype(np.int64)
    pos = np.searchsorted(index, got_index)
    assert np.array_equal(index[pos], got_index)  # every received frame was recorded
    assert np.all(np.diff(got_index) > 0)  # in order, no duplicate
    for j, name in enumerate(names):
        np.testing.assert_array_equal(rows[:, j], rec.frames[name][pos].astype(float), name)
    # the documented clock: LSL stamp = wall_time + (local_clock - time.time()), one machine
    offset = pylsl.local_clock() - time.time()
    lag = np.asarray(stamps) - rows[:, names.index("wall_time")] - offset
    assert np.all(np.abs(lag) < 0.05), lag


def _check_markers(rec, markers) -> list[dict]:
    events = [json.loads(m[0]) for m in markers]
    recorded = [{k: v for k, v in e.items() if k != "note"} for e in rec.events]
    for event in events:
        assert event in recorded
    return events


def _check_eeg(rec, rows, stamps) -> None:
    """The received EEG is a contiguous stretch of the recorded EEG (float32), µV."""
    rows = np.asarray(rows, dtype=np.float32)
    eeg = rec.samples[rec.layout["eeg_rows"]].T.astype(np.float32)
    start = np.flatnonzero(np.all(eeg == rows[0], axis=1))
    assert start.size == 1, "first received sample not found in the recording"
    k = int(start[0])
    np.testing.assert_array_equal(rows, eeg[k : k + len(rows)])
    assert np.abs(rows).max() > 10  # µV, not volts
    gaps = np.diff(stamps)
    assert np.median(gaps) == pytest.approx(1 / rec.sfreq, rel=0.05)


@pytest.fixture
def stream():
    s = DeviceStream(load_profile("synthetic"))
    s.connect()
    yield s
    s.disconnect()


class Broken:
    """An observer that fails: it is dropped, the session goes on."""

    def __init__(self):
        self.calls = 0

    def on_frames(self, rows):
        self.calls += 1
        raise RuntimeError("observer bug")


def test_live_session_streams_frames_markers_and_eeg(stream, tmp_path, caplog):
    protocol = load_protocol("alpha-up", SHORT)
    outlet, broken = LslOutlet(raw=True), Broken()
    session = LiveSession(
        stream,
        protocol,
        "lsl-live",
        sessions_dir=tmp_path,
        duration_s=3,
        observers=[broken, outlet],
    )
    path = session.start()
    sid = session.recorder.session_id
    assert outlet.is_open
    inlets = {n: _resolve(n, f"nfb:{sid}:") for n in (FRAMES_NAME, MARKERS_NAME, EEG_NAME)}
    assert _channel_labels(inlets[FRAMES_NAME]) == [c for c, _ in session.runner.columns]
    assert _channel_labels(inlets[EEG_NAME]) == list(session.layout.ch_names)
    frame, stamp = inlets[FRAMES_NAME].pull_sample(timeout=10.0)
    assert frame is not None  # the stream is flowing: now a marker with a private note
    session.command("marker", label="lsl", note="client said something private")
    marker = inlets[MARKERS_NAME].pull_sample(timeout=10.0)
    while marker[0] is not None and json.loads(marker[0][0])["kind"] != "marker":
        marker = inlets[MARKERS_NAME].pull_sample(timeout=10.0)
    assert marker[0] is not None
    event = json.loads(marker[0][0])
    assert event["label"] == "lsl" and "note" not in event
    # the marker's stamp is its sample's time on the LSL clock
    assert abs(marker[1] - pylsl.local_clock()) < 1.0

    assert session.wait(30)
    stopper = threading.Thread(target=session.stop)  # closes the outlets: the drain ends
    stopper.start()
    got = _drain(inlets)
    stopper.join(30)
    assert session.status in ("complete", "stopped") and not outlet.is_open
    rec = read_session(path)
    _check_frames(rec, [frame, *got[FRAMES_NAME][0]], [stamp, *got[FRAMES_NAME][1]])
    assert len(got[FRAMES_NAME][0]) > 0.5 * rec.n_frames
    kinds = [e["kind"] for e in _check_markers(rec, got[MARKERS_NAME][0])]
    assert kinds[-1] == "stop" and "step_end" in kinds
    _check_eeg(rec, *got[EEG_NAME])
    # the broken observer was called once, logged, dropped; the recording is whole
    assert broken.calls == 1 and session.observers == [outlet]
    assert "session observer" in caplog.text and "observer bug" in caplog.text
    assert rec.n_frames > 0 and rec.meta["status"] in ("complete", "stopped")


def test_push_errors_are_logged_once_and_never_raise(caplog):
    outlet = LslOutlet()
    outlet.push_frames(np.zeros((2, 3)))  # not open: nothing happens
    outlet.open(f"test-{uuid.uuid4().hex}", ["sample_index", "wall_time", "value"], 10.0)
    assert outlet.is_open and outlet.error is None
    caplog.set_level(logging.ERROR, logger="nfb")
    for _ in range(3):
        outlet.push_frames(np.zeros((2, 5)))  # wrong column count
    assert "LSL frames push failed" in outlet.error
    assert caplog.text.count("LSL frames push failed") == 1
    outlet.push_frames(np.zeros((2, 3)))  # still streaming after an error
    outlet.push_event({"kind": "threshold", "sample_index": 3, "value": float("nan")})
    outlet.close()
    outlet.close()
    assert not outlet.is_open
    # EEG without its channel names: the open error is kept, nothing streams, nothing raises
    bad = LslOutlet(raw=True)
    bad.open("x", ["value"], 10.0)
    assert not bad.is_open and "needs its sfreq" in bad.error


def test_nfb_run_streams_over_lsl(tmp_path):
    """A real ``nfb run --lsl-raw`` in a subprocess, received here."""
    tag = f"lsltest{uuid.uuid4().hex[:10]}"  # the protocol's file name: the session id's slug
    shutil.copy(ROOT / "protocols" / "alpha-beta-up.toml", tmp_path / f"{tag}.toml")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nfb.cli",
            "run",
            "--device",
            "synthetic",
            "--protocol",
            str(tmp_path / f"{tag}.toml"),
            "--client",
            "lsl-cli",
            "--duration",
            "5",
            "--sessions-dir",
            str(tmp_path / "sessions"),
            "--lsl-raw",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NFB_NO_PROGRESS": "1"},
    )
    try:
        inlets = {n: _resolve(n, tag) for n in (FRAMES_NAME, MARKERS_NAME, EEG_NAME)}
        info = inlets[FRAMES_NAME].info()
        assert (info.type(), info.channel_format()) == ("NFB", pylsl.cf_double64)
        assert info.nominal_srate() == pytest.approx(250 / 4)
        assert inlets[MARKERS_NAME].info().type() == "Markers"
        assert inlets[EEG_NAME].info().type() == "EEG"
        got = _drain(inlets)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    rec = read_session(out.strip().splitlines()[-1])
    assert rec.meta["session_id"].endswith(tag)
    _check_frames(rec, *got[FRAMES_NAME])
    assert len(got[FRAMES_NAME][0]) > 0.3 * rec.n_frames
    kinds = [e["kind"] for e in _check_markers(rec, got[MARKERS_NAME][0])]
    assert kinds[-2:] == ["step_end", "stop"]
    _check_eeg(rec, *got[EEG_NAME])


def test_no_lsl_unless_asked(tmp_path):
    """Without --lsl, neither nfb.lsl nor pylsl is imported by a run or by the console."""
    code = (
        "import sys\n"
        "from nfb.cli import main\n"
        "import nfb.gui.console\n"
        f"rc = main(['run', '--device', 'synthetic', '--protocol', 'alpha-up', '--client', "
        f"'no-lsl', '--duration', '1', '--sessions-dir', {str(tmp_path)!r}])\n"
        "print(rc, 'pylsl' in sys.modules, 'nfb.lsl' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 False False"


def test_console_switch(qtbot, own_windows, tmp_path):
    """Off by default, remembered, and when on a session started in the console streams."""
    from PyQt6 import QtCore

    from nfb.gui.console import ConsoleWindow

    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    first = own_windows(ConsoleWindow(tmp_path / "sessions", settings=settings))
    assert not first.lsl_box.isChecked()
    first.lsl_box.setChecked(True)
    first.save_settings()
    first.shutdown()
    window = own_windows(ConsoleWindow(tmp_path / "sessions", settings=settings))
    try:
        assert window.lsl_box.isChecked()
        window.device_box.setCurrentText("synthetic")
        window.toggle_connection()
        qtbot.waitUntil(lambda: window.stream is not None, timeout=20000)
        window.client_box.setCurrentText("lsl-gui")
        window.protocol_box.setCurrentText("alpha-up")
        window.start_session()
        qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
        assert not window.lsl_box.isEnabled()  # not switched during a session
        session = window.session
        # the console's own observers (the plots' event feed) beside the one LSL outlet
        (outlet,) = [o for o in session.observers if isinstance(o, LslOutlet)]
        assert outlet.is_open and not outlet.raw
        inlet = _resolve(FRAMES_NAME, f"nfb:{session.recorder.session_id}:frames")
        rows, stamps = [], []
        while len(rows) < 20:
            row, ts = inlet.pull_sample(timeout=10.0)  # returns as soon as a frame is in
            assert row is not None, "no frame within 10 s"
            rows.append(row)
            stamps.append(ts)
        window.stop_session()
        qtbot.waitUntil(lambda: session.finished and not outlet.is_open, timeout=10000)
        qtbot.waitUntil(lambda: window.lsl_box.isEnabled(), timeout=10000)
        _check_frames(read_session(session.path), rows, stamps)
    finally:
        window.shutdown()


def test_sham_columns_are_not_streamed():
    """A sham session's own_* and sham columns would reveal the blinding to any listener."""
    from nfb.session.runner import FRAME_COLUMNS
    from nfb.session.sham import SHAM_FRAME_COLUMNS

    sid = f"sham-{uuid.uuid4().hex[:8]}"
    base = [name for name, _ in FRAME_COLUMNS]
    columns = [*base, "alpha", *(name for name, _ in SHAM_FRAME_COLUMNS)]
    outlet = LslOutlet()
    outlet.open(sid, columns, 62.5, sfreq=250.0)
    try:
        assert outlet.error is None
        assert outlet.columns == [*base, "alpha"]
        inlet = _resolve(FRAMES_NAME, sid)
        assert _channel_labels(inlet) == [*base, "alpha"]
        rows = np.arange(3 * len(columns), dtype=float).reshape(3, len(columns))
        rows[:, columns.index("wall_time")] = time.time()
        outlet.push_frames(rows)
        got, deadline = [], time.monotonic() + 30
        while len(got) < 3:
            assert time.monotonic() < deadline, got
            data, _ = inlet.pull_chunk(timeout=0.5)
            got.extend(data)
        keep = [columns.index(c) for c in outlet.columns]
        np.testing.assert_array_equal(np.array(got), rows[:, keep])
    finally:
        outlet.close()
