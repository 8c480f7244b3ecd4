"""The client history: the selected client's past sessions, newest first, and their reports.

A non-modal dialog over :func:`~nfb.session.history.client_history`: date, protocol, reward
per block, self-ratings, duration and questionnaire totals. The store is read in a worker
thread (the console's), so a big store never stalls the live plots; a damaged session is a
row that says what is wrong. Double-click or "Open report" writes the session's report and
opens it, as the console's own "Open report" does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from ..session.history import HistoryEntry, client_history

#: The table's columns.
COLUMNS = (
    "Date",
    "Protocol",
    "Status",
    "Duration",
    "Reward per block",
    "Reward",
    "Before",
    "After",
    "Outcomes",
)
#: Header tooltips of the columns that need one.
COLUMN_TIPS = {
    "Reward per block": "The share of each training block's frames that were rewarded",
    "Reward": "Over all the session's training blocks",
    "Before": "The client's anxiety before the session, 0 (none) to 10 (worst)",
    "After": "The client's anxiety after the session, 0 to 10",
    "Outcomes": "The latest questionnaire totals on or before the session's day",
}
#: The questionnaires' names as practitioners write them.
OUTCOME_NAMES = {"gad7": "GAD-7", "phq9": "PHQ-9"}
_DAMAGED = QtGui.QColor("#f8d7da")
_NOT_FINISHED = QtGui.QColor("#fff3cd")


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.0f} %"


def _rating(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def row_texts(entry: HistoryEntry) -> list[str]:
    """The cells of an entry's row, in :data:`COLUMNS` order."""
    when = entry.start.astimezone().strftime("%Y-%m-%d %H:%M") if entry.start else "?"
    if entry.damaged:
        return [when, "—", "damaged", "—", entry.problem or "", "—", "—", "—", "—"]
    outcomes = ", ".join(
        f"{OUTCOME_NAMES.get(k, k)} {total:.0f} ({day})"
        for k, (total, day) in entry.outcomes.items()
    )
    return [
        when,
        entry.protocol or entry.protocol_slug or "—",
        entry.status,
        _duration(entry.duration_s),
        "  ".join(_pct(r) for r in entry.block_rewards) or "no block",
        _pct(entry.reward_rate),
        _rating(entry.anxiety_before),
        _rating(entry.anxiety_after),
        outcomes or "—",
    ]


class HistoryDialog(QtWidgets.QDialog):
    """A client's past sessions.

    Parameters
    ----------
    sessions_dir : path-like
        The store.
    client : str
        The client's name (or id), as the console's client box has it.
    run_in_thread : callable
        ``run_in_thread(fn, callback)``: runs ``fn`` in a worker thread and
        ``callback(result, error)`` in the GUI thread (the console's).
    open_report : callable
        ``open_report(path)``: writes a session's report and opens it (the console's).
    parent : QWidget | None
        The console.
    """

    #: Emitted with the entries once they are shown (tests, and whoever waits for them).
    loaded = QtCore.pyqtSignal(list)

    def __init__(
        self,
        sessions_dir,
        client: str,
        run_in_thread: Callable,
        open_report: Callable[[Path], None],
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.sessions_dir = Path(sessions_dir)
        self.client = client
        self._run_in_thread = run_in_thread
        self._open_report = open_report
        self.entries: list[HistoryEntry] = []
        self.setWindowTitle(f"History — {client}")
        self.setModal(False)
        self.resize(1100, 420)
        layout = QtWidgets.QVBoxLayout(self)
        self.summary = QtWidgets.QLabel("reading the store…")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for col, name in enumerate(COLUMNS):
            if name in COLUMN_TIPS:
                self.table.horizontalHeaderItem(col).setToolTip(COLUMN_TIPS[name])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Double-click a session to open its report")
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)
        buttons = QtWidgets.QHBoxLayout()
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the client's sessions from the store again")
        self.refresh_button.clicked.connect(self.load)
        self.report_button = QtWidgets.QPushButton("Open report")
        self.report_button.setToolTip(
            "Write the chosen session's report (the reports folder) and open it in the browser"
        )
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.report_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)

    def load(self) -> None:
        """Read the client's sessions in a worker thread; the table fills when they come."""
        self.refresh_button.setEnabled(False)
        self.summary.setText("reading the store…")
        sessions_dir, client = self.sessions_dir, self.client
        self._run_in_thread(lambda: client_history(sessions_dir, client), self._show)

    def _show(self, entries: list[HistoryEntry] | None, err: BaseException | None) -> None:
        self.refresh_button.setEnabled(True)
        if err is not None:
            # the index or the store cannot be read: said here, in plain words
            self.summary.setText(f"The sessions of {self.client} cannot be read: {err}")
            self.entries = []
            self.table.setRowCount(0)
            self.loaded.emit([])
            return
        self.entries = list(entries or [])
        table = self.table
        table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            shade = None
            if entry.damaged:
                shade = _DAMAGED
            elif entry.status in ("interrupted", "recording", "failed"):
                shade = _NOT_FINISHED
            for col, text in enumerate(row_texts(entry)):
                item = QtWidgets.QTableWidgetItem(text)
                if shade is not None:
                    item.setBackground(shade)
                item.setToolTip(
                    f"{entry.problem}\n{entry.path}" if entry.damaged else str(entry.path)
                )
                table.setItem(row, col, item)
        table.resizeColumnsToContents()
        damaged = sum(e.damaged for e in self.entries)
        n = len(self.entries)
        text = (
            f"{n} session{'s' if n != 1 else ''} of {self.client}, newest first"
            if n
            else f"{self.client} has no session in this store yet"
        )
        if damaged:
            text += f"; {damaged} cannot be read (shown in red, no report)"
        self.summary.setText(text + ".")
        self._selection_changed()
        self.loaded.emit(self.entries)

    def _selection_changed(self) -> None:
        row = self.table.currentRow()
        ok = 0 <= row < len(self.entries) and not self.entries[row].damaged
        self.report_button.setEnabled(bool(self.table.selectedItems()) and ok)

    def open_row(self, row: int) -> None:
        """Write and open the report of the session in ``row`` (not of a damaged one)."""
        if not 0 <= row < len(self.entries):
            return
        entry = self.entries[row]
        if entry.damaged:
            self.summary.setText(f"No report: {entry.session_id} {entry.problem}")
            return
        self._open_report(entry.path)


class ReuseThresholdBox(QtWidgets.QCheckBox):
    """ "Reuse the last thresholds of this client and protocol": off by default.

    It offers the newest readable session of the chosen client and protocol that set a
    threshold (:func:`~nfb.session.history.last_threshold`, looked up in a worker thread
    whenever the client or the protocol changes), says in its tooltip which session and
    value it would reuse, and is disabled when there is none. It is unticked again at each
    change, so a reused threshold is always a choice made for this session.

    Parameters
    ----------
    sessions_dir : path-like
        The store.
    run_in_thread : callable
        ``run_in_thread(fn, callback)`` (the console's worker threads).
    """

    #: Emitted after each lookup with the session it would reuse (``None``: none).
    looked_up = QtCore.pyqtSignal(object)

    TEXT = "Reuse the last thresholds of this client and protocol"

    def __init__(self, sessions_dir, run_in_thread: Callable) -> None:
        super().__init__(self.TEXT)
        self.sessions_dir = Path(sessions_dir)
        self._run_in_thread = run_in_thread
        #: the session whose last threshold a start would reuse
        self.found: HistoryEntry | None = None
        self._asked = 0  # the newest lookup: an older one's answer is dropped
        self._wanted: tuple[str, str] = ("", "")
        # typing a client's name changes it at each key: look up once the typing pauses
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._look_up)
        self._show(None, "")

    def update_for(self, client: str, protocol: str) -> None:
        """The client (name or id) and the protocol (name or file) now chosen."""
        self._wanted = (client.strip(), protocol)
        self.setChecked(False)
        self._timer.start()

    def _look_up(self) -> None:
        from ..protocol import load_protocol
        from ..session.history import last_threshold

        client, protocol = self._wanted
        self._asked += 1
        asked, sessions_dir = self._asked, self.sessions_dir
        if not client or not protocol:
            self._show(None, "choose a client and a protocol first")
            self.looked_up.emit(None)
            return

        def work():
            return last_threshold(sessions_dir, client, load_protocol(protocol).slug)

        def done(entry, err):
            if asked != self._asked:
                return
            if err is not None:
                self._show(None, f"the store cannot be read: {err}")
            else:
                self._show(
                    entry, f"no earlier session of {client} with this protocol set a threshold"
                )
            self.looked_up.emit(self.found)

        self._run_in_thread(work, done)

    def _show(self, entry: HistoryEntry | None, why: str) -> None:
        self.found = entry
        self.setChecked(False)
        self.setEnabled(entry is not None)
        if entry is None:
            self.setToolTip(
                "Start from the last threshold of this client's previous session with this "
                f"protocol instead of the protocol's own rule; not available: {why}"
            )
            return
        when = entry.start.astimezone().strftime("%Y-%m-%d %H:%M") if entry.start else "?"
        limits = ", ".join(f"{k} {v:.4g}" for k, v in entry.inhibit_limits.items())
        self.setToolTip(
            f"Start from {entry.last_threshold:.4g}, the last threshold of the session of "
            f"{when} ({entry.session_id})"
            + (f", and the inhibit limits set in it ({limits})" if limits else "")
            + ", instead of the protocol's own rule; the baseline then sets no threshold. "
            "Off: the protocol's rule"
        )

    def reuse_threshold(self) -> dict | None:
        """What a session started now reuses (``LiveSession(reuse_threshold=...)``), or
        ``None`` when the box is off."""
        if not self.isChecked() or self.found is None or self.found.last_threshold is None:
            return None
        return {
            "value": self.found.last_threshold,
            "session_id": self.found.session_id,
            "inhibit_limits": dict(self.found.inhibit_limits),
        }
