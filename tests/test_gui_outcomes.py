"""The console's questionnaires: the forms save what was ticked into the client's course, and
the console shows where the client is in the course."""

from __future__ import annotations

from datetime import date

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtWidgets

from nfb.gui.outcomes import CourseRow, OutcomeDialog
from nfb.session import course as crs
from nfb.session.clients import ClientIndex


@pytest.fixture
def row(qtbot, own_windows, tmp_path):
    box = QtWidgets.QComboBox()
    box.setEditable(True)
    holder = own_windows(QtWidgets.QWidget())
    layout = QtWidgets.QVBoxLayout(holder)
    layout.addWidget(box)
    course_row = CourseRow(tmp_path / "store", box)
    layout.addWidget(course_row)
    holder.show()
    return course_row


def test_fill_the_forms_and_save(qtbot, row, tmp_path):
    store = tmp_path / "store"
    row.client_box.setCurrentText("Anna K")
    assert row.label.text() == "new client: GAD-7 at intake"
    dialog = row.open_forms()
    qtbot.waitExposed(dialog)
    gad, phq = dialog.forms["gad7"], dialog.forms["phq9"]
    assert not dialog.save_button.isEnabled()  # nothing answered yet
    answers = [3, 3, 2, 3, 2, 2, 3]
    for group, value in zip(gad.groups, answers[:-1], strict=False):
        group.button(value).click()  # as a mouse click would
    assert not dialog.save_button.isEnabled()
    assert gad.total_label.text() == "Unanswered: item 7."
    gad.groups[-1].button(3).click()
    assert gad.total_label.text().startswith("Total 18 of 21: severe")
    assert dialog.save_button.isEnabled()
    phq.groups[0].button(1).click()  # a PHQ-9 begun but not finished blocks the save
    assert not dialog.save_button.isEnabled()
    assert "PHQ-9" in dialog.message.text()
    phq.set_answers([1, 1, 0, 1, 0, 0, 1, 0, 0])
    dialog.note_edit.setText("intake")
    dialog.date_edit.setDate(QtCore.QDate(2025, 3, 4))
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        qtbot.mouseClick(dialog.save_button, QtCore.Qt.MouseButton.LeftButton)
    cid = ClientIndex(store).find("Anna K")
    saved = crs.read_course(store, cid)
    assert [(o.measure, o.items, o.date, o.note) for o in saved.outcomes] == [
        ("gad7", tuple(answers), date(2025, 3, 4), "intake"),
        ("phq9", (1, 1, 0, 1, 0, 0, 1, 0, 0), date(2025, 3, 4), "intake"),
    ]
    assert row.label.text() == "session 1 (no course plan)"  # refreshed when the dialog closed
    crs.set_plan(store, cid, crs.make_plan("alpha-up", 20, 5))
    row.refresh()
    assert row.label.text() == "session 1 of 20"  # the intake GAD-7 is recorded


def test_the_dialog_says_why_it_cannot_save(qtbot, own_windows, tmp_path):
    dialog = own_windows(OutcomeDialog(tmp_path / "store", "../etc"))
    dialog.show()
    dialog.forms["gad7"].set_answers([1] * 7)
    dialog.save()
    assert dialog.isVisible() and "client name" in dialog.message.text()
    assert not (tmp_path / "store" / "..").joinpath("etc", "course.json").exists()


def test_the_console_shows_the_course(qtbot, own_windows, tmp_path):
    from nfb.gui.console import ConsoleWindow
    from nfb.session.clients import resolve_client

    store = tmp_path / "sessions"
    cid = resolve_client("Ben", store)
    crs.set_plan(store, cid, crs.make_plan("alpha-up", 10, 5, ("gad7", "phq9")))
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(ConsoleWindow(store, settings=settings))
    console.show()
    console.client_box.setCurrentText("Ben")
    assert console.course_row.label.text() == "session 1 of 10, GAD-7 and PHQ-9 due"
