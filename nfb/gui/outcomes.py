"""The console's course panel: where the client is, and the GAD-7 / PHQ-9 as forms.

:class:`CourseRow` sits under the console's client box: it shows "session 7 of 20, GAD-7
due" for the chosen client and opens :class:`OutcomeDialog`, the questionnaires with their
items' wording and four answers each. What it saves goes through
:func:`nfb.session.course.add_outcome`, the same validation and file as ``nfb outcome``.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from .._logging import logger
from ..errors import NfbError
from ..questionnaires import ANSWERS, QUESTIONNAIRES, Questionnaire, severity
from ..session.clients import ClientIndex, resolve_client
from ..session.course import add_outcome, client_progress


class QuestionnaireForm(QtWidgets.QGroupBox):
    """One questionnaire: its stem, each item with four answers (0–3), and the total."""

    changed = QtCore.pyqtSignal()

    def __init__(self, q: Questionnaire, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(f"{q.name} — {q.title}", parent)
        self.q = q
        grid = QtWidgets.QGridLayout(self)
        stem = QtWidgets.QLabel(q.stem)
        stem.setWordWrap(True)
        grid.addWidget(stem, 0, 0, 1, 5)
        for col, text in enumerate(ANSWERS, 1):
            head = QtWidgets.QLabel(f"{text}\n({col - 1})")
            head.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            head.setStyleSheet("color: #555; font-size: 11px")
            grid.addWidget(head, 1, col)
        self.groups: list[QtWidgets.QButtonGroup] = []
        for k, text in enumerate(q.items):
            label = QtWidgets.QLabel(f"{k + 1}. {text}")
            label.setWordWrap(True)
            grid.addWidget(label, k + 2, 0)
            group = QtWidgets.QButtonGroup(self)
            for value in range(4):
                button = QtWidgets.QRadioButton()
                button.setAccessibleName(f"{q.name} item {k + 1}: {ANSWERS[value]}")
                group.addButton(button, value)
                grid.addWidget(button, k + 2, value + 1, QtCore.Qt.AlignmentFlag.AlignCenter)
            group.idClicked.connect(lambda _id: self._update())
            self.groups.append(group)
        grid.setColumnStretch(0, 1)
        self.total_label = QtWidgets.QLabel("")
        grid.addWidget(self.total_label, len(q.items) + 2, 0, 1, 5)
        self._update()

    def answers(self) -> list[int | None]:
        """Each item's answer (``None``: not answered)."""
        return [g.checkedId() if g.checkedId() >= 0 else None for g in self.groups]

    def set_answers(self, values: list[int]) -> None:
        """Tick the given answers (tests, and a form filled from a paper copy)."""
        for group, value in zip(self.groups, values, strict=True):
            group.button(int(value)).setChecked(True)
        self._update()

    def complete(self) -> bool:
        """Whether every item is answered."""
        return all(v is not None for v in self.answers())

    def started(self) -> bool:
        """Whether any item is answered."""
        return any(v is not None for v in self.answers())

    def _update(self) -> None:
        values = self.answers()
        missing = [str(k + 1) for k, v in enumerate(values) if v is None]
        if not missing:
            total = sum(v for v in values if v is not None)
            text = f"Total {total} of {self.q.max_total}: {severity(self.q, total)}"
            if total >= self.q.cutoff:
                text += f" ({self.q.cutoff_label} on screening)"
        elif len(missing) == len(values):
            text = "Not answered (left out when saving)."
        else:
            text = f"Unanswered: item {', '.join(missing)}."
        self.total_label.setText(text)
        self.changed.emit()


class OutcomeDialog(QtWidgets.QDialog):
    """The questionnaires of a client's course as forms; Save records the complete ones.

    Parameters
    ----------
    sessions_dir : path-like
        The store.
    client : str
        What the practitioner typed in the client box (a name or an id); a new name becomes a
        client when something is saved, as when a session starts.
    measures : sequence of str
        The questionnaires shown (default both).
    """

    def __init__(
        self,
        sessions_dir: str | os.PathLike,
        client: str,
        measures: tuple[str, ...] = tuple(QUESTIONNAIRES),
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.sessions_dir = Path(sessions_dir)
        self.client = client
        self.saved: list = []
        self.setWindowTitle("Questionnaires")
        outer = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QFormLayout()
        self.date_edit = QtWidgets.QDateEdit(QtCore.QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setMaximumDate(QtCore.QDate.currentDate())  # never dated ahead
        self.note_edit = QtWidgets.QLineEdit()
        self.note_edit.setPlaceholderText("optional note (stays in the store, not exported)")
        top.addRow("Date", self.date_edit)
        top.addRow("Note", self.note_edit)
        outer.addLayout(top)
        body = QtWidgets.QWidget()
        forms = QtWidgets.QVBoxLayout(body)
        self.forms: dict[str, QuestionnaireForm] = {}
        for key in measures:
            form = QuestionnaireForm(QUESTIONNAIRES[key])
            form.changed.connect(self._changed)
            forms.addWidget(form)
            self.forms[key] = form
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        outer.addWidget(self.message)
        buttons = QtWidgets.QDialogButtonBox()
        self.save_button = buttons.addButton(
            "Save", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.save_button.clicked.connect(self.save)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self.resize(760, 720)
        self._changed()

    def _changed(self) -> None:
        forms = self.forms.values()
        partial = [f.q.name for f in forms if f.started() and not f.complete()]
        ready = [f for f in forms if f.complete()]
        self.save_button.setEnabled(bool(ready) and not partial)
        if partial:
            self.message.setText(f"Answer every item of {' and '.join(partial)}, or none.")
        else:
            self.message.setText("")

    def save(self) -> None:
        """Record every complete questionnaire with the date and note; close on success."""
        day = date.fromisoformat(self.date_edit.date().toString("yyyy-MM-dd"))
        try:
            client = resolve_client(self.client, self.sessions_dir)
            for key, form in self.forms.items():
                if form.complete():
                    values = [int(v) for v in form.answers() if v is not None]
                    self.saved.append(
                        add_outcome(
                            self.sessions_dir, client, key, values, day, self.note_edit.text()
                        )
                    )
        except NfbError as err:
            self.message.setText(str(err))
            logger.warning("questionnaires not saved: %s", err)
            return
        logger.info("saved %d questionnaire(s) for %s", len(self.saved), client)
        self.accept()


class CourseRow(QtWidgets.QWidget):
    """ "session 7 of 20, GAD-7 due" for the client in ``client_box``, and the forms' button.

    Parameters
    ----------
    sessions_dir : path-like
        The store.
    client_box : QComboBox
        The console's client box (followed as it changes).
    """

    def __init__(
        self,
        sessions_dir: str | os.PathLike,
        client_box: QtWidgets.QComboBox,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.sessions_dir = Path(sessions_dir)
        self.client_box = client_box
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QtWidgets.QLabel("")
        self.label.setWordWrap(True)
        self.button = QtWidgets.QPushButton("Questionnaires…")
        self.button.setToolTip("GAD-7 and PHQ-9 forms for this client")
        self.button.clicked.connect(self.open_forms)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.dialog: OutcomeDialog | None = None
        client_box.currentTextChanged.connect(lambda _text: self.refresh())
        self.refresh()

    def _client_id(self) -> str | None:
        name = self.client_box.currentText().strip()
        if not name:
            return None
        try:
            return ClientIndex(self.sessions_dir).find(name) or (
                name if (self.sessions_dir / name).is_dir() else None
            )
        except NfbError:
            return None

    def refresh(self) -> None:
        """Show where the chosen client is in the course (or that there is no plan)."""
        name = self.client_box.currentText().strip()
        self.button.setEnabled(bool(name))
        cid = self._client_id()
        if cid is None:
            self.label.setText("new client: GAD-7 at intake" if name else "")
            return
        try:
            self.label.setText(client_progress(self.sessions_dir, cid).text)
        except NfbError as err:
            self.label.setText(str(err))

    def open_forms(self) -> OutcomeDialog | None:
        """Open the questionnaires (modeless) for the chosen client; returns the dialog."""
        name = self.client_box.currentText().strip()
        if not name:
            return None
        self.dialog = OutcomeDialog(self.sessions_dir, name, parent=self)
        self.dialog.finished.connect(lambda _result: self.refresh())
        self.dialog.show()
        return self.dialog
