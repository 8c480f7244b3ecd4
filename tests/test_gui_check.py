"""Issue 14, problem 4: the signal verdict is on the trained electrodes; every row is shown.

Real parts: the console (offscreen) on BrainFlow's synthetic board (whose montage has bad
channels), mouse clicks, the protocol list. Waits are on the check's own result.
"""

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore

from tests.test_gui_console import connect
from tests.test_gui_console import console as console  # the fixture

LEFT = QtCore.Qt.MouseButton.LeftButton


def test_the_verdict_follows_the_protocols_electrodes_and_all_rows_fit(qtbot, console):
    connect(qtbot, console)
    console.protocol_box.setCurrentText("smr-up")  # trains Cz
    qtbot.mouseClick(console.check_button, LEFT)
    qtbot.waitUntil(lambda: console.last_check is not None, timeout=10000)
    table, check = console.check_table, console.last_check
    assert table.rowCount() == 16
    verdict = console.check_verdict.text()
    assert verdict.startswith(f"Trained Cz: {check.verdict_of(['Cz']).upper()}")
    others_bad = [c.name for c in check.channels if c.verdict == "bad" and c.name != "Cz"]
    for name in others_bad:  # named, but not as the session's verdict
        assert f"{name} (" in verdict.split("Other channels")[1]
    rows = {table.item(r, 0).text(): r for r in range(16)}
    assert "▶ Cz" in rows and table.item(rows["▶ Cz"], 0).font().bold()
    assert not table.item(rows["Fz"], 0).font().bold()
    # all 16 rows in view at once: the left panel scrolls, the table does not
    table.scrollToTop()
    last = table.visualRect(table.model().index(15, 0))
    assert last.bottom() <= table.viewport().height()
    # another protocol, another verdict, without a new check
    console.protocol_box.setCurrentText("frontal-asymmetry")
    assert console.check_verdict.text().startswith("Trained F3, F4: ")
    rows = {table.item(r, 0).text(): r for r in range(16)}
    assert "▶ F3" in rows and "▶ F4" in rows and "Cz" in rows
