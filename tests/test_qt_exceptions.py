"""An exception raised in the Qt event loop fails the test that caused it.

PyQt6 would print it and go on (or abort the process); pytest-qt captures exceptions in
slots and virtual methods while a test runs, and this suite must keep it that way: the
segfault of issue 10 was announced by exactly such an exception (a pyqtgraph
``resizeEvent`` on a deleted item) that no test failed on. The inner suites run in a
subprocess with this suite's plugins, so a crash there cannot take this run down.
"""

import pytest

INNER = r"""
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets


def test_a_slot_that_raises(qtbot):
    fired = []

    def slot():
        fired.append(True)
        raise ValueError("raised in a timer slot")

    QtCore.QTimer.singleShot(0, slot)
    qtbot.waitUntil(lambda: bool(fired), timeout=5000)


def test_an_event_handler_that_raises(qtbot):
    class Button(QtWidgets.QPushButton):
        def mousePressEvent(self, event):
            raise RuntimeError("raised in mousePressEvent")

    button = Button("press")
    qtbot.addWidget(button)
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_a_plot_item_that_raises_while_laid_out(qtbot):
    # the shape of issue 10's warning: LabelItem.resizeEvent, delivered by the layout
    class Label(pg.LabelItem):
        def resizeEvent(self, event):
            raise RuntimeError("raised in LabelItem.resizeEvent")

    view = pg.GraphicsLayoutWidget()
    qtbot.addWidget(view)
    view.addItem(Label("title"))
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.resize(500, 320)
    qtbot.wait(1)  # let the layout request be delivered (an event turn, not a timing)


def test_a_quiet_slot_passes(qtbot):
    fired = []
    QtCore.QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired), timeout=5000)
"""


def test_an_exception_in_a_qt_slot_or_event_handler_fails_the_run(pytester):
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("failed") == 3, outcomes
    out = result.stdout.str()
    for words in (
        "raised in a timer slot",
        "raised in mousePressEvent",
        "raised in LabelItem.resizeEvent",
    ):
        assert words in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED
