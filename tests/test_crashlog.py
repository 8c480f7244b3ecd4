"""A crash leaves a trace: a process killed by SIGSEGV (faulthandler armed by CrashLog) is
reported on the next start, with the Python stacks and the last lines of nfb's log; a clean
end is not; the console points the practitioner to the report."""

import os
import signal
import subprocess
import sys

import pytest

from nfb.crashlog import CrashLog

CHILD = r"""
import os, signal, sys
from nfb._logging import logger, set_log_level
set_log_level(False)
from nfb.crashlog import CrashLog
log = CrashLog(sys.argv[1])
log.start()
logger.warning("the last words before the crash")
if sys.argv[2] == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
log.stop()
"""


def _run(log_dir, how):
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(log_dir), how], capture_output=True, text=True
    )


@pytest.mark.skipif(os.name != "posix", reason="SIGSEGV by os.kill needs POSIX")
def test_a_segfault_is_reported_on_the_next_start_with_stacks_and_log(tmp_path):
    proc = _run(tmp_path, "crash")
    assert proc.returncode == -signal.SIGSEGV
    report = CrashLog(tmp_path).previous_crash()  # what the next start reports
    assert report is not None and report.parent == tmp_path
    text = report.read_text()
    assert "Fatal Python error: Segmentation fault" in text  # faulthandler's own words
    assert "the last words before the crash" in text  # nfb.log's tail
    # the next run that starts and ends cleanly reports it (stderr) and leaves nothing after it
    again = _run(tmp_path, "clean")
    assert again.returncode == 0 and "did not end cleanly" in again.stderr
    assert CrashLog(tmp_path).previous_crash() is None


def test_a_clean_end_leaves_nothing_to_report(tmp_path):
    assert _run(tmp_path, "clean").returncode == 0
    assert not (tmp_path / "running.json").exists()
    assert CrashLog(tmp_path).previous_crash() is None
    assert list(tmp_path.glob("crash-*.txt")) == []


def test_the_console_points_to_the_report(tmp_path, own_windows, qtbot):
    from PyQt6 import QtCore

    from nfb.gui.app import build

    report = tmp_path / "crash-20261202-000000.txt"
    report.write_text("x")
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(
        build(tmp_path / "store", settings=settings, sound=False, crash_report=report)
    )
    console.show()
    qtbot.waitUntil(lambda: console.crash_notice.isVisible(), timeout=5000)
    assert str(report) in console.crash_notice.text()
    assert str(report) in console.statusBar().currentMessage()


BOARD_CHILD = r"""
import sys
from nfb._logging import set_log_level
set_log_level(sys.argv[2])
from nfb.crashlog import CrashLog
from nfb.sources import BrainFlowSource
log = CrashLog(sys.argv[1])
log.start()  # the desktop app's log file: the logger goes down to INFO
source = BrainFlowSource(-1)
source.open()
source.close()
log.stop()
"""


@pytest.mark.parametrize(("level", "loud"), [("WARNING", False), ("INFO", True)])
def test_the_log_file_does_not_make_brainflow_talk_on_the_terminal(tmp_path, level, loud):
    # `nfb gui` printed BrainFlow's "incoming json: {...}" on every connect: its log file had
    # lowered the logger to INFO, and BrainFlow's own logger followed the logger, not -v
    proc = subprocess.run(
        [sys.executable, "-c", BOARD_CHILD, str(tmp_path), level], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert ("board_logger" in proc.stderr) is loud, proc.stderr
    assert "opened" in (tmp_path / "nfb.log").read_text()  # the file still has nfb's INFO
