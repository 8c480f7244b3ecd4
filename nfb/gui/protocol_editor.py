"""The protocol editor: a copy of a preset, edited field by field, saved as the user's own.

Every field of the protocol schema (:data:`nfb.protocol.SCHEMA`,
:data:`~nfb.protocol.INHIBIT_SCHEMA`, :data:`~nfb.protocol.SHAM_SCHEMA`) gets a control built
from the schema itself, so a field added there appears here. The editor holds no rule of its
own: after each edit it builds the protocol dict and runs :func:`nfb.protocol.validate` on it
(and
:func:`~nfb.protocol.user_protocol_path` on the file name); the first message is shown in a
line that stays until the problem is fixed, the field it names is outlined, its tab marked,
and Save is disabled. Saving goes through :func:`~nfb.protocol.save_user_protocol` (atomic,
0600, never through a link, never over a built-in preset).

Values are typed as a practitioner writes them: ``2.5``, ``auto``, ``1, 40`` (a list),
``off`` (false). An empty field takes the schema's default, shown greyed in it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from PyQt6 import QtCore, QtWidgets

from ..bands import DEFAULT_BANDS, resolve_bands
from ..errors import NfbError
from ..protocol import (
    CHOICES,
    INHIBIT_KINDS,
    INHIBIT_SCHEMA,
    SCHEMA,
    SHAM_SCHEMA,
    Protocol,
    load_protocol,
    protocol_origin,
    save_user_protocol,
    user_protocol_path,
    validate,
)

#: What the practitioner reads beside a field (the schema's key where none is given).
LABELS = {
    "name": "Name",
    "description": "Description",
    "signal.channels": "Sites (channels)",
    "signal.notch_hz": "Notch (Hz)",
    "signal.bandpass_hz": "Band-pass (Hz)",
    "signal.step_ms": "Frame step (ms)",
    "feedback.feature": "Feature",
    "feedback.direction": "Direction",
    "feedback.measure": "Measure",
    "feedback.estimator": "Estimator",
    "feedback.smooth_ms": "Smoothing (ms)",
    "feedback.zscore": "z-score against the baseline",
    "feedback.baseline": "Baseline",
    "feedback.mode": "Feedback mode",
    "reward.threshold": "Threshold",
    "reward.target_rate": "Target reward rate",
    "reward.window_s": "Auto-threshold window (s)",
    "reward.update_s": "Auto-threshold update (s)",
    "reward.hold_ms": "Hold (ms)",
    "script.baseline_eyes_open": "Baseline, eyes open (min)",
    "script.baseline_eyes_closed": "Baseline, eyes closed (min)",
    "script.blocks": "Blocks",
    "script.block_min": "Block length (min)",
    "script.rest_min": "Rest between blocks (min)",
    "script.eyes": "Eyes during training",
    "sham.blocks": "Sham blocks",
    "sham.count": "Random sham blocks",
    "max_uv": "Limit (µV)",
    "min_uv": "Flat below (µV)",
    "band": "Band",
    "max": "Limit",
    "max_z": "Auto limit (sd above baseline)",
    "hold_ms": "Hold (ms)",
    "min_episode_ms": "Minimum episode (ms)",
    "release": "Release (fraction of limit)",
    "window_s": "Window (s)",
    "fraction": "Fraction of ADC range",
    "channel": "Channel(s)",
    "max_accel_g": "Head movement (g off 1 g)",
    "max_gyro_dps": "Head rotation (°/s)",
}
#: The tab each section is edited on.
TABS = (
    ("Protocol", ("", "signal")),
    ("Feedback and reward", ("feedback", "reward")),
    ("Bands", ("bands",)),
    ("Inhibits", ("inhibit",)),
    ("Script", ("script", "sham")),
)
_TITLES = {
    "": "Protocol",
    "signal": "Signal",
    "feedback": "Feedback",
    "reward": "Reward",
    "script": "Session script",
    "sham": "Sham (placebo) blocks",
}
_WARN = " ⚠"
_BAD_STYLE = "border: 2px solid #c62828;"
#: Where a schema message names its field: ``field 'script.block_min'`` (and
#: ``inhibit[2].max_z``), or a leading ``bands.smr`` / ``feedback.feature``, or a bad band name.
_FIELD_RES = (
    re.compile(r"field '([^']+)'"),
    re.compile(r"^((?:bands|feedback)\.\w+)"),
    re.compile(r"^bands: band name '([^']*)'"),
)


# --- text <-> value --------------------------------------------------------------------------
def value_text(value: Any) -> str:
    """How a protocol value is shown in a field: ``2.5``, ``auto``, ``1, 40``, ``off``."""
    if value is False:
        return "off"
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    return str(value)


def _scalar(text: str) -> Any:
    word = text.strip()
    if word.lower() in ("off", "false"):
        return False
    if word.lower() in ("on", "true"):
        return True
    try:
        value = tomllib.loads(f"v = {word}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return word  # a bare word: the schema says whether it is allowed
    return value if isinstance(value, int | float) and not isinstance(value, bool) else word


def text_value(text: str) -> tuple[bool, Any]:
    """A field's text as a protocol value: ``(False, None)`` for an empty field.

    Numbers become numbers (``6`` an int, ``6.0`` a float), ``off`` false, a comma makes a
    list; anything else stays text for the schema to judge.
    """
    if not text.strip():
        return False, None
    if "," in text:
        return True, [_scalar(t) for t in text.split(",") if t.strip()]
    return True, _scalar(text)


@dataclass
class _Field:
    """One control bound to one protocol field.

    ``get`` gives ``(present, value)``; a field whose text was not touched gives back the
    value it was loaded with (a one-element channel list stays a list).
    """

    path: str
    widget: QtWidgets.QWidget
    kind: str
    #: the schema's default is a list: one value typed is a list of one
    listy: bool = False
    original: tuple[str, Any] | None = None

    def text(self) -> str:
        w = self.widget
        if isinstance(w, QtWidgets.QPlainTextEdit):
            return w.toPlainText()
        if isinstance(w, QtWidgets.QComboBox):
            return w.currentText()
        if isinstance(w, QtWidgets.QCheckBox):
            return "on" if w.isChecked() else "off"
        return w.text()

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QtWidgets.QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QtWidgets.QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QtWidgets.QPlainTextEdit):
            w.setPlainText(str(value))
        else:
            w.setText(value_text(value) if self.kind != "str" else str(value))
        self.original = (self.text(), value)

    def get(self) -> tuple[bool, Any]:
        text = self.text()
        if self.original is not None and text == self.original[0]:
            return True, self.original[1]
        w = self.widget
        if isinstance(w, QtWidgets.QCheckBox):
            return True, w.isChecked()
        if self.kind == "str" or isinstance(w, QtWidgets.QComboBox):
            return (bool(text), text)  # a name, a feature: as typed
        present, value = text_value(text)
        if present and self.listy and not isinstance(value, list | bool):  # off stays off
            value = [value]
        return present, value

    def mark(self, bad: bool) -> None:
        self.widget.setStyleSheet(_BAD_STYLE if bad else "")


@dataclass
class _BandRow:
    """One band's row: its name (a label for a default band), edges, what uses it."""

    name: QtWidgets.QWidget
    lo: QtWidgets.QLineEdit
    hi: QtWidgets.QLineEdit
    use: QtWidgets.QLabel
    remove: QtWidgets.QPushButton | None = None


def _label(key: str, path: str) -> str:
    return LABELS.get(path, LABELS.get(key, key))


def _make_field(path: str, key: str, spec: tuple) -> _Field:
    kind, default, _check, allowed = spec
    if path in CHOICES:
        w = QtWidgets.QComboBox()
        w.addItems(CHOICES[path])
    elif kind == "bool":
        w = QtWidgets.QCheckBox()
    elif path == "description":
        w = QtWidgets.QPlainTextEdit()
        w.setFixedHeight(64)
    else:
        w = QtWidgets.QLineEdit()
        if default == []:
            w.setPlaceholderText("none")
        elif default is not None:
            w.setPlaceholderText(value_text(default))
    tip = f"{_label(key, path)}: {allowed}" + (
        f" (default {value_text(default)})" if default is not None else ""
    )
    w.setToolTip(tip)
    w.setObjectName(path)
    return _Field(path, w, kind, listy=isinstance(default, list))


# --- the dialog ------------------------------------------------------------------------------
class ProtocolEditor(QtWidgets.QDialog):
    """Edit a copy of a protocol and save it to the user's protocol folder.

    Parameters
    ----------
    source : str
        The protocol to start from (a preset name, as the console's list has it). A user
        protocol is edited in place unless its file name is changed; a built-in preset is
        duplicated: a new file name is required.
    parent : QWidget | None

    Signals
    -------
    saved(str)
        The file name (stem) of the protocol just saved: ``nfb run --protocol`` takes it.
    """

    saved = QtCore.pyqtSignal(str)

    def __init__(self, source: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        protocol = load_protocol(source)
        self.origin = protocol_origin(protocol.source)
        self.in_place = self.origin.startswith("user")
        self.fields: dict[str, _Field] = {}
        #: per inhibit: its kind, its fields by key, its page
        self.inhibits: list[dict[str, Any]] = []
        self.bands: list[_BandRow] = []
        self._source_bands = set(protocol.data["bands"])
        self.error: str | None = None
        self.bad_field: str | None = None
        self.saved_path = None
        what = "edit" if self.in_place else "copy of the built-in preset"
        self.setWindowTitle(f"Protocol editor — {source} ({what})")
        self._build()
        self._load(protocol.data)
        self.resize(760, 640)
        self.validate()
        if not self.in_place:
            self.file_edit.setFocus()  # a copy needs its name first
        #: what was loaded: closing after an edit asks before the edit is dropped
        self._loaded = (self.file_name(), self.protocol_data())
        #: the open "discard the changes?" question, if any
        self.discard_box: QtWidgets.QMessageBox | None = None

    # --- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        top = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QFormLayout()
        self.file_edit = QtWidgets.QLineEdit()
        self.file_edit.setObjectName("file_name")
        self.file_edit.setPlaceholderText(f"a new name, e.g. {self.source}-mine")
        self.file_edit.setToolTip(
            "The protocol's file name: the console lists it, `nfb run --protocol NAME` takes "
            "it. Lowercase letters, digits and '-'."
        )
        self.file_edit.textChanged.connect(self.validate)
        row.addRow("File name", self.file_edit)
        top.addLayout(row)

        self.tabs = QtWidgets.QTabWidget()
        self._tab_of: dict[str, int] = {}
        for title, sections in TABS:
            page = QtWidgets.QWidget()
            lay = QtWidgets.QVBoxLayout(page)
            for section in sections:
                lay.addWidget(self._section(section))
            lay.addStretch(1)
            scroll = QtWidgets.QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(page)
            index = self.tabs.addTab(scroll, title)
            for section in sections:
                self._tab_of[section] = index
        top.addWidget(self.tabs, 1)

        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.message)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QtWidgets.QPushButton("Save")
        self.save_button.setToolTip("Save to your protocol folder and choose it in the console")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.close_button = QtWidgets.QPushButton("Close")
        self.close_button.setToolTip("Close without saving")
        self.close_button.clicked.connect(self.reject)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        top.addLayout(buttons)

    def _section(self, section: str) -> QtWidgets.QWidget:
        if section == "bands":
            return self._bands_box()
        if section == "inhibit":
            return self._inhibits_box()
        box = QtWidgets.QGroupBox(_TITLES[section])
        form = QtWidgets.QFormLayout(box)
        schema = SHAM_SCHEMA if section == "sham" else SCHEMA[section]
        for key, spec in schema.items():
            path = f"{section}.{key}" if section else key
            field = _make_field(path, key, spec)
            self._watch(field.widget)
            self.fields[path] = field
            form.addRow(_label(key, path), field.widget)
        return box

    def _watch(self, w: QtWidgets.QWidget) -> None:
        if isinstance(w, QtWidgets.QComboBox):
            w.currentIndexChanged.connect(self.validate)
        elif isinstance(w, QtWidgets.QCheckBox):
            w.toggled.connect(self.validate)
        else:
            w.textChanged.connect(self.validate)

    def _bands_box(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox("Bands (Hz): the feature and the band inhibits name them")
        outer = QtWidgets.QVBoxLayout(box)
        self.bands_grid = QtWidgets.QGridLayout()
        for col, text in enumerate(("Band", "Low (Hz)", "High (Hz)", "Used by")):
            self.bands_grid.addWidget(QtWidgets.QLabel(f"<b>{text}</b>"), 0, col)
        outer.addLayout(self.bands_grid)
        add = QtWidgets.QHBoxLayout()
        self.add_band_button = QtWidgets.QPushButton("Add a band")
        self.add_band_button.setToolTip(
            "A band of your own, for the feature to name (e.g. 'low_alpha')"
        )
        self.add_band_button.clicked.connect(lambda: self._add_band_row(None, None, custom=True))
        add.addWidget(self.add_band_button)
        add.addStretch(1)
        outer.addLayout(add)
        return box

    def _add_band_row(self, name: str | None, edges, *, custom: bool) -> None:
        row = self.bands_grid.rowCount()
        if custom:
            name_w: QtWidgets.QWidget = QtWidgets.QLineEdit(name or "")
            name_w.setPlaceholderText("name")
            name_w.setToolTip("A plain name: letters, digits and '_'")
            self._watch(name_w)
        else:
            name_w = QtWidgets.QLabel(name or "")
        edits = []
        for i in range(2):
            e = QtWidgets.QLineEdit(value_text(edges[i]) if edges is not None else "")
            default = DEFAULT_BANDS.get(name or "")
            if default is not None:
                e.setPlaceholderText(value_text(default[i]))
            e.setObjectName(f"bands.{name or row}.{'low' if i == 0 else 'high'}")
            e.setToolTip("empty: the default edge" if default is not None else "Hz")
            self._watch(e)
            edits.append(e)
        use = QtWidgets.QLabel("")
        use.setToolTip("What uses the band: the reward feature, an inhibit")
        band = _BandRow(name_w, edits[0], edits[1], use)
        for col, w in enumerate((name_w, edits[0], edits[1], use)):
            self.bands_grid.addWidget(w, row, col)
        if custom:
            band.remove = QtWidgets.QPushButton("Remove")
            band.remove.setToolTip("Remove this band of your own")
            band.remove.clicked.connect(lambda: self._remove_band(band))
            self.bands_grid.addWidget(band.remove, row, 4)
        self.bands.append(band)
        if custom:
            name_w.setFocus()
        self.validate()

    def _remove_band(self, band: _BandRow) -> None:
        self.bands.remove(band)
        for w in (band.name, band.lo, band.hi, band.use, band.remove):
            if w is not None:
                self.bands_grid.removeWidget(w)
                w.deleteLater()
        self.validate()

    def band_edits(self, name: str) -> tuple[QtWidgets.QLineEdit, QtWidgets.QLineEdit]:
        """The low and high edge fields of band ``name``."""
        for band in self.bands:
            if band.name.text() == name:
                return band.lo, band.hi
        raise KeyError(name)

    def _inhibits_box(self) -> QtWidgets.QWidget:
        box = QtWidgets.QGroupBox("Inhibits: the reward is withheld while one is active")
        lay = QtWidgets.QHBoxLayout(box)
        left = QtWidgets.QVBoxLayout()
        self.inhibit_list = QtWidgets.QListWidget()
        self.inhibit_list.setMaximumWidth(200)
        self.inhibit_list.currentRowChanged.connect(lambda i: self.inhibit_pages.setCurrentIndex(i))
        left.addWidget(self.inhibit_list)
        add = QtWidgets.QHBoxLayout()
        self.inhibit_kind = QtWidgets.QComboBox()
        self.inhibit_kind.addItems(INHIBIT_KINDS)
        self.inhibit_kind.setToolTip("The kind of inhibit to add")
        self.add_inhibit_button = QtWidgets.QPushButton("Add")
        self.add_inhibit_button.setToolTip("Add an inhibit of the chosen kind")
        self.add_inhibit_button.clicked.connect(
            lambda: self._add_inhibit({"kind": self.inhibit_kind.currentText()}, select=True)
        )
        add.addWidget(self.inhibit_kind)
        add.addWidget(self.add_inhibit_button)
        left.addLayout(add)
        self.remove_inhibit_button = QtWidgets.QPushButton("Remove")
        self.remove_inhibit_button.setToolTip("Remove the selected inhibit")
        self.remove_inhibit_button.clicked.connect(self._remove_inhibit)
        left.addWidget(self.remove_inhibit_button)
        lay.addLayout(left)
        self.inhibit_pages = QtWidgets.QStackedWidget()
        lay.addWidget(self.inhibit_pages, 1)
        return box

    def _inhibit_title(self, fields: dict[str, _Field], kind: str) -> str:
        band = fields.get("band")
        return f"{kind}: {band.text()}" if kind == "band" and band is not None else kind

    def _add_inhibit(self, table: dict, *, select: bool = False) -> None:
        kind = table["kind"]
        page = QtWidgets.QGroupBox(f"{kind} inhibit")
        form = QtWidgets.QFormLayout(page)
        fields: dict[str, _Field] = {}
        for key, spec in INHIBIT_SCHEMA[kind].items():
            field = _make_field(f"inhibit.{kind}.{key}", key, spec)
            if key in table:
                field.set(table[key])
            self._watch(field.widget)
            fields[key] = field
            form.addRow(_label(key, key), field.widget)
        self.inhibits.append({"kind": kind, "fields": fields, "page": page})
        self.inhibit_pages.addWidget(page)
        self.inhibit_list.addItem(self._inhibit_title(fields, kind))
        if select:
            self.inhibit_list.setCurrentRow(len(self.inhibits) - 1)
        self.validate()

    def _remove_inhibit(self) -> None:
        i = self.inhibit_list.currentRow()
        if i < 0:
            return
        entry = self.inhibits.pop(i)
        self.inhibit_list.takeItem(i)
        self.inhibit_pages.removeWidget(entry["page"])
        entry["page"].deleteLater()
        self.validate()

    def inhibit_field(self, index: int, key: str) -> QtWidgets.QWidget:
        """The control of field ``key`` of inhibit ``index`` (as the list shows them)."""
        return self.inhibits[index]["fields"][key].widget

    # --- data ----------------------------------------------------------------------------
    def _load(self, data: dict) -> None:
        for path, field in self.fields.items():
            section, _, key = path.rpartition(".")
            table = data.get(section, {}) if section else data
            if key in table:
                field.set(table[key])
        bands = data.get("bands", {})
        for name in DEFAULT_BANDS:
            self._add_band_row(name, bands.get(name), custom=False)
        for name, edges in bands.items():
            if name not in DEFAULT_BANDS:
                self._add_band_row(name, edges, custom=True)
        for table in data.get("inhibit", []):
            self._add_inhibit(table)
        if self.inhibits:
            self.inhibit_list.setCurrentRow(0)
        if self.in_place:
            self.file_edit.setText(self.source)
        else:  # a copy is told apart from its preset in the list, the reports, the folders
            self.fields["name"].widget.setText(f"{data['name']} (copy)")

    def protocol_data(self) -> dict:
        """The protocol as the fields have it (not validated)."""
        data: dict[str, Any] = {}
        for path, field in self.fields.items():
            present, value = field.get()
            if not present:
                continue
            section, _, key = path.rpartition(".")
            (data.setdefault(section, {}) if section else data)[key] = value
        for section in ("signal", "feedback", "reward", "script"):
            data.setdefault(section, {})
        sham = data.get("sham")
        if sham is not None and not sham.get("blocks") and not sham.get("count"):
            del data["sham"]  # no sham blocks asked for: no [sham] table
        bands: dict[str, Any] = {}
        for band in self.bands:
            name = band.name.text().strip()
            edges = []
            for i, edit in enumerate((band.lo, band.hi)):
                present, value = text_value(edit.text())
                if not present and name in DEFAULT_BANDS:
                    value = DEFAULT_BANDS[name][i]
                edges.append(value)
            default = DEFAULT_BANDS.get(name)
            if default is None or name in self._source_bands or tuple(edges) != default:
                bands[name] = edges
        data["bands"] = bands
        data["inhibit"] = []
        for entry in self.inhibits:
            table = {"kind": entry["kind"]}
            for key, field in entry["fields"].items():
                present, value = field.get()
                if present:
                    table[key] = value
            data["inhibit"].append(table)
        return data

    def file_name(self) -> str:
        return self.file_edit.text().strip()

    # --- validation ----------------------------------------------------------------------
    def validate(self) -> bool:
        """Check the protocol and the file name; show the first problem. True when valid."""
        if not hasattr(self, "message"):  # still building
            return False
        name = self.file_name()
        problem, field = None, None
        try:
            path = user_protocol_path(name, replace=self.in_place and name == self.source)
        except NfbError as err:
            problem, field, path = str(err), "file_name", None
        try:
            protocol = validate(self.protocol_data(), src=f"{name}.toml" if name else "protocol")
        except NfbError as err:  # the protocol's problem first: it is what was just edited
            problem = str(err)
            field = self._field_of(problem, name)
        else:
            self._show_uses(protocol)
        for entry in self.inhibits:  # a band inhibit is listed by its band
            i = self.inhibits.index(entry)
            item = self.inhibit_list.item(i)
            if item is not None:
                item.setText(self._inhibit_title(entry["fields"], entry["kind"]))
        self._mark(field)
        self.error, self.bad_field = problem, field
        if problem is None:
            self.message.setStyleSheet("color: #2e7d32")
            self.message.setText(f"Valid. Save writes {path}")
        elif field == "file_name" and not name:  # a fresh copy: not an error yet
            self.file_edit.setStyleSheet("")
            self.message.setStyleSheet("color: #444")
            self.message.setText(problem[0].upper() + problem[1:])
        else:
            self.message.setStyleSheet("color: #c62828; font-weight: bold")
            where = self._where(field)
            self.message.setText(f"{where}: {problem}" if where else problem)
        self.save_button.setEnabled(problem is None)
        return problem is None

    def _show_uses(self, protocol: dict) -> None:
        """Beside each band, whether the reward feature or an inhibit uses it."""
        names = resolve_bands(protocol["bands"], sfreq=1e9)
        feature = {ref.band for ref in Protocol(protocol).feature(names).refs}
        inhibit = {i["band"] for i in protocol["inhibit"] if "band" in i}
        for row in self.bands:
            band = row.name.text().strip()
            uses = [w for w, s in (("reward", feature), ("inhibit", inhibit)) if band in s]
            row.use.setText(", ".join(uses))

    def _where(self, path: str | None) -> str | None:
        """Where a field is, as the practitioner sees it: ``Script › Block length (min)``."""
        if path is None or path == "file_name":
            return None
        m = re.fullmatch(r"inhibit\[(\d+)\](?:\.(\w+))?", path)
        if m:
            i = int(m.group(1))
            item = self.inhibit_list.item(i)
            what = item.text().removesuffix(_WARN) if item is not None else f"inhibit {i + 1}"
            key = m.group(2)
            return f"Inhibits › {what}" + (f" › {_label(key, key)}" if key else "")
        section = path.split(".")[0] if "." in path else ""
        tab = TABS[self._tab_of[section]][0] if section in self._tab_of else None
        if section == "bands":
            return f"Bands › {path.split('.', 1)[1]}"
        if tab is None:
            return None
        return f"{tab} › {_label(path.rpartition('.')[2], path)}"

    @staticmethod
    def _field_of(message: str, name: str) -> str | None:
        src = f"{name}.toml: " if name else "protocol: "
        rest = message[len(src) :] if message.startswith(src) else message
        for i, pattern in enumerate(_FIELD_RES):
            m = pattern.search(rest)
            if m:
                return m.group(1) if i < 2 else f"bands.{m.group(1)}"
        return None

    def _mark(self, path: str | None) -> None:
        self.file_edit.setStyleSheet(_BAD_STYLE if path == "file_name" else "")
        for p, field in self.fields.items():
            field.mark(p == path)
        m = re.fullmatch(r"inhibit\[(\d+)\](?:\.(\w+))?", path or "")
        for i, entry in enumerate(self.inhibits):
            for key, field in entry["fields"].items():
                field.mark(m is not None and int(m.group(1)) == i and m.group(2) in (key, None))
            item = self.inhibit_list.item(i)
            if item is not None and m is not None and int(m.group(1)) == i:
                item.setText(item.text() + _WARN)
        band = path[len("bands.") :] if path and path.startswith("bands.") else None
        for row in self.bands:
            bad = band is not None and row.name.text().strip() == band
            for w in (row.lo, row.hi):
                w.setStyleSheet(_BAD_STYLE if bad else "")
        section = (path or "").split(".")[0].split("[")[0]
        if path in self.fields and "." not in path:
            section = ""
        bad_tab = self._tab_of.get(section) if path and path != "file_name" else None
        for (title, _), i in zip(TABS, range(self.tabs.count()), strict=True):
            self.tabs.setTabText(i, title + (_WARN if i == bad_tab else ""))

    # --- saving --------------------------------------------------------------------------
    def save(self) -> bool:
        """Save the protocol (if valid) and emit :attr:`saved`; the message says what failed."""
        if not self.validate():
            return False
        name = self.file_name()
        try:
            self.saved_path = save_user_protocol(
                self.protocol_data(), name, replace=self.in_place and name == self.source
            )
        except NfbError as err:
            self.message.setStyleSheet("color: #c62828; font-weight: bold")
            self.message.setText(str(err))
            return False
        self._loaded = (name, self.protocol_data())
        self.saved.emit(name)
        self.accept()
        return True

    def changed(self) -> bool:
        """Whether anything was edited since the protocol was loaded or saved."""
        return (self.file_name(), self.protocol_data()) != self._loaded

    def reject(self) -> None:
        """Close (Close, Escape, the title bar's button: QDialog routes it here); after an
        edit, ask first."""
        if not self.changed():
            super().reject()
            return
        if self.discard_box is not None:
            return
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question,
            "Discard the changes?",
            "Close the editor without saving? The changes to this protocol are lost.",
            parent=self,
        )
        discard = box.addButton("Discard changes", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep editing", QtWidgets.QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered(_result) -> None:
            self.discard_box = None
            if box.clickedButton() is discard:
                super(ProtocolEditor, self).reject()
            box.deleteLater()

        box.finished.connect(answered)
        self.discard_box = box
        box.open()  # window-modal, not a nested event loop
