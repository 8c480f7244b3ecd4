"""Issue 14, problem 8: after Stop the console says how the session went and opens its report.

Real parts: the console (offscreen) on BrainFlow's synthetic board, mouse clicks, the report
written to the per-user data folder (the test's own, see conftest) and read back.
"""

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

from tests.test_gui_console import connect
from tests.test_gui_console import console as console  # the fixture

LEFT = QtCore.Qt.MouseButton.LeftButton


def test_after_stop_the_header_summarises_the_blocks_and_the_report_opens(qtbot, console):
    opened = []
    console.open_url = opened.append  # the desktop's browser, here: the URL it would get
    connect(qtbot, console)
    console.client_box.setCurrentText("after-stop")
    console.protocol_box.setCurrentText("short")
    assert not console.report_button.isVisible()
    qtbot.mouseClick(console.start_button, LEFT)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    for name in ("baseline_eyes_open", "baseline_eyes_closed"):
        # no step before the first frame: wait for it, then for the step itself
        qtbot.waitUntil(
            lambda n=name: (st := session.snapshot().step) is not None and st.name == n,
            timeout=20000,
        )
        console.skip_step()
    qtbot.waitUntil(lambda: session.snapshot().block_reward_rate is not None, timeout=20000)
    console.stop_session()
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=10000)
    (block,) = [b for b in session.snapshot().blocks if b["reward_rate"] is not None]
    target = session.runner.protocol.data["reward"]["target_rate"]
    assert console.step_label.text() == (
        f"session stopped: 1 block, reward {round(100 * block['reward_rate'])} % "
        f"(target {round(100 * target)} %)"
    )
    assert console.step_label.toolTip() == str(session.path)
    assert console.report_button.isVisible()
    qtbot.mouseClick(console.report_button, LEFT)
    qtbot.waitUntil(lambda: len(opened) == 1, timeout=30000)
    (url,) = opened
    report = console.last_report_path
    assert url.toLocalFile() == str(report) and report.is_file()
    assert "Short alpha/beta" in report.read_text(encoding="utf-8")
    assert report.parent.name == "reports" and (report.stat().st_mode & 0o077) == 0
