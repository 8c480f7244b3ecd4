"""Issue 14, problems 7 and 9: a panel that fits the screen, menus, help, tooltips, errors.

Real parts: the console (offscreen Qt) on BrainFlow's synthetic board, driven with mouse and
key events; its layout measured at the screen sizes practitioners have.
"""

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtGui, QtWidgets

from nfb.gui.console import FIRST_SIZE, SHORTCUTS, first_size
from nfb.gui.messages import plain_error
from tests.test_gui_console import connect, start
from tests.test_gui_console import console as console  # the fixture

LEFT = QtCore.Qt.MouseButton.LeftButton
#: the controls a practitioner uses (a spin box's or combo box's own line edit is part of it)
CONTROLS = (
    QtWidgets.QAbstractButton,
    QtWidgets.QComboBox,
    QtWidgets.QAbstractSpinBox,
    QtWidgets.QLineEdit,
    QtWidgets.QAbstractSlider,
)


def _settle(qtbot, console, width, height):
    console.resize(width, height)
    qtbot.waitUntil(lambda: console.size() == QtCore.QSize(width, height))
    QtWidgets.QApplication.processEvents()


@pytest.mark.parametrize("size", [(1366, 768), (1500, 950), (1920, 1080)])
def test_the_left_panel_fits_without_sideways_scrolling(qtbot, console, size):
    _settle(qtbot, console, *size)
    for i in range(console.panel.count()):
        console.panel.setCurrentIndex(i)
        QtWidgets.QApplication.processEvents()
        scroll = console.panel.widget(i)
        page = scroll.widget()
        assert page.minimumSizeHint().width() <= scroll.viewport().width(), (
            console.panel.tabText(i),
            page.minimumSizeHint(),
            scroll.viewport().size(),
        )
        assert scroll.horizontalScrollBar().maximum() == 0
    # during a session everything the practitioner reaches for is in view, down to the sound
    console.panel.setCurrentIndex(1)
    QtWidgets.QApplication.processEvents()
    scroll = console.panel.widget(1)
    for widget in (console.stop_button, console.marker_button, console.mode_box, console.mute_box):
        top_left = widget.mapTo(scroll.viewport(), QtCore.QPoint(0, 0))
        rect = QtCore.QRect(top_left, widget.size())
        assert scroll.viewport().rect().contains(rect), (widget, rect, scroll.viewport().rect())


def test_every_control_has_a_tooltip(qtbot, console):
    missing = []
    for widget in console.findChildren(QtWidgets.QWidget):
        if not isinstance(widget, CONTROLS) or widget.objectName().startswith("qt_"):
            continue
        if isinstance(widget.parent(), QtWidgets.QAbstractSpinBox | QtWidgets.QComboBox):
            continue  # the line edit inside a spin box or an editable combo box
        if isinstance(widget.parent(), QtWidgets.QTabBar | QtWidgets.QScrollBar):
            continue  # Qt's own scroll arrows
        if not isinstance(widget, QtWidgets.QScrollBar) and not widget.toolTip():
            missing.append(f"{type(widget).__name__} {getattr(widget, 'text', str)()!r}")
    assert not missing, missing


def _menu(console, title):
    (menu,) = [a.menu() for a in console.menuBar().actions() if a.text().replace("&", "") == title]
    return menu


def test_the_menus_hold_the_session_actions_with_their_keys(qtbot, console):
    titles = [a.text().replace("&", "") for a in console.menuBar().actions()]
    assert titles == ["File", "Session", "View", "Help"]
    session = {a.text().split("\t")[0]: a for a in _menu(console, "Session").actions()}
    assert session["Start"].shortcut() == QtGui.QKeySequence(SHORTCUTS["start"])
    assert session["Stop"].shortcut() == QtGui.QKeySequence(SHORTCUTS["stop"])
    # the single keys are routed by SessionKeys; the menu shows them
    assert session["Pause"].text().endswith("\tSpace")
    assert not session["Start"].isEnabled()  # nothing connected yet
    connect(qtbot, console)
    assert session["Start"].isEnabled() and not session["Stop"].isEnabled()
    assert console.action_connect.text() == "Disconnect" and console.action_connect.isEnabled()
    # F5 is the menu's shortcut and nothing else's: it starts the session
    console.client_box.setCurrentText("menu-test")
    console.protocol_box.setCurrentText("short")
    qtbot.keyClick(console, QtCore.Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    assert console.panel.currentIndex() == 1  # the session's own tab
    assert session["Stop"].isEnabled() and not session["Start"].isEnabled()


def test_help_says_how_a_session_runs_and_lists_every_key(qtbot, console):
    help_menu = {a.text().replace("&", ""): a for a in _menu(console, "Help").actions()}
    help_menu["How a session runs"].trigger()
    qtbot.waitUntil(lambda: console.help_box is not None and console.help_box.isVisible())
    text = console.help_box.text()
    assert "Check the electrodes" in text and "not a medical device" in text
    console.help_box.close()
    qtbot.keyClick(console, QtCore.Qt.Key.Key_F1)  # Help > Keyboard shortcuts
    qtbot.waitUntil(lambda: "Keyboard" in (console.help_box.windowTitle() or ""))
    text = console.help_box.text()
    for key in SHORTCUTS.values():
        assert f"<b>{key}</b>" in text, key


def test_an_error_is_in_plain_words_and_stays_until_dismissed(qtbot, console):
    connect(qtbot, console)
    console.client_box.setCurrentText("")
    qtbot.mouseClick(console.start_button, LEFT)
    assert console.session is None
    assert console.error_bar.isVisible()
    assert console.error_text.text() == "Type or choose the client's name first."
    console.statusBar().clearMessage()  # what the status bar's timeout does
    assert console.error_bar.isVisible()
    qtbot.mouseClick(console.error_dismiss, LEFT)
    assert not console.error_bar.isVisible()


def test_plain_error_names_the_console_fields():
    assert plain_error("--ip-address: a host name, got 'x!'") == "IP address: a host name, got 'x!'"
    assert plain_error("--serial-port and --file are exclusive") == (
        "Serial port and File are exclusive"
    )
    assert plain_error("--made-up: kept") == "--made-up: kept"
    assert plain_error("connect a device first").startswith("Connect a device first")


def test_a_first_start_fits_the_screen_and_shows_the_synthetic_board(console):
    assert first_size(QtCore.QRect(0, 0, 1920, 1050)) == QtCore.QSize(*FIRST_SIZE)
    laptop = first_size(QtCore.QRect(0, 0, 1366, 740))  # less its task bar
    assert laptop.width() == 1366 and laptop.height() <= 740 - 24
    assert console.device_box.currentText() == "synthetic"  # not brainbit, the alphabet's first


def test_a_stop_question_left_open_closes_when_the_session_ends_by_itself(qtbot, console):
    connect(qtbot, console)
    session = start(qtbot, console, "moot-question")
    qtbot.keyClick(console, QtCore.Qt.Key.Key_Period, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: console.confirm_box is not None and console.confirm_box.isVisible())
    box = console.confirm_box
    session.command("skip")  # the script runs out of steps while the question is open
    for _ in range(5):
        session.command("skip")
    qtbot.waitUntil(lambda: console.session is None, timeout=30000)
    assert console.confirm_box is None and not box.isVisible()
    qtbot.waitUntil(lambda: console.step_label.text().startswith("session"), timeout=20000)
