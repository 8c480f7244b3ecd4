"""The console killed mid-session (SIGKILL, SIGSEGV): the next start says so and recovers it.

The app runs as the practitioner runs it (``nfb.gui.app.main``: crash log armed, store
recovered at start, the synthetic board connected, a session started from the console) in a
child process on the offscreen platform; the test kills it once frames are on disk, starts
the app again and reads what the console shows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nfb.session.schema import load_meta as read_meta

#: The app, started as ``nfb gui`` starts it; a timer of the test's own drives the console
#: the way a practitioner does (Start once the board is connected) or reports what it shows.
APP = r"""
import json, sys
from PyQt6 import QtCore, QtWidgets
from nfb.gui import app as nfb_app
from nfb.gui.console import ConsoleWindow

mode, store = sys.argv[1], sys.argv[2]
qapp = QtWidgets.QApplication(sys.argv[:1])
started = []

def console():
    return next((w for w in qapp.topLevelWidgets() if isinstance(w, ConsoleWindow)), None)

def tick():
    c = console()
    if c is None or not c.isVisible():
        return
    if mode == "train":
        if c.stream is not None and not started:
            started.append(True)
            c.start_session()
        elif c.session is not None:
            print("RECORDING", c.last_session_path, flush=True)
            timer.stop()
    else:
        notice = c.crash_notice
        print(json.dumps({
            "notice": notice.text() if notice is not None else None,
            "visible": notice is not None and notice.isVisible(),
            "status": c.statusBar().currentMessage(),
        }), flush=True)
        qapp.quit()

timer = QtCore.QTimer()
timer.timeout.connect(tick)
timer.start(20)
sys.exit(nfb_app.main(sessions_dir=store, device="synthetic", protocol="alpha-up",
                      client="crash-test", connect=mode == "train", sound=False))
"""


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        NFB_LOG_DIR=str(tmp_path / "logs"),
        HOME=str(tmp_path / "home"),  # the app's settings, away from the user's
        XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
        NFB_NO_PROGRESS="1",
    )
    return env


def _frames_on_disk(session) -> int:
    frames = session / "frames.f64"
    return frames.stat().st_size if frames.exists() else 0


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="kills with POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
def test_a_console_killed_mid_session_is_reported_and_its_session_recovered(tmp_path, sig):
    from pathlib import Path

    store = tmp_path / "store"
    env = _env(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", APP, "train", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stdout.readline()  # blocks until the session records (or the app ends)
        assert line.startswith("RECORDING"), child.stderr.read() if child.poll() else line
        session = Path(line.split(maxsplit=1)[1].strip())
        # the recorder flushes at least once a second: wait for frames to reach the disk
        deadline = time.monotonic() + 60
        while _frames_on_disk(session) < 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _frames_on_disk(session) >= 1024, "no frames reached the disk"
        assert read_meta(session)["status"] == "recording"
    finally:
        child.send_signal(sig)
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -sig

    again = subprocess.run(
        [sys.executable, "-c", APP, "look", str(store)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    shown = json.loads(again.stdout.strip().splitlines()[-1])
    reports = sorted((tmp_path / "logs").glob("crash-*.txt"))
    assert len(reports) == 1
    assert shown["visible"] and str(reports[0]) in shown["notice"]
    assert str(session) in shown["notice"]  # the practitioner is told which session
    assert str(reports[0]) in shown["status"]
    text = reports[0].read_text()
    if sig == signal.SIGSEGV:
        assert "Fatal Python error: Segmentation fault" in text  # every thread's stack
    assert "session" in text  # the tail of nfb's log: what the app was doing

    meta = read_meta(session)
    assert meta["status"] == "recovered"
    assert meta["n_frames"] > 0 and meta["n_samples"] > 0
    from nfb import read_session

    raw = read_session(session).raw  # what the researcher gets: MNE's Raw of what was kept
    assert raw.n_times == meta["n_samples"]
