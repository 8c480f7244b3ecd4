"""The practitioner console: connect, check, choose client and protocol, run and watch.

The console is a shell over the engine. It never talks to BrainFlow (a
:class:`~nfb.stream.DeviceStream` does), never filters or transforms a sample (the
:class:`~nfb.monitor.SignalMonitor` thread and the session runner do), and never waits on the
board or the disk in the GUI thread: connecting, starting and stopping run in worker threads
that report back through Qt signals. A 60 Hz QTimer only copies the newest views into plots.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from .._logging import logger
from .._version import __version__
from ..devices import DeviceProfile, list_profiles, load_profile
from ..errors import NfbError
from ..feedback.level import FeedbackState
from ..feedback.visual import (
    IDLE_SCREEN,
    VIDEO_FOLLOW_CHOICES,
    complete_screen,
    step_screen,
)
from ..impedance import CHECK_KOHM, GOOD_KOHM, IMPEDANCE_BOARDS
from ..paths import legacy_store_notice
from ..ports import connection_warnings, list_serial_ports, scan_ble
from ..protocol import list_protocols, load_protocol, protocol_origin
from ..session.clients import ClientIndex, client_names, resolve_client
from ..session.folders import default_sessions_dir
from ..session.live import LiveSession
from ..session.runner import COLUMN, trained_channels
from ..stream import DeviceStream
from .headmap import HeadMap
from .history import HistoryDialog, ReuseThresholdBox
from .keys import SessionKeys
from .lsl_streams import StreamFinder
from .messages import HOW_A_SESSION_RUNS, plain_error
from .outcomes import CourseRow
from .plots import LivePlots, verdict_colour

#: Keyboard shortcuts (also shown on the buttons' tooltips).
SHORTCUTS = {"start": "F5", "pause": "Space", "marker": "M", "skip": "Ctrl+N", "stop": "Ctrl+."}
#: What each session action does, for its button's tooltip and its menu entry.
_ACTION_TIPS = {
    "start": "Start the session with the chosen client and protocol: baselines, then blocks",
    "pause": "Pause the session (the recording goes on, marked as paused); again to resume",
    "marker": "Mark this moment in the recording, with the note if one is typed",
    "skip": "End the current step now and go to the next one (a baseline, block or rest)",
    "stop": "End the session early (it asks first); it ends by itself after the last block",
}
#: The single keys, routed by :class:`~nfb.gui.keys.SessionKeys` (not typed into a button or
#: a rating box, but typed into a text field).
_SINGLE_KEYS = {"pause": QtCore.Qt.Key.Key_Space, "marker": QtCore.Qt.Key.Key_M}


class _Bridge(QtCore.QObject):
    """Carries results of worker threads back to the GUI thread."""

    done = QtCore.pyqtSignal(object, object, object)  # callback, result, error


def _message_bar(colours: tuple[str, str, str], dismiss_tip: str, on_dismiss):
    """A hidden bar of text that stays until its Dismiss button: (frame, label, button).

    ``colours`` are the background, the border and the text's.
    """
    background, border, text_colour = colours
    bar = QtWidgets.QFrame()
    bar.setStyleSheet(f"QFrame {{ background: {background}; border: 1px solid {border}; }}")
    row = QtWidgets.QHBoxLayout(bar)
    row.setContentsMargins(6, 4, 6, 4)
    text = QtWidgets.QLabel("")
    text.setWordWrap(True)
    text.setStyleSheet(f"border: none; color: {text_colour};")
    dismiss = QtWidgets.QPushButton("Dismiss")
    dismiss.setToolTip(dismiss_tip)
    dismiss.clicked.connect(on_dismiss)
    row.addWidget(text, 1)
    row.addWidget(dismiss)
    bar.hide()
    return bar, text, dismiss


#: The console's size on a first start, where the screen has room for it.
FIRST_SIZE = (1500, 950)


def first_size(available: QtCore.QRect) -> QtCore.QSize:
    """The console's size on a first start: :data:`FIRST_SIZE`, within the screen's area.

    A 1366x768 laptop had the window run off its screen. The height keeps room for the
    window's title bar.
    """
    title_bar = 32
    return QtCore.QSize(
        min(FIRST_SIZE[0], available.width()),
        min(FIRST_SIZE[1], max(available.height() - title_bar, 480)),
    )


class ConsoleWindow(QtWidgets.QMainWindow):
    """The practitioner's window.

    Parameters
    ----------
    sessions_dir : path-like | None
        Session store (default ``$NFB_SESSIONS_DIR`` or ``./sessions``).
    settings : QSettings | None
        Where layout and last choices are remembered.
    client_window : ClientWindow | None
        The client's feedback window (created by the app).
    audio : AudioFeedback | None
        The tone (created by the app).
    """

    session_started = QtCore.pyqtSignal(object)
    session_stopped = QtCore.pyqtSignal(object)
    connected = QtCore.pyqtSignal()

    def __init__(
        self,
        sessions_dir=None,
        settings: QtCore.QSettings | None = None,
        client_window=None,
        audio=None,
        state: FeedbackState | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("nfb — practitioner console")
        self.sessions_dir = Path(sessions_dir) if sessions_dir else default_sessions_dir()
        self.settings = settings or QtCore.QSettings("nfb", "nfb")
        self.state = state or FeedbackState()
        self.client_window = client_window
        self._client_end_screen = None  # the client's closing screen, once a session ended
        self.audio = audio
        self.stream: DeviceStream | None = None
        self.monitor = None
        self.session: LiveSession | None = None
        self.last_session_path: Path | None = None
        self.last_check = None
        self.last_impedance = None
        self.latency_ms: float | None = None
        self._bridge = _Bridge()
        self._bridge.done.connect(self._on_done)
        self._busy = 0  # worker threads running
        self._workers: list[threading.Thread] = []
        self._closing = False
        # objects a worker is opening: released by shutdown() if the window closes meanwhile
        self._pending_stream: DeviceStream | None = None
        self._pending_session: LiveSession | None = None
        self._ratings: dict = {"anxiety_before": None, "anxiety_after": None}
        self._last_frame_index = -1
        self._n_markers = 0
        self.crash_notice: QtWidgets.QMessageBox | None = None
        #: the open "stop the session?" question, if any (non-modal to the app: the session
        #: keeps running and drawing while it is asked)
        self.confirm_box: QtWidgets.QMessageBox | None = None
        #: ask before a close ends a running session; off for a teardown no one watches
        #: (a signal, the app's exit path)
        self.ask_before_closing = True
        self._single_keys: dict = {}
        #: (menu action, button) pairs of the session actions, enabled together
        self._session_actions: list[tuple[QtGui.QAction, QtWidgets.QPushButton]] = []
        self.last_report_path: Path | None = None
        #: the open help or about box, if any
        self.help_box: QtWidgets.QMessageBox | None = None
        #: how a written report is opened (the desktop's browser)
        self.open_url = QtGui.QDesktopServices.openUrl

        self._build()
        self.session_keys = SessionKeys(self._single_keys, self)
        self._restore()
        # a store an older version left in ./sessions: said once, never silently abandoned
        notice = legacy_store_notice(self.sessions_dir) if not sessions_dir else None
        if notice:
            self.statusBar().showMessage(notice, 60000)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(16)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self._update_buttons()

    # --- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        # the left panel: one tab to connect and check, one to run the session, each fitting
        # the width it is given (no horizontal scrolling) and a 1366x768 screen's height
        connect_page = QtWidgets.QWidget()
        session_page = QtWidgets.QWidget()
        form = QtWidgets.QVBoxLayout(connect_page)

        dev = QtWidgets.QGroupBox("Device")
        g = QtWidgets.QFormLayout(dev)
        self.device_box = QtWidgets.QComboBox()
        self.profiles: dict[str, DeviceProfile] = {p.name: p for p in list_profiles()}
        for name in sorted(self.profiles):
            self.device_box.addItem(name)
            self.device_box.setItemData(
                self.device_box.count() - 1,
                f"{self.profiles[name].origin}: {self.profiles[name].path}",
                QtCore.Qt.ItemDataRole.ToolTipRole,
            )
        self.device_box.currentTextChanged.connect(self._device_changed)
        self.device_box.setToolTip(
            "The board (or stream, or recorded file) to read: a built-in profile or your own "
            "from the devices folder; hover an entry to see where it comes from"
        )
        self.serial_edit = QtWidgets.QLineEdit()
        self.mac_edit = QtWidgets.QLineEdit()
        self.file_edit = QtWidgets.QLineEdit()
        self.serial_edit.setToolTip(
            "The port of the board's USB dongle (COM3 on Windows, /dev/cu.usbserial-… on "
            "macOS, /dev/ttyUSB0 on Linux); Scan fills it in"
        )
        self.mac_edit.setToolTip(
            "The Bluetooth address of a headset (empty: the first one found); Scan fills it in"
        )
        self.file_edit.setToolTip("A recorded file to play back as if it were a board")
        self.ip_edit = QtWidgets.QLineEdit()
        self.ip_edit.setToolTip(
            "The address of a network board: the WiFi Shield (192.168.4.1 in direct mode) or "
            "a Neurosity Crown"
        )
        self.lsl_edit = QtWidgets.QLineEdit()
        self.lsl_edit.setPlaceholderText("empty: the one EEG stream on the network")
        self.lsl_edit.setToolTip(
            "The name of an LSL stream of EEG (an amplifier's LSL app, muse-lsl, BlueMuse, "
            "OpenBCI GUI's networking widget)"
        )
        browse = QtWidgets.QPushButton("…")
        browse.setFixedWidth(30)
        browse.setToolTip("Choose the file")
        browse.clicked.connect(self._browse_file)
        file_row = QtWidgets.QHBoxLayout()
        file_row.addWidget(self.file_edit)
        file_row.addWidget(browse)
        self.connect_button = QtWidgets.QPushButton("Connect")
        self.connect_button.clicked.connect(self.toggle_connection)
        self.connect_button.setToolTip(
            "Connect the board and start streaming (the traces appear on the right); "
            "press again to disconnect"
        )
        self.device_state = QtWidgets.QLabel("not connected")
        # which profile this is: shipped with nfb, or the user's own (config folder)
        self.device_origin = QtWidgets.QLabel("")
        self.device_origin.setStyleSheet("color: #444")
        self.device_origin.setWordWrap(True)
        # what this computer sees: serial ports (USB ids) and BLE headsets; a choice fills in
        self.scan_button = QtWidgets.QPushButton("Scan")
        self.scan_button.setToolTip(
            "List serial ports (OpenBCI dongle 0403:6015, BLED112 2458:0001) and Muse or "
            "Ganglion headsets in Bluetooth range; choosing one fills the port or MAC"
        )
        self.scan_button.clicked.connect(self.scan_devices)
        self.scan_box = QtWidgets.QComboBox()
        self.scan_box.setPlaceholderText("press Scan to find boards")
        self.scan_box.activated.connect(self._scan_chosen)
        self.scan_box.setToolTip(
            "Boards this computer sees; choosing one fills in its port or address"
        )
        scan_row = QtWidgets.QHBoxLayout()
        scan_row.addWidget(self.scan_box, 1)
        scan_row.addWidget(self.scan_button)
        self.mains_box = QtWidgets.QComboBox()
        self.mains_box.addItems(["50 Hz", "60 Hz"])
        self.mains_box.setToolTip(
            "The mains frequency where you are (Europe, most of Asia and Africa: 50 Hz; the "
            "Americas, Taiwan, part of Japan: 60 Hz); used by the notch, the signal check and "
            "the report"
        )
        self.device_warning = QtWidgets.QLabel("")
        self.device_warning.setWordWrap(True)
        self.device_warning.setStyleSheet("color: #a05000")
        self.device_warning.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.device_warning.hide()
        g.addRow("Profile", self.device_box)
        g.addRow(self.device_origin)
        g.addRow("Found", scan_row)
        g.addRow("Serial port", self.serial_edit)
        g.addRow("MAC address", self.mac_edit)
        g.addRow("File", file_row)
        g.addRow("IP address", self.ip_edit)
        g.addRow("LSL stream", self.lsl_edit)
        self.lsl_finder = StreamFinder()  # the streams on the network, to pick from
        self.lsl_finder.find_requested.connect(self.find_lsl_streams)
        self.lsl_finder.chosen.connect(self.lsl_edit.setText)
        g.addRow("Streams seen", self.lsl_finder)
        g.addRow("Mains", self.mains_box)
        g.addRow(self.connect_button, self.device_state)
        g.addRow(self.device_warning)
        form.addWidget(dev)

        chk = QtWidgets.QGroupBox("Signal check")
        v = QtWidgets.QVBoxLayout(chk)
        self.check_button = QtWidgets.QPushButton("Check signal (last 5 s)")
        self.check_button.clicked.connect(self.check_signal)
        self.check_button.setToolTip(
            "Rate the last 5 s of every channel and give a verdict on the electrodes the "
            "chosen protocol trains"
        )
        self.check_table = QtWidgets.QTableWidget(0, 5)
        self.check_table.setHorizontalHeaderLabels(
            ["channel", "RMS µV", "mains µV", "flags", "verdict"]
        )
        self.check_table.verticalHeader().setVisible(False)
        self.check_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.check_table.setMinimumHeight(140)
        # the columns share the panel's width (a sideways scrollbar hid the verdicts)
        self.check_table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self.check_table.setToolTip(
            "Each channel over the last 5 s: RMS amplitude, mains hum, what looks wrong "
            "(flat, railed, noisy) and the verdict; ▶ marks the electrodes the protocol trains"
        )
        self.check_verdict = QtWidgets.QLabel("")
        self.check_verdict.setWordWrap(True)
        self.impedance_button = QtWidgets.QPushButton("Electrode impedance (Cyton, Ganglion)")
        self.impedance_button.setToolTip(
            "Cyton: drive each electrode in turn with the 6 nA lead-off current (about 2.5 s "
            "per electrode; the board streams on). Ganglion: its impedance mode, then back to "
            "streaming. Shows each electrode's impedance in kΩ"
        )
        self.impedance_button.clicked.connect(self.check_impedance)
        self.impedance_table = QtWidgets.QTableWidget(0, 3)
        self.impedance_table.setHorizontalHeaderLabels(["electrode", "kΩ", "verdict"])
        self.impedance_table.verticalHeader().setVisible(False)
        self.impedance_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.impedance_table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self.impedance_table.setToolTip(
            f"Electrode contact: good up to {GOOD_KOHM:g} kΩ, check up to {CHECK_KOHM:g} kΩ, "
            "bad above (wet or gel electrodes; dry electrodes read higher)"
        )
        self.impedance_table.setVisible(False)
        self.impedance_map = HeadMap()  # beside the table: where each electrode sits
        self.impedance_map.setVisible(False)
        impedance_row = QtWidgets.QHBoxLayout()
        impedance_row.addWidget(self.impedance_table, 2)
        impedance_row.addWidget(self.impedance_map, 3)
        v.addWidget(self.check_button)
        v.addWidget(self.check_table)
        v.addWidget(self.check_verdict)
        v.addWidget(self.impedance_button)
        v.addLayout(impedance_row)
        form.addWidget(chk)
        form.addStretch(1)
        form = QtWidgets.QVBoxLayout(session_page)

        ses = QtWidgets.QGroupBox("Session")
        g = QtWidgets.QFormLayout(ses)
        self.client_box = QtWidgets.QComboBox()
        self.client_box.setEditable(True)
        self.client_box.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self._load_clients()
        self.client_box.setToolTip(
            "The client: choose one, or type a new name (it is kept in the store's private "
            "index; sessions are filed under an id)"
        )
        self.protocol_box = QtWidgets.QComboBox()
        self._fill_protocols()
        self.protocol_box.currentTextChanged.connect(self._protocol_changed)
        self.protocol_box.setToolTip(
            "What to train: sites, bands, direction, script and inhibits (built-in presets "
            "and your own from the protocols folder)"
        )
        self.edit_protocol_button = QtWidgets.QPushButton("Edit protocol…")
        self.edit_protocol_button.setToolTip(
            "Edit the chosen protocol (a built-in one as a copy under a new name) and save it "
            "to your protocol folder"
        )
        self.edit_protocol_button.clicked.connect(self.edit_protocol)
        self.protocol_editor = None
        self.protocol_text = QtWidgets.QLabel("")
        self.protocol_text.setWordWrap(True)
        self.protocol_text.setStyleSheet("color: #444")
        self.rating_before = QtWidgets.QSpinBox()
        self.rating_after = QtWidgets.QSpinBox()
        for box in (self.rating_before, self.rating_after):
            box.setRange(-1, 10)
            box.setSpecialValueText("—")
            box.setValue(-1)
        self.rating_before.setToolTip(
            "The client's anxiety before the session, 0 (none) to 10 (worst); — if not asked"
        )
        self.rating_after.setToolTip(
            "The client's anxiety after the session, 0 to 10; it can be given after Stop"
        )
        ratings = QtWidgets.QHBoxLayout()
        ratings.addWidget(QtWidgets.QLabel("before"))
        ratings.addWidget(self.rating_before)
        ratings.addWidget(QtWidgets.QLabel("after"))
        ratings.addWidget(self.rating_after)
        self.history_button = QtWidgets.QPushButton("History…")
        self.history_button.setToolTip(
            "The client's past sessions: date, protocol, reward per block, ratings; "
            "open a session's report from there"
        )
        self.history_button.clicked.connect(self.show_history)
        self.history_dialog: HistoryDialog | None = None
        client_row = QtWidgets.QHBoxLayout()
        client_row.addWidget(self.client_box, 1)
        client_row.addWidget(self.history_button)
        g.addRow("Client", client_row)
        self.course_row = CourseRow(self.sessions_dir, self.client_box)  # plan, questionnaires
        g.addRow("Course", self.course_row)
        protocol_row = QtWidgets.QHBoxLayout()
        protocol_row.addWidget(self.protocol_box, 1)
        protocol_row.addWidget(self.edit_protocol_button)
        g.addRow("Protocol", protocol_row)
        g.addRow(self.protocol_text)
        g.addRow("Anxiety 0–10", ratings)
        buttons = QtWidgets.QGridLayout()
        self.start_button = self._button("Start", self.start_session, "start")
        self.pause_button = self._button("Pause", self.toggle_pause, "pause")
        self.skip_button = self._button("Next step", self.skip_step, "skip")
        self.stop_button = self._button("Stop", self.request_stop, "stop")
        for i, b in enumerate(
            (self.start_button, self.pause_button, self.skip_button, self.stop_button)
        ):
            buttons.addWidget(b, i // 2, i % 2)
        g.addRow(buttons)
        thr = QtWidgets.QHBoxLayout()
        self.auto_box = QtWidgets.QCheckBox("auto")
        self.auto_box.setChecked(True)
        self.auto_box.toggled.connect(self._auto_toggled)
        self.auto_box.setToolTip(
            "The threshold follows the protocol's rule (from the baseline, then adapting to "
            "the target reward rate); untick to set it by hand with the slider"
        )
        self.threshold_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 1000)
        self.threshold_slider.setEnabled(False)
        # emitted on release, page steps and keys alike (tracking off: not while dragging)
        self.threshold_slider.setTracking(False)
        self.threshold_slider.valueChanged.connect(self._threshold_moved)
        self.threshold_slider.setToolTip(
            "The threshold by hand (with auto unticked); every change is recorded"
        )
        self.threshold_label = QtWidgets.QLabel("—")
        self.threshold_label.setMinimumWidth(70)
        thr.addWidget(self.auto_box)
        thr.addWidget(self.threshold_slider)
        thr.addWidget(self.threshold_label)
        g.addRow("Threshold", thr)
        # off by default: a new session starts from the protocol's own rule
        self.reuse_box = ReuseThresholdBox(self.sessions_dir, self._in_thread)
        g.addRow(self.reuse_box)
        self.client_box.currentTextChanged.connect(self._reuse_lookup)
        self.protocol_box.currentTextChanged.connect(self._reuse_lookup)
        self.session_stopped.connect(self._reuse_lookup)  # that session is now the last
        self.session_stopped.connect(self._refresh_history)
        self._reuse_lookup()
        mk = QtWidgets.QHBoxLayout()
        self.marker_note = QtWidgets.QLineEdit()
        self.marker_note.setPlaceholderText("note (optional)")
        self.marker_note.setToolTip(
            "A note for the next marker (client moved, talked, felt sleepy…); Return adds it"
        )
        self.marker_button = self._button("Marker", self.add_marker, "marker")
        # Return in the note adds the marker (M types into the note)
        self.marker_note.returnPressed.connect(
            lambda: self.marker_button.isEnabled() and self.add_marker()
        )
        mk.addWidget(self.marker_note)
        mk.addWidget(self.marker_button)
        g.addRow("Marker", mk)
        self.lsl_box = QtWidgets.QCheckBox("stream frames and events over LSL")
        self.lsl_box.setToolTip(
            "Lab Streaming Layer on the local network (streams nfb-frames and nfb-markers) "
            "while a session runs; off by default"
        )
        g.addRow("Network", self.lsl_box)
        form.addWidget(ses)

        fbk = QtWidgets.QGroupBox("Client feedback")
        g = QtWidgets.QFormLayout(fbk)
        self.mode_box = QtWidgets.QComboBox()
        self.mode_box.addItems(["bar", "circle", "image", "pacer", "video"])
        self.mode_box.currentTextChanged.connect(self._mode_changed)
        self.mode_box.setToolTip(
            "What the client sees while training: a bar, a growing circle, an image that "
            "sharpens, the breathing pacer, or a video of your choice (Video…)"
        )
        video = QtWidgets.QHBoxLayout()
        self.video_button = QtWidgets.QPushButton("Video…")
        self.video_button.setToolTip(
            "Choose a video file for the client: it plays in a loop, dim while the feedback "
            "is low and bright while it is high"
        )
        self.video_button.clicked.connect(self._choose_video)
        self.video_follow_box = QtWidgets.QComboBox()
        self.video_follow_box.addItems(VIDEO_FOLLOW_CHOICES)
        self.video_follow_box.setToolTip("What of the video follows the feedback level")
        self.video_follow_box.currentTextChanged.connect(self._video_follow_changed)
        video.addWidget(self.video_button)
        video.addWidget(self.video_follow_box, 1)
        if self.client_window is not None:
            self.client_window.video_failed.connect(self._video_failed)
        self.pacer_rests = QtWidgets.QCheckBox("breathing pacer during rests")
        self.pacer_rests.setChecked(True)
        self.pacer_rests.setToolTip("Show the breathing pacer to the client during rests")
        self.bpm_box = QtWidgets.QDoubleSpinBox()
        self.bpm_box.setRange(2, 30)
        self.bpm_box.setValue(6)
        self.bpm_box.setSuffix(" breaths/min")
        self.bpm_box.valueChanged.connect(self._bpm_changed)
        self.bpm_box.setToolTip("The pacer's breathing rate (6 a minute is slow, calm breathing)")
        show = QtWidgets.QHBoxLayout()
        self.show_client = QtWidgets.QPushButton("Show window")
        self.show_client.clicked.connect(self._show_client)
        self.show_client.setToolTip("Open the client's feedback window")
        self.fullscreen_button = QtWidgets.QPushButton("Full screen")
        self.fullscreen_button.clicked.connect(self._fullscreen_client)
        self.fullscreen_button.setToolTip("Show the client's window full screen, or back (F11)")
        show.addWidget(self.show_client)
        show.addWidget(self.fullscreen_button)
        self.screen_box = QtWidgets.QComboBox()
        self.screen_box.setToolTip(
            "The screen the client's window opens on. On the console's own screen it opens "
            "as a smaller window beside the console; its size and place are remembered"
        )
        self._fill_screens()
        self.screen_box.currentIndexChanged.connect(self._client_screen_changed)
        app = QtGui.QGuiApplication.instance()
        app.screenAdded.connect(self._fill_screens)
        app.screenRemoved.connect(self._fill_screens)
        self.mute_box = QtWidgets.QCheckBox("mute")
        self.mute_box.toggled.connect(self._mute_changed)
        self.mute_box.setToolTip("Silence the feedback tone (the session goes on)")
        self.volume_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(60)
        self.volume_slider.valueChanged.connect(self._volume_changed)
        self.volume_slider.setToolTip("The feedback tone's volume")
        sound = QtWidgets.QHBoxLayout()
        sound.addWidget(self.mute_box)
        sound.addWidget(self.volume_slider)
        g.addRow("Display", self.mode_box)
        g.addRow("Video", video)
        g.addRow(self.pacer_rests)
        g.addRow("Pacer", self.bpm_box)
        g.addRow("Screen", self.screen_box)
        g.addRow(show)
        g.addRow("Sound", sound)
        form.addWidget(fbk)
        form.addStretch(1)

        self.panel = QtWidgets.QTabWidget()
        self.panel.setToolTip("")
        for page, title, tip in (
            (connect_page, "1 · Connect && check", "Connect the board and check the electrodes"),
            (session_page, "2 · Session", "Client, protocol, the session's controls, feedback"),
        ):
            scroll = QtWidgets.QScrollArea()
            scroll.setWidget(page)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
            # never sideways: the panel is as wide as its widest page needs
            scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.panel.setTabToolTip(self.panel.addTab(scroll, title), tip)
        sb = self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)
        self.panel.setMinimumWidth(
            max(connect_page.minimumSizeHint().width(), session_page.minimumSizeHint().width())
            + sb
            + 8
        )

        # live views
        right = QtWidgets.QWidget()
        rv = QtWidgets.QVBoxLayout(right)
        self.step_label = QtWidgets.QLabel("no session")
        font = self.step_label.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.step_label.setFont(font)
        rv.addWidget(self.step_label)
        self.report_button = QtWidgets.QPushButton("Open report")
        self.report_button.setToolTip(
            "Write the report of the session that just ended and open it in the browser"
        )
        self.report_button.clicked.connect(self.open_report)
        self.report_button.hide()  # shown once a session has ended
        rv.addWidget(self.report_button, 0, QtCore.Qt.AlignmentFlag.AlignLeft)
        # the session's warnings (no usable baseline, a fallback): they stay until dismissed
        self.warning_bar, self.warning_text, self.warning_dismiss = _message_bar(
            ("#fff3cd", "#e0a800", "#533f03"),
            "Hide this warning (it stays in the session's events)",
            self.dismiss_warnings,
        )
        self._warnings_seen = 0
        rv.addWidget(self.warning_bar)
        # an error stays until it is dismissed (a status-bar message left after 15 s, often
        # before the practitioner looked)
        self.error_bar, self.error_text, self.error_dismiss = _message_bar(
            ("#f8d7da", "#c82333", "#721c24"),
            "Hide this message (it is also in the log)",
            self.dismiss_error,
        )
        self.error_text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        rv.addWidget(self.error_bar)
        self.plots = LivePlots()
        self.plots.window_changed.connect(self._window_changed)
        self.plots.spectrum_channel_changed.connect(self._spectrum_channel_changed)
        self.plots.error.connect(self.error)  # an inhibit limit the session refused
        # the plots' own choices, remembered with the console's settings
        self.scale_box = self.plots.scale_box
        self.window_box = self.plots.window_box
        self.spectrum_box = self.plots.spectrum_box
        self.spectrum, self.feature = self.plots.spectrum, self.plots.feature
        self.blocks_view = self.plots.blocks
        rv.addWidget(self.plots, 1)

        split = QtWidgets.QSplitter()
        split.addWidget(self.panel)
        split.addWidget(right)
        split.setCollapsible(0, False)
        split.setSizes([self.panel.minimumWidth(), 1200])
        self.setCentralWidget(split)
        self.status_state = QtWidgets.QLabel("not connected")
        self.status_dropped = QtWidgets.QLabel("")
        self.status_latency = QtWidgets.QLabel("")
        # wide enough for any reading: a label sized to "7 ms" showed "13 m" when it grew
        metrics = self.status_latency.fontMetrics()
        self.status_latency.setMinimumWidth(metrics.horizontalAdvance("latency 9999 ms") + 4)
        self.status_audio = QtWidgets.QLabel("")
        # the heart rate from a headband's PPG stream (Muse 2 / S), estimated by the stream
        self.status_heart = QtWidgets.QLabel("")
        self.status_heart.setToolTip(
            "Heart rate from the headband's PPG, updated every second ('no signal' while the "
            "pulse is unreliable: movement, a loose band)"
        )
        for w in (self.status_state, self.status_dropped, self.status_latency, self.status_audio):
            self.statusBar().addPermanentWidget(w)
        self.statusBar().addPermanentWidget(self.status_heart)
        self.rating_after.valueChanged.connect(self._after_rating_changed)
        self._build_menus()
        self._device_changed(self.device_box.currentText())
        self._protocol_changed(self.protocol_box.currentText())

    def _button(self, text: str, slot, action: str) -> QtWidgets.QPushButton:
        """A session button, its menu action and its shortcut, enabled together."""
        key = SHORTCUTS[action]
        button = QtWidgets.QPushButton(f"{text}  ({key})")
        button.setToolTip(f"{_ACTION_TIPS[action]} ({key})")
        button.clicked.connect(slot)
        # the Session menu's entry; it owns the shortcut (one owner: no ambiguous shortcut)
        menu_action = QtGui.QAction(text, self)
        menu_action.setToolTip(_ACTION_TIPS[action])
        menu_action.triggered.connect(lambda: button.isEnabled() and slot())
        if action in _SINGLE_KEYS:
            # routed by SessionKeys; the menu only shows the key
            menu_action.setText(f"{text}\t{key}")
            self._single_keys[_SINGLE_KEYS[action]] = lambda: button.isEnabled() and slot()
        else:
            menu_action.setShortcut(QtGui.QKeySequence(key))
            # from the client's window too
            menu_action.setShortcutContext(QtCore.Qt.ShortcutContext.ApplicationShortcut)
            self.addAction(menu_action)  # the shortcut works with the menu bar hidden too
        self._session_actions.append((menu_action, button))
        return button

    # --- settings --------------------------------------------------------------------------
    def _restore(self) -> None:
        s = self.settings
        self._restore_video(s)  # before the display mode, which may be "video"
        geometry = s.value("console/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(first_size(self.screen().availableGeometry()))
        # a first start shows the board every computer has (not the alphabet's first)
        if s.value("last/device") is None and "synthetic" in self.profiles:
            self.device_box.setCurrentText("synthetic")
        for key, box in (
            ("device", self.device_box),
            ("protocol", self.protocol_box),
            ("mode", self.mode_box),
            ("scale", self.scale_box),
        ):
            value = s.value(f"last/{key}")
            if value and box.findText(value) >= 0:
                box.setCurrentText(value)
        s.remove("last/client")  # older versions kept the name here, outside the store
        name = self._client_name(s.value("last/client_id"))
        if name:
            self.client_box.setCurrentText(name)
        for key, edit in (
            ("serial_port", self.serial_edit),
            ("mac", self.mac_edit),
            ("file", self.file_edit),
        ):
            value = s.value(f"last/{key}")
            if value:
                edit.setText(value)
        self.lsl_box.setChecked(s.value("last/lsl", False, type=bool))
        mains = s.value("last/mains_hz")
        if mains is not None and str(mains) in ("50", "60"):
            self.set_mains_hz(int(mains))
        else:  # never chosen: what the profile says
            profile = self.profiles.get(self.device_box.currentText())
            self.set_mains_hz(int(profile.mains_hz) if profile else 50)
        volume = s.value("last/volume")
        if volume is not None:
            self.volume_slider.setValue(int(volume))
        self._volume_changed(self.volume_slider.value())
        if self.client_window is not None:  # the screen, size and place it had last time
            screen = self.client_window.recall(s, self._screens(), self.frameGeometry())
            self._select_screen(screen.name())

    def _restore_video(self, s: QtCore.QSettings) -> None:
        follow = s.value("last/video_follow")
        if follow in VIDEO_FOLLOW_CHOICES:
            self.video_follow_box.setCurrentText(follow)
        path = s.value("last/video")
        if path and self.client_window is not None:
            try:
                self.client_window.set_video(path)
            except NfbError as err:  # moved or deleted since: the display falls back
                logger.info("the last video is gone: %s", err)
                s.remove("last/video")

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("console/geometry", self.saveGeometry())
        s.setValue("last/device", self.device_box.currentText())
        s.setValue("last/protocol", self.protocol_box.currentText())
        # the settings file lives outside the private store: it keeps the id, never the name
        cid = self._client_id(self.client_box.currentText())
        if cid:
            s.setValue("last/client_id", cid)
        else:
            s.remove("last/client_id")
        s.setValue("last/mode", self.mode_box.currentText())
        s.setValue("last/video_follow", self.video_follow_box.currentText())
        s.setValue("last/scale", self.scale_box.currentText())
        s.setValue("last/serial_port", self.serial_edit.text())
        s.setValue("last/mac", self.mac_edit.text())
        s.setValue("last/file", self.file_edit.text())
        s.setValue("last/volume", self.volume_slider.value())
        s.setValue("last/lsl", self.lsl_box.isChecked())
        s.setValue("last/mains_hz", self.mains_hz())
        if self.client_window is not None:
            self.client_window.remember(s)
        s.sync()

    # --- helpers ---------------------------------------------------------------------------
    def _in_thread(self, fn, callback) -> None:
        """Run ``fn`` in a worker thread; ``callback(result, error)`` in the GUI thread."""
        self._busy += 1
        self._update_buttons()

        def work():
            try:
                result, error = fn(), None
            except Exception as err:
                result, error = None, err
            self._bridge.done.emit(callback, result, error)

        thread = threading.Thread(target=work, name="nfb-gui-worker", daemon=True)
        self._workers = [t for t in self._workers if t.is_alive()] + [thread]
        thread.start()

    def _on_done(self, callback, result, error) -> None:
        self._busy -= 1
        if self._closing:  # shutdown() has released what the worker opened
            return
        callback(result, error)
        self._update_buttons()

    def error(self, err: BaseException | str) -> None:
        """Show a user-facing error until it is dismissed (and log it), never a traceback.

        The message is worded for the console (:func:`~nfb.gui.messages.plain_error`: the
        fields' labels, not the command line's options); the engine's own text is logged.
        """
        if isinstance(err, NfbError | str):
            logger.info("console error: %s", err)
            text = plain_error(str(err))
        else:
            logger.error("unexpected error in the console", exc_info=err)
            text = f"Something went wrong: {err}. The details are in the log."
        self.error_text.setText(text)
        self.error_bar.show()
        self.statusBar().showMessage(text, 15000)

    def dismiss_error(self) -> None:
        """Hide the error bar."""
        self.error_bar.hide()
        self.error_text.setText("")

    # --- menus -----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.menu_file = bar.addMenu("&File")
        self.menu_session = bar.addMenu("&Session")
        self.menu_view = bar.addMenu("&View")
        self.menu_help = bar.addMenu("&Help")

        def action(menu, text, slot, tip, key=None) -> QtGui.QAction:
            a = menu.addAction(text)
            a.triggered.connect(slot)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if key:
                a.setShortcut(QtGui.QKeySequence(key))
            return a

        self.action_report = action(
            self.menu_file,
            "Open &report of the last session",
            self.open_report,
            "Write the report of the session that just ended and open it",
        )
        action(
            self.menu_file,
            "Open the session &store folder",
            self.open_store,
            f"Open the folder where sessions are recorded ({self.sessions_dir})",
        )
        self.action_edit_protocol = action(
            self.menu_file,
            "&Edit protocol…",
            self.edit_protocol,
            "Edit the chosen protocol (a built-in one as a copy) and save it as your own",
        )
        self.menu_file.addSeparator()
        quit_action = action(
            self.menu_file,
            "&Quit",
            self.close,
            "Close nfb (it asks first during a session)",
            "Ctrl+Q",
        )
        quit_action.setMenuRole(QtGui.QAction.MenuRole.QuitRole)

        self.action_connect = action(
            self.menu_session,
            "Connect",
            self.toggle_connection,
            "Connect the chosen board, or disconnect it",
        )
        self.action_check = action(
            self.menu_session,
            "Check signal",
            self.check_signal,
            "Rate the last 5 s of each channel",
        )
        self.action_impedance = action(
            self.menu_session,
            "Electrode impedance",
            self.check_impedance,
            "Measure each electrode's contact in kΩ (Cyton, Ganglion)",
        )
        self.menu_session.addSeparator()
        for menu_action, _button in self._session_actions:
            self.menu_session.addAction(menu_action)

        for i, key in ((0, "Ctrl+1"), (1, "Ctrl+2")):
            action(
                self.menu_view,
                self.panel.tabText(i).replace("&&", "&"),
                lambda _=False, i=i: self.panel.setCurrentIndex(i),
                f"Show the {self.panel.tabText(i).replace('&&', 'and')} tab",
                key,
            ).setText(self.panel.tabText(i))
        self.menu_view.addSeparator()
        action(
            self.menu_view,
            "Show the client's window",
            self._show_client,
            "Open the client's feedback window",
        )
        action(
            self.menu_view,
            "Client window full screen",
            self._fullscreen_client,
            "Show the client's window full screen, or back",
            "F11",
        )

        action(
            self.menu_help,
            "&How a session runs",
            self.show_how_to,
            "The steps of a session, from connecting to the report",
        )
        action(
            self.menu_help,
            "&Keyboard shortcuts",
            self.show_shortcuts,
            "The keys that work during a session",
            "F1",
        )
        self.menu_help.addSeparator()
        about = action(
            self.menu_help, "&About nfb", self.show_about, "Version, licence, intended use"
        )
        about.setMenuRole(QtGui.QAction.MenuRole.AboutRole)

    def _info(self, title: str, html_text: str) -> QtWidgets.QMessageBox:
        """A non-blocking information box (the session runs and draws while it is open)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, title, "", parent=self)
        box.setTextFormat(QtCore.Qt.TextFormat.RichText)
        box.setText(html_text)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        box.show()
        self.help_box = box
        return box

    def show_how_to(self) -> QtWidgets.QMessageBox:
        """Help ▸ How a session runs."""
        return self._info("How a session runs", HOW_A_SESSION_RUNS)

    def show_shortcuts(self) -> QtWidgets.QMessageBox:
        """Help ▸ Keyboard shortcuts: every session key, from the table the buttons use."""
        rows = "".join(
            f"<tr><td><b>{html.escape(SHORTCUTS[a])}</b></td><td>{html.escape(_ACTION_TIPS[a])}</td></tr>"
            for a in SHORTCUTS
        )
        rows += (
            "<tr><td><b>Ctrl+1 / Ctrl+2</b></td><td>The Connect and Session tabs</td></tr>"
            "<tr><td><b>F11</b></td><td>The client's window full screen, or back</td></tr>"
            "<tr><td><b>Ctrl+Q</b></td><td>Quit</td></tr>"
        )
        note = (
            "<p>Space and M work wherever the focus is, except while typing in a text field "
            "(the marker note): there M types, and Return adds the marker.</p>"
        )
        return self._info("Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>{note}")

    def show_about(self) -> QtWidgets.QMessageBox:
        """Help ▸ About nfb."""
        return self._info(
            "About nfb",
            f"<h3>nfb {html.escape(__version__)}</h3><p>An open neurofeedback workstation.</p>"
            "<p><b>nfb supports supervised use by a practitioner. "
            "It is not a medical device.</b></p>",
        )

    def open_store(self) -> None:
        """File ▸ Open the session store folder, in the desktop's file manager."""
        if not self.open_url(QtCore.QUrl.fromLocalFile(str(self.sessions_dir))):
            self.error(f"no file manager opened the session store; it is {self.sessions_dir}")

    def _client_id(self, name: str) -> str | None:
        """The id of a client the store already knows, else None (nothing is created)."""
        try:
            return ClientIndex(self.sessions_dir).find(name) if name else None
        except NfbError:
            return None

    def _client_name(self, client_id) -> str | None:
        """What the client box shows for a remembered id: its name, or a legacy folder's."""
        if not isinstance(client_id, str) or not client_id:
            return None
        try:
            name = ClientIndex(self.sessions_dir).name(client_id)
        except NfbError:
            return None
        if name is None and (self.sessions_dir / client_id).is_dir():
            name = client_id  # a client folder from before the index
        return name

    def _load_clients(self) -> None:
        current = self.client_box.currentText()
        self.client_box.clear()
        self.client_box.addItems(client_names(self.sessions_dir))
        if current:
            self.client_box.setCurrentText(current)

    def _device_changed(self, name: str) -> None:
        profile = self.profiles.get(name)
        if profile is None:
            return
        origin = profile.origin
        self.device_origin.setText(
            f"{origin} profile" + (f": {profile.path}" if origin.startswith("user") else "")
        )
        conn = profile.connection
        self.serial_edit.setEnabled("serial_port" in conn)
        self.mac_edit.setEnabled("mac_address" in conn)
        self.file_edit.setEnabled("file" in conn)
        self.lsl_edit.setEnabled("stream_name" in conn)
        self.lsl_finder.setEnabled("stream_name" in conn)
        self.ip_edit.setEnabled("ip_address" in conn)
        if "ip_address" in conn:
            self.ip_edit.setText(str(conn.get("ip_address") or ""))
        if "serial_port" in conn and not self.serial_edit.text():
            self.serial_edit.setText(str(conn.get("serial_port") or ""))

    def _browse_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "EEG file", "", "EEG files (*.edf *.bdf *.fif *.vhdr *.csv);;All files (*)"
        )
        if path:
            self.file_edit.setText(path)

    def _fill_protocols(self) -> None:
        """List the protocols (built-in and the user's), each with its origin as tooltip."""
        self.protocol_box.clear()
        for path in list_protocols():
            self.protocol_box.addItem(path.stem)
            self.protocol_box.setItemData(
                self.protocol_box.count() - 1,
                f"{protocol_origin(path)}: {path}",
                QtCore.Qt.ItemDataRole.ToolTipRole,
            )

    def edit_protocol(self) -> None:
        """Open the protocol editor on the chosen protocol (non-modal: the console runs on)."""
        from .protocol_editor import ProtocolEditor

        if self.protocol_editor is not None and self.protocol_editor.isVisible():
            self.protocol_editor.raise_()
            self.protocol_editor.activateWindow()
            return
        try:
            editor = ProtocolEditor(self.protocol_box.currentText(), parent=self)
        except NfbError as err:
            self.error(err)
            return
        if self.protocol_editor is not None:
            self.protocol_editor.deleteLater()
        editor.saved.connect(self.protocol_saved)
        self.protocol_editor = editor
        editor.show()

    def protocol_saved(self, name: str) -> None:
        """List the protocols again and choose ``name`` (unless a session runs: its own stays)."""
        current = self.protocol_box.currentText()
        self.protocol_box.blockSignals(True)
        self._fill_protocols()
        self.protocol_box.blockSignals(False)
        chosen = current if self.session is not None else name
        self.protocol_box.setCurrentText(chosen)
        self._protocol_changed(chosen)  # shown again even if the name is the same
        for i in range(self.panel.count()):  # show where it is chosen, beside Start
            if self.panel.widget(i).isAncestorOf(self.protocol_box):
                self.panel.setCurrentIndex(i)
        self.statusBar().showMessage(f"protocol {name} saved", 8000)

    def _protocol_changed(self, name: str) -> None:
        try:
            proto = load_protocol(name)
        except NfbError as err:
            self.protocol_text.setText(str(err))
            return
        p = {k: v for k, v in proto.data.items()}
        p["name"], p["description"] = html.escape(p["name"]), html.escape(p["description"])
        script = p["script"]
        self.protocol_text.setText(
            f"<b>{p['name']}</b><br>{p['description']}<br><i>"
            f"{html.escape(p['feedback']['feature'])} "
            f"{p['feedback']['direction']}, {script['blocks']} × {script['block_min']} min, "
            f"baselines {script['baseline_eyes_open']} + {script['baseline_eyes_closed']} min; "
            f"feedback {p['feedback']['mode']}</i><br>"
            f"{html.escape(protocol_origin(proto.source))} protocol"
        )
        self.plots.set_target(p["reward"]["target_rate"])
        self.plots.set_n_blocks(script["blocks"])
        if self.session is None:
            self._threshold_rule_of(proto)
        if self.last_check is not None:  # the verdict is on this protocol's electrodes
            self._show_check(self.last_check, None)

    def _threshold_rule_of(self, proto) -> None:
        """Threshold controls as the protocol's own rule has them (auto, or a fixed value).

        Called when a protocol is chosen and after each session, so that a manual threshold
        never carries over into the next session, protocol or client.
        """
        self.auto_box.blockSignals(True)
        self.auto_box.setChecked(proto.data["reward"]["threshold"] == "auto")
        self.auto_box.blockSignals(False)
        self.threshold_slider.setEnabled(not self.auto_box.isChecked())

    # --- device ----------------------------------------------------------------------------
    def toggle_connection(self) -> None:
        if self.stream is None:
            self.connect_device()
        else:
            self.disconnect_device()

    def connect_device(self) -> None:
        """Open the chosen profile in a worker thread (a board may take seconds)."""

        def field(edit: QtWidgets.QLineEdit) -> str | None:
            return (edit.text() or None) if edit.isEnabled() else None

        try:
            profile = load_profile(
                self.device_box.currentText(),
                serial_port=field(self.serial_edit),
                mac=field(self.mac_edit),
                file=field(self.file_edit),
                lsl_stream=field(self.lsl_edit),
                ip_address=field(self.ip_edit),
                mains_hz=self.mains_hz(),
            )
        except NfbError as err:
            self.error(err)
            return
        self.device_state.setText("connecting…")

        def open_stream() -> DeviceStream:
            # built here, not in the GUI thread: finding an LSL stream or reading a file's
            # header takes up to seconds
            stream = DeviceStream(profile)
            self._pending_stream = stream  # released by shutdown() if the window closes
            stream.connect()
            return stream

        def done(stream, err):
            self._pending_stream = None
            if err is not None:
                self.device_state.setText("not connected")
                self.error(err)
                return
            self._attach_stream(stream)

        warnings = connection_warnings(profile.connection)  # the FTDI latency timer
        self.device_warning.setText("\n".join(warnings))
        self.device_warning.setVisible(bool(warnings))
        for warning in warnings:
            logger.warning("%s", warning)
        self._in_thread(open_stream, done)

    def mains_hz(self) -> int:
        """The mains frequency chosen in the console (50 or 60)."""
        return 60 if self.mains_box.currentText().startswith("60") else 50

    def set_mains_hz(self, hz: int) -> None:
        """Choose the mains frequency (50 or 60 Hz)."""
        self.mains_box.setCurrentText(f"{int(hz)} Hz")

    # --- finding the board -------------------------------------------------------------------
    def scan_devices(self, ble_timeout: float = 5.0) -> None:
        """List serial ports and BLE headsets in a worker thread; fill :attr:`scan_box`."""
        self.scan_button.setEnabled(False)
        self.scan_box.clear()
        self.scan_box.setPlaceholderText("scanning…")

        def work():
            notes = []
            found: list[tuple[str, str, str]] = []  # label, field, value
            try:
                for port in list_serial_ports():
                    usb = f" [USB {port.usb_id}]" if port.usb_id else ""
                    label = f"{port.device}: {port.kind or port.description}{usb}"
                    found.append((label, "serial_port", port.device))
            except NfbError as err:
                notes.append(str(err))
            try:
                for h in scan_ble(ble_timeout):
                    found.append((f"{h.name} ({h.address})", "mac_address", h.address))
            except NfbError as err:
                notes.append(str(err))
            return found, notes

        self._in_thread(work, self._show_scan)

    def _show_scan(self, result, err) -> None:
        self.scan_button.setEnabled(True)
        if err is not None:
            self.scan_box.setPlaceholderText("scan failed")
            self.error(err)
            return
        found, notes = result
        self.scan_box.clear()
        for label, key, value in found:
            self.scan_box.addItem(label, (key, value))
        self.scan_box.setPlaceholderText("nothing found" if not found else "choose one")
        self.scan_box.setCurrentIndex(-1)
        if notes:
            self.statusBar().showMessage("; ".join(notes), 15000)

    def _scan_chosen(self, index: int) -> None:
        data = self.scan_box.itemData(index)
        if not data:
            return
        key, value = data
        edit = self.serial_edit if key == "serial_port" else self.mac_edit
        if not edit.isEnabled():
            self.error(
                f"the profile {self.device_box.currentText()!r} does not connect by "
                f"{'serial port' if key == 'serial_port' else 'MAC address'}"
            )
            return
        edit.setText(value)

    def _attach_stream(self, stream: DeviceStream) -> None:
        from ..monitor import SignalMonitor

        self.stream = stream
        self.monitor = SignalMonitor(stream, window_s=self.window_box.value())
        self.monitor.start()
        self.plots.attach(stream.layout.ch_names)
        self.connect_button.setText("Disconnect")
        self.save_settings()
        self.connected.emit()

    def disconnect_device(self) -> None:
        if self.session is not None:
            self.error("stop the session before disconnecting")
            return
        stream, monitor = self.stream, self.monitor
        self.stream = self.monitor = None
        self.plots.detach()
        self.connect_button.setText("Connect")

        def work():
            if monitor is not None:
                monitor.stop()
            stream.disconnect()

        self._in_thread(work, lambda _, err: err and self.error(err))

    def check_signal(self) -> None:
        if self.stream is None:
            self.error("connect a device first")
            return
        stream = self.stream
        self._in_thread(lambda: stream.check(5.0), self._show_check)

    def find_lsl_streams(self) -> None:
        """List the LSL streams on the network (liblsl listens a second, off the GUI thread)."""
        from ..lsl_source import list_streams  # pylsl only when asked

        def show(streams, err) -> None:
            if err is not None:
                self.lsl_finder.search_failed()
                self.error(err)
                return
            self.lsl_finder.show_streams(streams)

        self._in_thread(lambda: list_streams(1.0), show)

    def check_impedance(self) -> None:
        """Measure the electrodes' impedance in a worker thread (Cyton and Ganglion boards)."""
        from .. import impedance  # the measuring procedure; the console only shows it

        if self.stream is None:
            self.error("connect a device first")
            return
        if self.session is not None:
            self.error("the impedance check drives the electrodes: stop the session first")
            return
        stream = self.stream
        self.statusBar().showMessage("measuring electrode impedance…")
        self._in_thread(lambda: impedance.measure(stream), self._show_impedance)

    def _show_impedance(self, result, err) -> None:
        if err is not None:
            self.error(err)
            return
        self.last_impedance = result
        table = self.impedance_table
        table.setRowCount(len(result))
        for row, r in enumerate(result):
            for col, text in enumerate((r.name, f"{r.kohm:.1f}", r.verdict)):
                item = QtWidgets.QTableWidgetItem(text)
                item.setBackground(verdict_colour(r.verdict))
                table.setItem(row, col, item)
        table.resizeColumnsToContents()
        table.setVisible(True)
        names = self.stream.layout.ch_names if self.stream is not None else None
        self.impedance_map.set_impedance(result, names)
        self.impedance_map.setVisible(True)
        bad = [r.name for r in result if r.verdict != "good"]
        self.statusBar().showMessage(
            "impedance: all electrodes good" if not bad else f"impedance: check {', '.join(bad)}"
        )

    def _show_check(self, result, err) -> None:
        if err is not None:
            self.error(err)
            return
        self.last_check = result
        trained = self._trained_channels()
        table = self.check_table
        table.setRowCount(len(result.channels))
        bold = table.font()
        bold.setBold(True)
        for row, ch in enumerate(result.channels):
            flags = ", ".join(f for f, on in (("flat", ch.flat), ("railed", ch.railed)) if on)
            cells = [
                f"▶ {ch.name}" if ch.name in trained else ch.name,
                f"{ch.rms_uv:.1f}",
                f"{ch.line_noise_uv:.1f}",
                flags or "—",
                ch.verdict,
            ]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setBackground(verdict_colour(ch.verdict))
                if ch.name in trained:
                    item.setFont(bold)
                    item.setToolTip("trained by the chosen protocol")
                table.setItem(row, col, item)
        table.resizeColumnsToContents()
        table.resizeRowsToContents()
        # every row in view: the panel scrolls, the table does not hide channels
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        if table.horizontalScrollBar().isVisible():
            height += table.horizontalScrollBar().height()
        table.setMinimumHeight(max(140, height))
        self.check_verdict.setText(result.summary_for(trained))

    def _trained_channels(self) -> list[str]:
        """The connected board's electrodes the chosen protocol trains ([] if unknown)."""
        if self.stream is None:
            return []
        try:
            protocol = load_protocol(self.protocol_box.currentText())
            return trained_channels(protocol, self.stream.layout)
        except (NfbError, ValueError, KeyError):
            return []  # a protocol that does not fit: the session start will say why

    # --- session ---------------------------------------------------------------------------
    def start_session(self) -> None:
        if self.stream is None:
            self.error("connect a device first")
            return
        if self.session is not None:
            return
        name = self.client_box.currentText().strip()
        try:
            # the name stays in the store's index; the session is filed under the id
            client = resolve_client(name, self.sessions_dir)
            protocol = load_protocol(self.protocol_box.currentText())
            ratings = {"anxiety_before": self._rating(self.rating_before), "anxiety_after": None}
            lsl = None
            if self.lsl_box.isChecked():
                from ..lsl import LslOutlet  # imported only when asked (pylsl with it)

                lsl = LslOutlet()
            session = LiveSession(
                self.stream,
                protocol,
                client,
                sessions_dir=self.sessions_dir,
                meta={"ratings": ratings},
                # the plots draw the session's markers
                observers=[*([lsl] if lsl is not None else []), self.plots.new_session()],
                reuse_threshold=self.reuse_box.reuse_threshold(),
            )
        except NfbError as err:
            self.error(err)
            return
        self._pending_session = session
        self.panel.setCurrentIndex(1)  # the session's controls, whichever tab F5 came from

        def done(path, err):
            self._pending_session = None
            if err is not None:
                self.error(err)
                return
            self._ratings = dict(ratings)
            self._set_box(self.rating_after, -1)
            mode = protocol.data["feedback"]["mode"]
            self.state.audio = "audio" in mode
            self.state.visual = "visual" in mode
            runner = session.runner
            self.plots.set_bands(
                {r.band: runner.bands[r.band] for r in runner.pipeline.refs},
                {
                    i["band"]: runner.bands[i["band"]]
                    for i in protocol.data["inhibit"]
                    if i.get("band") in runner.bands
                },
            )
            # show the spectrum of the electrode being trained
            self.plots.set_spectrum_channel(runner.pipeline.derivations[0].terms[0][0])
            self.plots.set_trained(ch for d in runner.pipeline.derivations for ch, _ in d.terms)
            self.plots.set_session(session)  # the per-band view and its inhibit limits
            # the threshold controls say what the engine does, and the engine what they say
            # the controls start from the protocol's rule (set when it was chosen and after
            # the last session); "manual" chosen since then is this session's own choice
            fixed = protocol.data["reward"]["threshold"] != "auto"
            self.auto_box.blockSignals(True)
            if fixed:
                self.auto_box.setChecked(False)
            self.auto_box.blockSignals(False)
            self.threshold_slider.setEnabled(not self.auto_box.isChecked())
            if not self.auto_box.isChecked() and not fixed:
                session.command("threshold_mode", mode="manual")
            self._warnings_seen = 0
            self.warning_bar.hide()
            self.report_button.hide()
            self.step_label.setToolTip("")
            self.session = session
            self._client_end_screen = None
            self.last_session_path = path
            self._last_frame_index = -1
            self._n_markers = 0
            self.statusBar().showMessage(f"recording to {path}", 8000)
            if lsl is not None and lsl.error is not None:
                self.error(lsl.error)  # the session records all the same
            self.save_settings()
            self.session_started.emit(path)

        self._in_thread(session.start, done)

    def toggle_pause(self) -> None:
        if self.session is None:
            return
        paused = self.session.snapshot().paused
        self.session.command("resume" if paused else "pause")

    def skip_step(self) -> None:
        if self.session is not None:
            self.session.command("skip")

    def add_marker(self) -> None:
        if self.session is None:
            return
        note = self.marker_note.text().strip()
        self._n_markers += 1
        n = self._n_markers
        self.session.command("marker", label=f"m{n}", note=note)
        self.marker_note.clear()
        self.statusBar().showMessage(f"marker m{n} {note}", 3000)

    def _ask(self, title: str, text: str, yes: str, on_yes) -> None:
        """Ask a yes/no question without blocking the timer; ``on_yes()`` if confirmed."""
        if self.confirm_box is not None:
            self.confirm_box.raise_()
            return
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, title, text, parent=self)
        yes_button = box.addButton(yes, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep running", QtWidgets.QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.buttons()[-1])  # Return keeps the session running
        box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)

        def answered(_result):
            self.confirm_box = None
            if box.clickedButton() is yes_button:
                on_yes()

        box.finished.connect(answered)
        self.confirm_box = box
        box.open()

    def request_stop(self) -> None:
        """Stop button and Ctrl+.: ask first, since a stop cannot be undone."""
        if self.session is None:
            return
        self._ask(
            "Stop the session?",
            "Stop the session now? What has been recorded is kept; the session cannot be resumed.",
            "Stop session",
            self.stop_session,
        )

    def stop_session(self) -> None:
        """Stop the running session now (no question asked; see :meth:`request_stop`)."""
        session = self.session
        if session is None:
            return
        self.session = None
        if self.confirm_box is not None:
            # the session ended by itself while "Stop?" was asked: the question is moot
            box, self.confirm_box = self.confirm_box, None
            box.reject()
        # the client sees the end at once, not the dimmed feedback while the folder closes
        self._client_end_screen = complete_screen(self._blocks_done(session))
        self._ratings["anxiety_after"] = self._rating(self.rating_after)
        session.update_meta(ratings=dict(self._ratings))

        def done(status, err):
            if err is not None:
                self.error(err)
            if session.error is not None:
                self.error(session.error)
            self.state.active = self.state.reward = self.state.inhibited = False
            self.state.level = 0.5
            self.status_latency.setText("")
            self.latency_ms = None
            self._set_box(self.rating_before, -1)  # the next session starts unrated
            self.step_label.setText(f"session {status}: {self._blocks_summary(session)}")
            self.step_label.setToolTip(str(session.path))
            self.statusBar().showMessage(f"session saved in {session.path}", 15000)
            self.report_button.show()
            self._threshold_rule_of(session.runner.protocol)
            self._load_clients()
            self._client_end_screen = complete_screen(self._blocks_done(session))
            self.plots.end_session()
            self.session_stopped.emit(session.path)

        self._in_thread(lambda: session.stop("user"), done)

    @staticmethod
    def _blocks_done(session: LiveSession) -> int:
        """Training blocks the client did (those with a reward rate, as in the summary)."""
        return sum(b.get("reward_rate") is not None for b in session.snapshot().blocks)

    @staticmethod
    def _blocks_summary(session: LiveSession) -> str:
        """One line for the header after a stop: reward per block against the target."""
        blocks = [b for b in session.snapshot().blocks if b.get("reward_rate") is not None]
        target = session.runner.protocol.data["reward"]["target_rate"]
        if not blocks:
            return "no training block was run"
        rates = ", ".join(f"{round(100 * b['reward_rate'])} %" for b in blocks)
        n = len(blocks)
        return f"{n} block{'s' if n > 1 else ''}, reward {rates} (target {round(100 * target)} %)"

    def open_report(self) -> None:
        """Write the last session's report (the per-user reports folder) and open it."""
        if self.last_session_path is not None:
            self.open_session_report(self.last_session_path)

    def _reuse_lookup(self, *_args) -> None:
        """What "reuse the last thresholds" offers for the client and protocol now chosen."""
        self.reuse_box.update_for(self.client_box.currentText(), self.protocol_box.currentText())

    def _refresh_history(self, *_args) -> None:
        """An open history shows the session that just ended."""
        if self.history_dialog is not None and self.history_dialog.isVisible():
            self.history_dialog.load()

    def show_history(self) -> None:
        """The chosen client's past sessions (a dialog; the store is read in a worker)."""
        name = self.client_box.currentText().strip()
        if not name:
            self.error("choose a client first: the history is a client's")
            return
        if self.history_dialog is not None:
            self.history_dialog.close()
        self.history_dialog = HistoryDialog(
            self.sessions_dir, name, self._in_thread, self.open_session_report, self
        )
        self.history_dialog.show()
        self.history_dialog.load()

    def open_session_report(self, path: Path) -> None:
        """Write a session's report (the per-user reports folder) and open it."""
        from ..paths import user_data_dir
        from ..report import build_session_report, write_report

        folder = user_data_dir() / "reports"
        out = folder / f"{path.parent.name}-{path.name}.html"

        def work():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            return write_report(build_session_report(path), out, force=True)

        def done(written, err):
            if err is not None:
                self.error(err)
                return
            self.last_report_path = written
            self.statusBar().showMessage(f"report: {written}", 15000)
            self.open_url(QtCore.QUrl.fromLocalFile(str(written)))

        self._in_thread(work, done)

    def _show_warnings(self, warnings: tuple[str, ...]) -> None:
        """New session warnings: shown in the bar above the plots until dismissed."""
        if len(warnings) <= self._warnings_seen:
            return
        self._warnings_seen = len(warnings)
        self.warning_text.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warning_bar.show()

    def dismiss_warnings(self) -> None:
        """Hide the warning bar (a later warning shows it again)."""
        self.warning_bar.hide()

    def _after_rating_changed(self, _value: int) -> None:
        """The after-session rating, saved whenever it changes (during or after a session)."""
        from ..session.store import update_session_meta

        if self.last_session_path is None:
            return
        self._ratings["anxiety_after"] = self._rating(self.rating_after)
        try:
            if self.session is not None:
                self.session.update_meta(ratings=dict(self._ratings))
            elif self._busy == 0:
                update_session_meta(self.last_session_path, ratings=dict(self._ratings))
        except NfbError as err:
            self.error(err)

    @staticmethod
    def _rating(box: QtWidgets.QSpinBox) -> int | None:
        return None if box.value() < 0 else box.value()

    @staticmethod
    def _set_box(box, value) -> None:
        box.blockSignals(True)
        box.setValue(value)
        box.blockSignals(False)

    def _auto_toggled(self, on: bool) -> None:
        self.threshold_slider.setEnabled(not on)
        if self.session is not None:
            self.session.command("threshold_mode", mode="auto" if on else "manual")

    def _threshold_moved(self, _value: int = 0) -> None:
        if self.session is None or self.auto_box.isChecked():
            return
        lo, hi = self._slider_range(self.session.history.latest(self._view_frames()))
        value = lo + (hi - lo) * self.threshold_slider.value() / 1000.0
        self.session.command("threshold", value=float(value))

    def _view_frames(self) -> int:
        """Frames in the feature plot's window (60 s): also the threshold slider's range."""
        return int(60 * self.session.runner.frame_rate)

    @staticmethod
    def _slider_range(rows: np.ndarray) -> tuple[float, float]:
        """Threshold slider range: the spread of the feature over the given frame rows."""
        values = rows[:, COLUMN["value"]] if len(rows) else np.empty(0)
        values = values[np.isfinite(values)]
        if values.size < 2:
            return 0.0, 1.0
        lo, hi = np.percentile(values, [1, 99])
        pad = 0.25 * (hi - lo or abs(hi) or 1.0)
        return float(lo - pad), float(hi + pad)

    # --- feedback window and sound ---------------------------------------------------------
    def _mode_changed(self, mode: str) -> None:
        if self.client_window is None:
            return
        try:
            self.client_window.set_mode(mode)
        except NfbError as err:  # video without a file: say so, keep what the client sees
            self.error(err)
            self._set_mode_box(self.client_window.mode)

    def _set_mode_box(self, mode: str) -> None:
        self.mode_box.blockSignals(True)
        self.mode_box.setCurrentText(mode)
        self.mode_box.blockSignals(False)

    def _choose_video(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self,
            "Video for the client",
            str(Path(self.settings.value("last/video", "") or "").parent),
            "Videos (*.mp4 *.m4v *.mkv *.webm *.avi *.mov *.mpg *.ogv);;All files (*)",
        )
        if path:
            self.use_video(path)

    def use_video(self, path) -> bool:
        """Show the video at ``path`` to the client (video mode); False, with an error, if not."""
        if self.client_window is None:
            return False
        try:
            self.client_window.set_video(path)
        except NfbError as err:
            self.error(err)
            return False
        self.settings.setValue("last/video", str(path))
        self.mode_box.setCurrentText("video")
        return True

    def _video_failed(self, message: str) -> None:
        """The video could not be played: the client window is back in its previous mode."""
        self.settings.remove("last/video")
        self.error(message)
        self._set_mode_box(self.client_window.mode)

    def _video_follow_changed(self, text: str) -> None:
        if self.client_window is not None:
            self.client_window.set_video_follow(text.split(" + "))

    def _bpm_changed(self, bpm: float) -> None:
        if self.client_window is not None:
            self.client_window.set_pacer_bpm(bpm)

    def _show_client(self) -> None:
        if self.client_window is not None:
            self.client_window.show_as_remembered()
            self.client_window.raise_()

    @staticmethod
    def _screens() -> list[QtGui.QScreen]:
        return list(QtGui.QGuiApplication.screens())

    def _fill_screens(self, *_screen) -> None:
        """List the screens (again: one was plugged in or out), keeping the choice."""
        from .client_window import screen_label

        keep = self.client_window.screen_name if self.client_window is not None else None
        self.screen_box.blockSignals(True)
        self.screen_box.clear()
        for sc in self._screens():
            self.screen_box.addItem(screen_label(sc), sc.name())
        self.screen_box.blockSignals(False)
        if keep is not None:
            self._select_screen(keep)

    def _select_screen(self, name: str) -> None:
        i = self.screen_box.findData(name)
        if i >= 0:
            self.screen_box.blockSignals(True)
            self.screen_box.setCurrentIndex(i)
            self.screen_box.blockSignals(False)

    def _client_screen_changed(self, index: int) -> None:
        """The practitioner chose a screen: the client window moves there."""
        screens = {sc.name(): sc for sc in self._screens()}
        screen = screens.get(self.screen_box.itemData(index))
        if screen is not None and self.client_window is not None:
            self.client_window.open_on(screen, self.frameGeometry())

    def _fullscreen_client(self) -> None:
        if self.client_window is not None:
            self.client_window.show()
            self.client_window.toggle_fullscreen()

    def _mute_changed(self, muted: bool) -> None:
        if self.audio is not None:
            self.audio.set_muted(muted)

    def _volume_changed(self, value: int) -> None:
        if self.audio is not None:
            self.audio.set_volume(value / 100.0)

    def _window_changed(self, seconds: int) -> None:
        if self.monitor is not None:
            self.monitor.window_s = float(seconds)

    def _spectrum_channel_changed(self, index: int) -> None:
        if self.monitor is not None:
            self.monitor.spectrum_channel = index

    # --- the 60 Hz refresh -----------------------------------------------------------------
    @property
    def traces(self):
        """The raw traces view of the connected device (None while none is)."""
        return self.plots.traces

    def refresh(self) -> None:
        """Copy the newest views into the plots; cheap by construction (no DSP, no I/O)."""
        stream = self.stream
        if stream is not None:
            state = stream.state
            self.device_state.setText(state)
            self.status_state.setText(f"{stream.profile.name}: {state}")
            self.status_dropped.setText(f"dropped {stream.n_dropped}")
            heart = stream.heart
            self.status_heart.setText(f"heart {heart.text}" if heart is not None else "")
            self.plots.show_monitor(self.monitor.view if self.monitor is not None else None)
        else:
            self.status_heart.clear()
        session = self.session
        if session is not None:
            self._refresh_session(session)
        self._refresh_client_mode(session)
        if self.client_window is not None and self.client_window.isVisible():
            self.client_window.refresh()  # measures its own dt: a late tick keeps the pace
        if self.audio is not None:
            self.status_audio.setText(
                self.audio.error or ("sound muted" if self.mute_box.isChecked() else "sound on")
            )
        self._update_buttons()

    def _refresh_session(self, session: LiveSession) -> None:
        snap = session.snapshot()
        rows = session.history.latest(self._view_frames())
        self.plots.show_frames(rows, snap)
        if len(rows):
            col = COLUMN
            newest = rows[-1]
            # the age of the newest sample as it is drawn (fetch -> this frame's paint, which
            # follows in the same event-loop pass); it grows while the device stalls
            self.latency_ms = (time.time() - newest[col["wall_time"]]) * 1000.0
            self.status_latency.setText(f"latency {self.latency_ms:.0f} ms")
            if newest[col["sample_index"]] != self._last_frame_index:
                self._last_frame_index = newest[col["sample_index"]]
                self.state.level = float(newest[col["level"]])  # computed by the engine
            if not self.threshold_slider.isSliderDown() and np.isfinite(snap.threshold):
                lo, hi = self._slider_range(rows)  # show where the live threshold sits
                pos = round(1000 * (snap.threshold - lo) / (hi - lo)) if hi > lo else 500
                self._set_box(self.threshold_slider, min(1000, max(0, pos)))
        self.plots.show_blocks(snap.blocks)
        self._show_warnings(snap.warnings)
        st = snap.step
        if st is not None:
            pause = "  — PAUSED" if snap.paused else ""
            rate = (
                f"   reward {100 * snap.block_reward_rate:.0f} %"
                if snap.block_reward_rate is not None
                else ""
            )
            self.step_label.setText(
                f"{st.label}: {snap.step_elapsed_s:4.0f} s elapsed, "
                f"{snap.step_remaining_s:4.0f} s left{rate}{pause}"
            )
        self.pause_button.setText(f"{'Resume' if snap.paused else 'Pause'}  (Space)")
        self.threshold_label.setText(
            f"{snap.threshold:.3g}" if np.isfinite(snap.threshold) else "—"
        )
        in_block = st is not None and st.name == "block"
        self.state.active = in_block and not snap.paused
        self.state.paused = snap.paused
        self.state.reward = snap.reward
        self.state.inhibited = snap.inhibited
        if session.finished and self.session is session:
            self.stop_session()  # the script ended (or the device failed): close the folder

    def _refresh_client_mode(self, session: LiveSession | None) -> None:
        """The client's screen follows the script: instructions, feedback, rest, the end."""
        if self.client_window is None:
            return
        wanted = self.mode_box.currentText()
        if self.client_window.mode != wanted:
            self._mode_changed(wanted)
        if session is None:
            self.client_window.set_screen(self._client_end_screen or IDLE_SCREEN)
            return
        snap = session.snapshot()
        st = snap.step
        script = session.runner.protocol.data["script"]
        self.client_window.set_screen(
            step_screen(
                st.name if st is not None else None,
                elapsed_s=snap.step_elapsed_s,
                visual=self.state.visual,
                tone=self.state.audio and not self.mute_box.isChecked(),
                eyes=script["eyes"],
                pacer=self.pacer_rests.isChecked(),
                next_block=st.block + 1 if st is not None and st.block is not None else None,
                blocks=script["blocks"],
            )
        )

    def _update_buttons(self) -> None:
        connected = self.stream is not None
        running = self.session is not None
        self.connect_button.setEnabled(not self._busy and not running)
        self.device_box.setEnabled(not connected)
        self.check_button.setEnabled(connected and not self._busy)
        measurable = connected and self.stream.profile.board in IMPEDANCE_BOARDS
        self.impedance_button.setEnabled(measurable and not self._busy and not running)
        self.start_button.setEnabled(connected and not running and not self._busy)
        for b in (self.pause_button, self.skip_button, self.stop_button, self.marker_button):
            b.setEnabled(running)
        self.protocol_box.setEnabled(not running)
        self.edit_protocol_button.setEnabled(not running)
        self.action_edit_protocol.setEnabled(not running)
        self.lsl_box.setEnabled(not running)
        self.client_box.setEnabled(not running)
        self.reuse_box.setEnabled(not running and self.reuse_box.found is not None)
        for menu_action, button in self._session_actions:
            menu_action.setEnabled(button.isEnabled())
        self.action_connect.setText("Disconnect" if connected else "Connect")
        self.action_connect.setEnabled(self.connect_button.isEnabled())
        self.action_check.setEnabled(self.check_button.isEnabled())
        self.action_impedance.setEnabled(self.impedance_button.isEnabled())
        self.action_report.setEnabled(self.report_button.isVisible() and not running)

    # --- closing ---------------------------------------------------------------------------
    def shutdown(self, worker_timeout: float = 30.0) -> None:
        """Stop the session and release the board (called on close, and by tests).

        Workers still opening a board or a session are waited for, and what they opened is
        released here: callbacks no longer run once the window is closing.
        """
        self.timer.stop()
        self._closing = True
        if self._pending_stream is not None:
            # a board still connecting: cancel it first, so that its worker returns now
            # instead of after the connection timeout
            self._pending_stream.disconnect()
        for thread in self._workers:
            thread.join(worker_timeout)
        if self._pending_session is not None:
            self.session, self._pending_session = self._pending_session, None
        if self._pending_stream is not None:
            self._pending_stream.disconnect()
            self._pending_stream = None
        if self.session is not None:
            session, self.session = self.session, None
            self._ratings["anxiety_after"] = self._rating(self.rating_after)
            if session.recorder is not None and not session.recorder.closed:
                session.update_meta(ratings=dict(self._ratings))
            session.stop("user")
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        if self.stream is not None:
            self.stream.disconnect()
            self.stream = None

    def notify_crash(self, report, recovered=()) -> None:
        """Point out the previous run's crash report and the sessions recovered at start.

        Parameters
        ----------
        report : path-like | None
            The crash report (:class:`~nfb.crashlog.CrashLog`), if the last run crashed.
        recovered : sequence of Recovery
            The interrupted sessions :func:`~nfb.session.recovery.recover_store` finalised.
        """
        lines = []
        if report is not None:
            lines.append(
                "nfb did not end cleanly last time (a crash, a kill or a power cut). A crash "
                f"report was saved to:\n\n{report}\n\nPlease attach it when you report the problem."
            )
        if recovered:
            lines.append(
                "Sessions left open were recovered; everything on disk up to the interruption "
                "is kept:\n"
                + "\n".join(
                    f"• {r.path} ({r.duration_s:.0f} s, {r.n_frames} frames)" for r in recovered
                )
            )
        else:
            lines.append("No session was left open.")
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Warning,
            "nfb — previous run crashed" if report is not None else "nfb — sessions recovered",
            "\n\n".join(lines),
            parent=self,
        )
        box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setModal(False)
        self.crash_notice = box
        QtCore.QTimer.singleShot(0, box.show)  # once the console itself is on screen
        if report is not None:
            self.statusBar().showMessage(f"crash report of the last run: {report}")
        else:
            self.statusBar().showMessage(f"{len(recovered)} interrupted session(s) recovered")

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.ask_before_closing and self.session is not None and not self._closing:
            event.ignore()

            def close_now():
                self.ask_before_closing = False
                self.close()

            self._ask(
                "Close nfb?",
                "A session is running. Stop it and close the console? What has been "
                "recorded is kept.",
                "Stop and close",
                close_now,
            )
            return
        self.session_keys.remove()
        if not self._closing:
            self.save_settings()
        self.shutdown()
        if self.client_window is not None:
            self.client_window.close()
        super().closeEvent(event)
