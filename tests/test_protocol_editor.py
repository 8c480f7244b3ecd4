"""The protocol editor: a preset duplicated, edited with the schema's own messages, saved as the
user's protocol, chosen in the console, run there and by ``nfb run``.

Real parts: the protocol files written and read back with ``tomllib`` and ``load_protocol``, a
QApplication (offscreen) driven with mouse and key events, BrainFlow's synthetic board, the
session folders read back. The user's protocol folder is the test's own (``NFB_CONFIG_DIR``,
set by conftest).
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from conftest import nfb_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import nfb
from nfb.errors import ConfigError
from nfb.protocol import (
    dumps_protocol,
    list_protocols,
    load_protocol,
    protocols_dir,
    save_user_protocol,
    user_protocols_dir,
    validate,
)

pytest.importorskip("pytestqt")
from PyQt6 import QtCore, QtWidgets

from nfb.gui.protocol_editor import ProtocolEditor

CLICK = QtCore.Qt.MouseButton.LeftButton
#: A short script for the edited protocol: 3 s + 3 s baselines, two 6 s blocks, 1.2 s rest.
SHORT = {
    "script.baseline_eyes_open": "0.05",
    "script.baseline_eyes_closed": "0.05",
    "script.blocks": "2",
    "script.block_min": "0.1",
    "script.rest_min": "0.02",
}


# --- the file: written, read back ------------------------------------------------------------
@pytest.mark.parametrize("name", [p.stem for p in list_protocols()])
def test_every_preset_reads_back_from_its_toml(name):
    data = load_protocol(name).data
    text = dumps_protocol(data)
    assert tomllib.loads(text) == data
    assert validate(tomllib.loads(text)) == data


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80), st.text(min_size=1, max_size=40))
def test_any_name_and_description_read_back(description, name):
    data = load_protocol("smr-up").to_dict()
    data["name"], data["description"] = name, description
    data["bands"] = {"smr": [12, 15.5], "low_alpha": [8.0, 10]}
    assert tomllib.loads(dumps_protocol(data)) == data


def test_saved_protocol_is_private_and_loads_back_identical():
    data = load_protocol("alpha-theta").to_dict()
    data["script"]["blocks"] = 3
    path = save_user_protocol(data, "alpha-theta-3")
    assert path == user_protocols_dir() / "alpha-theta-3.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_protocol("alpha-theta-3")
    assert again.data == validate(data) and again.data["script"]["blocks"] == 3
    assert again.source == path
    # the name is taken now: a second save refuses, unless it replaces (editing it)
    with pytest.raises(ConfigError, match="exists already"):
        save_user_protocol(data, "alpha-theta-3")
    data["script"]["blocks"] = 4
    save_user_protocol(data, "alpha-theta-3", replace=True)
    assert load_protocol("alpha-theta-3").data["script"]["blocks"] == 4


@pytest.mark.parametrize(
    "stem, why",
    [
        ("smr-up", "built-in"),
        ("", "give the protocol a file name"),
        ("Smr-Mine", "lowercase"),
        ("../evil", "lowercase"),
        ("a b", "lowercase"),
        ("x" * 41, "lowercase"),
        ("nul", "device name on Windows"),
    ],
)
def test_a_bad_or_builtin_name_is_refused(stem, why):
    before = {p: p.read_bytes() for p in protocols_dir().glob("*.toml")}
    with pytest.raises(ConfigError, match=why):
        save_user_protocol(load_protocol("smr-up").data, stem)
    assert {p: p.read_bytes() for p in protocols_dir().glob("*.toml")} == before
    assert not user_protocols_dir().exists() or not list(user_protocols_dir().iterdir())


def test_never_written_through_a_link(tmp_path):
    target = tmp_path / "elsewhere.toml"
    target.write_text("keep me")
    user_protocols_dir().mkdir(parents=True)
    (user_protocols_dir() / "mine.toml").symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        save_user_protocol(load_protocol("smr-up").data, "mine", replace=True)
    assert target.read_text() == "keep me"
    # nor into a folder that is a link
    user_protocols_dir().joinpath("mine.toml").unlink()
    user_protocols_dir().rmdir()
    (tmp_path / "other").mkdir()
    user_protocols_dir().symlink_to(tmp_path / "other")
    with pytest.raises(ConfigError, match="cannot write"):
        save_user_protocol(load_protocol("smr-up").data, "mine")
    assert list((tmp_path / "other").iterdir()) == []


def test_an_invalid_protocol_is_refused_with_the_schema_message():
    data = load_protocol("smr-up").to_dict()
    data["reward"]["target_rate"] = 1.5
    with pytest.raises(ConfigError) as err:
        save_user_protocol(data, "smr-bad")
    assert str(err.value) == (
        "smr-bad.toml: field 'reward.target_rate' must be a fraction between 0 and 1, got 1.5"
    )
    assert not (user_protocols_dir() / "smr-bad.toml").exists()


# --- driving the dialog ----------------------------------------------------------------------
def type_into(qtbot, widget: QtWidgets.QWidget, text: str) -> None:
    """Click into a field, select what it holds and type over it, as a person does."""
    tabs = _tabs_of(widget)
    if tabs is not None:  # bring its tab forward with a click on the tab
        index = next(i for i in range(tabs.count()) if tabs.widget(i).isAncestorOf(widget))
        qtbot.mouseClick(tabs.tabBar(), CLICK, pos=tabs.tabBar().tabRect(index).center())
        assert tabs.currentIndex() == index
    qtbot.mouseClick(widget, CLICK)
    qtbot.keyClick(widget, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    if text:
        qtbot.keyClicks(widget, text)
    else:
        qtbot.keyClick(widget, QtCore.Qt.Key.Key_Delete)


def _tabs_of(widget: QtWidgets.QWidget) -> QtWidgets.QTabWidget | None:
    w = widget.parentWidget()
    while w is not None and not isinstance(w, QtWidgets.QTabWidget):
        w = w.parentWidget()
    return w


def field(editor: ProtocolEditor, path: str) -> QtWidgets.QWidget:
    return editor.fields[path].widget


@pytest.fixture
def editor(qtbot, own_windows):
    def make(source="smr-up"):
        dialog = own_windows(ProtocolEditor(source))
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    return make


def test_a_bad_value_shows_the_schema_message_and_save_refuses(qtbot, editor):
    ed = editor()
    # a copy of a built-in preset needs its own name: Save waits for it, the cursor is there
    assert not ed.save_button.isEnabled()
    assert ed.focusWidget() is ed.file_edit
    # and a name of its own, told apart from the preset's in the lists and reports
    assert field(ed, "name").text() == load_protocol("smr-up").name + " (copy)"
    assert ed.message.text().startswith("Give the protocol a file name: lowercase letters")
    type_into(qtbot, ed.file_edit, "smr-up")
    assert "'smr-up' is a built-in protocol" in ed.message.text()
    assert not ed.save_button.isEnabled()
    type_into(qtbot, ed.file_edit, "smr-mine")
    assert ed.save_button.isEnabled() and ed.message.text().startswith("Valid.")

    type_into(qtbot, field(ed, "script.block_min"), "-1")
    want = load_protocol("smr-up").to_dict()
    want["script"]["block_min"] = -1
    with pytest.raises(ConfigError) as err:
        validate(want, src="smr-mine.toml")
    # the schema's own message, where the practitioner sees it, and the field outlined
    assert str(err.value) in ed.message.text()
    assert ed.message.text().startswith("Script › Block length (min): ")
    assert ed.bad_field == "script.block_min"
    assert field(ed, "script.block_min").styleSheet()
    assert ed.tabs.tabText(ed.tabs.currentIndex()).endswith("⚠")
    assert not ed.save_button.isEnabled()
    # Return (the default button) and a click on Save write nothing
    qtbot.keyClick(field(ed, "script.block_min"), QtCore.Qt.Key.Key_Return)
    qtbot.mouseClick(ed.save_button, CLICK)
    assert not (user_protocols_dir() / "smr-mine.toml").exists()
    # the message stays while the problem does: another field edited, still there
    type_into(qtbot, field(ed, "script.blocks"), "3")
    assert str(err.value) in ed.message.text()
    type_into(qtbot, field(ed, "script.block_min"), "2.5")
    assert ed.error is None and ed.save_button.isEnabled()
    assert not field(ed, "script.block_min").styleSheet()

    # a feature naming no band, a band edge out of order: the schema's messages again
    type_into(qtbot, field(ed, "feedback.feature"), "smr / nope")
    assert "feedback.feature: unknown band 'nope'" in ed.message.text()
    type_into(qtbot, field(ed, "feedback.feature"), "smr")
    _lo, hi = ed.band_edits("smr")
    type_into(qtbot, hi, "10")
    assert "bands.smr must satisfy 0 < low < high, got [12.0, 10.0]" in ed.message.text()
    assert ed.message.text().startswith("Bands › smr: ") and hi.styleSheet()
    type_into(qtbot, hi, "")  # empty: the default edge
    assert ed.error is None


def test_inhibits_are_added_edited_and_removed(qtbot, editor):
    ed = editor()
    type_into(qtbot, ed.file_edit, "smr-inhibits")
    n = len(ed.inhibits)
    ed.inhibit_kind.setCurrentText("band")
    qtbot.mouseClick(ed.add_inhibit_button, CLICK)
    assert len(ed.inhibits) == n + 1 and ed.inhibit_list.currentRow() == n
    # a band inhibit needs its band: the schema says so
    assert "missing field 'inhibit[5].band'" in ed.message.text()
    type_into(qtbot, ed.inhibit_field(n, "band"), "theta")
    assert "repeats the 'band theta' inhibit of 'inhibit[0]'" in ed.message.text()
    type_into(qtbot, ed.inhibit_field(n, "band"), "beta")
    assert ed.inhibit_list.item(n).text() == "band: beta"
    type_into(qtbot, ed.inhibit_field(n, "release"), "2")
    assert ed.message.text().startswith("Inhibits › band: beta › Release (fraction of limit): ")
    assert "field 'inhibit[5].release' must be a fraction of the limit" in ed.message.text()
    type_into(qtbot, ed.inhibit_field(n, "release"), "0.7")
    type_into(qtbot, ed.inhibit_field(n, "min_episode_ms"), "150")
    # the amplitude limit of the preset's amplitude inhibit, and the theta one removed
    type_into(qtbot, ed.inhibit_field(2, "max_uv"), "80")
    ed.inhibit_list.setCurrentRow(0)
    qtbot.mouseClick(ed.remove_inhibit_button, CLICK)
    assert ed.error is None
    qtbot.mouseClick(ed.save_button, CLICK)
    saved = load_protocol("smr-inhibits").data["inhibit"]
    assert [i["kind"] for i in saved] == ["band", "amplitude", "flat", "railed", "band"]
    assert saved[0]["band"] == "high_beta" and saved[1]["max_uv"] == 80
    assert saved[-1] == {"kind": "band", "band": "beta", "max": "auto", "max_z": 1.5,
                         "hold_ms": 0, "min_episode_ms": 150, "release": 0.7}  # fmt: skip


def test_a_band_of_ones_own_feedback_mode_and_a_fixed_threshold(qtbot, editor):
    ed = editor("alpha-up")
    type_into(qtbot, ed.file_edit, "low-alpha")
    qtbot.mouseClick(ed.add_band_button, CLICK)
    row = ed.bands[-1]
    type_into(qtbot, row.name, "low_alpha")
    type_into(qtbot, row.lo, "8")
    type_into(qtbot, row.hi, "10")
    type_into(qtbot, field(ed, "feedback.feature"), "low_alpha")
    assert row.use.text() == "reward"
    assert [r.use.text() for r in ed.bands if r.name.text() == "alpha"] == [""]
    # a band added by mistake is removed again
    qtbot.mouseClick(ed.add_band_button, CLICK)
    assert "band name '' must be a plain identifier" in ed.message.text()
    qtbot.mouseClick(ed.bands[-1].remove, CLICK)
    assert ed.error is None and ed.bands[-1] is row
    mode = field(ed, "feedback.mode")
    mode.setCurrentText("audio")
    direction = field(ed, "feedback.direction")
    direction.setCurrentText("down")
    type_into(qtbot, field(ed, "reward.threshold"), "4.5")
    type_into(qtbot, field(ed, "signal.channels"), "O1, O2")
    type_into(qtbot, field(ed, "name"), "Low alpha down")
    assert ed.error is None, ed.error
    qtbot.mouseClick(ed.save_button, CLICK)
    assert not ed.isVisible()
    p = load_protocol("low-alpha").data
    assert p["bands"] == {"low_alpha": [8, 10]}
    assert p["feedback"]["feature"] == "low_alpha" and p["feedback"]["mode"] == "audio"
    assert p["feedback"]["direction"] == "down" and p["reward"]["threshold"] == 4.5
    assert p["signal"]["channels"] == ["O1", "O2"] and p["name"] == "Low alpha down"
    # untouched fields keep the preset's values (and types)
    preset = load_protocol("alpha-up").data
    assert p["script"] == preset["script"] and p["inhibit"] == preset["inhibit"]

    # opened again, a user protocol is edited in place
    again = editor("low-alpha")
    assert again.file_edit.text() == "low-alpha" and again.save_button.isEnabled()
    type_into(qtbot, field(again, "script.blocks"), "4")
    qtbot.mouseClick(again.save_button, CLICK)
    assert load_protocol("low-alpha").data["script"]["blocks"] == 4


def test_the_dialog_fits_a_small_screen(qtbot, editor, tmp_path):
    ed = editor()
    assert ed.width() <= 1366 and ed.height() <= 768 - 60  # a taskbar and a title bar
    for i in range(ed.tabs.count()):
        ed.tabs.setCurrentIndex(i)
        page = ed.tabs.widget(i).widget()  # the scroll area's page
        assert page.minimumSizeHint().width() <= ed.tabs.widget(i).viewport().width(), i
        assert page.minimumSizeHint().height() <= ed.tabs.widget(i).viewport().height(), i


# --- end to end: the console and `nfb run` ---------------------------------------------------
def edit_smr_copy(qtbot, ed: ProtocolEditor, name: str) -> None:
    """Duplicate smr-up as ``name``: SMR 12–16 Hz, a short script."""
    type_into(qtbot, ed.file_edit, name)
    _lo, hi = ed.band_edits("smr")
    type_into(qtbot, hi, "16")
    for path, text in SHORT.items():
        type_into(qtbot, field(ed, path), text)
    assert ed.error is None, ed.error


def test_edited_in_the_console_and_a_session_runs_with_it(qtbot, own_windows, tmp_path):
    from nfb.feedback.level import FeedbackState
    from nfb.gui.console import ConsoleWindow

    settings_ = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(
        ConsoleWindow(tmp_path / "sessions", settings=settings_, state=FeedbackState())
    )
    console.show()
    console.device_box.setCurrentText("synthetic")
    qtbot.mouseClick(console.connect_button, CLICK)
    console.protocol_box.setCurrentText("smr-up")
    # from the File menu, on the first tab (the protocol list is on the session tab)
    console.panel.setCurrentIndex(0)
    assert not console.panel.currentWidget().isAncestorOf(console.protocol_box)
    console.action_edit_protocol.trigger()
    ed = console.protocol_editor
    qtbot.waitExposed(ed)
    assert "smr-up" in ed.windowTitle() and "copy" in ed.windowTitle()
    edit_smr_copy(qtbot, ed, "smr-short")
    qtbot.mouseClick(ed.save_button, CLICK)
    # the console lists the new protocol and has chosen it
    assert console.protocol_box.currentText() == "smr-short"
    index = console.protocol_box.currentIndex()
    tip = console.protocol_box.itemData(index, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("user: ") and tip.endswith("smr-short.toml")
    assert "user protocol" in console.protocol_text.text()
    assert console.protocol_box.findText("smr-up") >= 0  # the preset is still there
    assert console.panel.currentWidget().isAncestorOf(console.protocol_box)
    # the button beside the list opens it again, on the user's own protocol, in place
    qtbot.mouseClick(console.edit_protocol_button, CLICK)
    again = console.protocol_editor
    assert again is not ed and again.file_edit.text() == "smr-short" and again.error is None
    qtbot.mouseClick(again.close_button, CLICK)
    assert not again.isVisible()

    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    console.client_box.setCurrentText("editor-test")
    qtbot.mouseClick(console.start_button, CLICK)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    assert not console.edit_protocol_button.isEnabled()
    assert not console.action_edit_protocol.isEnabled()
    assert session.runner.bands["smr"] == (12.0, 16.0)
    qtbot.waitUntil(lambda: session.snapshot().step is not None, timeout=10000)
    qtbot.mouseClick(console.stop_button, CLICK)
    qtbot.waitUntil(lambda: console.confirm_box is not None and console.confirm_box.isVisible())
    box = console.confirm_box
    role = QtWidgets.QMessageBox.ButtonRole.AcceptRole
    (yes,) = [b for b in box.buttons() if box.buttonRole(b) == role]
    qtbot.mouseClick(yes, CLICK)
    qtbot.waitUntil(lambda: console.session is None and session.finished, timeout=10000)
    rec = nfb.read_session(session.path)
    used = rec.meta["protocol"]
    assert used == load_protocol("smr-short").data
    assert used["bands"]["smr"] == [12, 16] and used["script"]["block_min"] == 0.1
    assert rec.meta["protocol_slug"] == "smr-short"


def test_nfb_run_uses_the_saved_protocol(qtbot, editor):
    ed = editor()
    edit_smr_copy(qtbot, ed, "smr-cli")
    type_into(qtbot, field(ed, "reward.target_rate"), "0.7")
    qtbot.mouseClick(ed.save_button, CLICK)
    path = user_protocols_dir() / "smr-cli.toml"
    assert path.is_file()
    # the user's folder is found through the environment, as a user's is through platformdirs
    assert os.environ["NFB_CONFIG_DIR"] in str(path)
    proc = nfb_cli(
        "run", "--device", "synthetic", "--protocol", "smr-cli", "--client", "cli",
        "--duration", "3", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    meta = json.loads((folder / "session.json").read_text())
    used = meta["protocol"]
    assert used == tomllib.loads(path.read_text())
    assert used["bands"]["smr"] == [12, 16] and used["reward"]["target_rate"] == 0.7
    assert used["script"]["blocks"] == 2 and meta["protocol_slug"] == "smr-cli"


def test_every_schema_field_has_a_control(qtbot, editor):
    from nfb.protocol import INHIBIT_KINDS, INHIBIT_SCHEMA, SCHEMA, SHAM_SCHEMA

    ed = editor()
    want = {f"{s}.{k}" if s else k for s, table in SCHEMA.items() for k in table}
    want |= {f"sham.{k}" for k in SHAM_SCHEMA}
    assert set(ed.fields) == want
    for kind in INHIBIT_KINDS:
        ed.inhibit_kind.setCurrentText(kind)
        qtbot.mouseClick(ed.add_inhibit_button, CLICK)
        assert set(ed.inhibits[-1]["fields"]) == set(INHIBIT_SCHEMA[kind]), kind
        assert ed.inhibit_pages.currentWidget() is ed.inhibits[-1]["page"]


@pytest.mark.parametrize("name", [p.stem for p in list_protocols()])
def test_a_copy_saved_untouched_is_the_preset(qtbot, editor, name):
    ed = editor(name)
    type_into(qtbot, ed.file_edit, f"{name}-copy")
    assert ed.error is None, ed.error
    qtbot.mouseClick(ed.save_button, CLICK)
    preset, copy = load_protocol(name).data, load_protocol(f"{name}-copy").data
    assert copy["name"] == preset["name"] + " (copy)"
    assert {**copy, "name": preset["name"]} == preset


def test_a_broken_protocol_of_ones_own_is_said_not_opened(qtbot, own_windows, tmp_path):
    from nfb.gui.console import ConsoleWindow

    user_protocols_dir().mkdir(parents=True)
    (user_protocols_dir() / "broken.toml").write_text('name = "x"\n[reward]\nhold_ms = -5\n')
    settings_ = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(ConsoleWindow(tmp_path / "sessions", settings=settings_))
    console.show()
    console.protocol_box.setCurrentText("broken")
    qtbot.mouseClick(console.edit_protocol_button, CLICK)
    assert console.protocol_editor is None
    assert console.error_bar.isVisible() and "broken.toml" in console.error_text.text()


def test_closing_after_an_edit_asks_first(qtbot, editor):
    ed = editor()
    qtbot.mouseClick(ed.close_button, CLICK)  # nothing edited: closes at once
    assert not ed.isVisible() and ed.discard_box is None
    ed = editor()
    type_into(qtbot, ed.file_edit, "smr-draft")
    type_into(qtbot, field(ed, "script.blocks"), "9")
    role = QtWidgets.QMessageBox.ButtonRole

    def answer(want):
        qtbot.waitUntil(lambda: ed.discard_box is not None and ed.discard_box.isVisible())
        box = ed.discard_box
        (button,) = [b for b in box.buttons() if box.buttonRole(b) == want]
        qtbot.mouseClick(button, CLICK)
        qtbot.waitUntil(lambda: ed.discard_box is None)

    qtbot.keyClick(field(ed, "script.blocks"), QtCore.Qt.Key.Key_Escape)
    answer(role.RejectRole)  # keep editing
    assert ed.isVisible() and field(ed, "script.blocks").text() == "9"
    ed.close()  # the title bar's button
    answer(role.AcceptRole)  # discard
    assert not ed.isVisible()
    assert not (user_protocols_dir() / "smr-draft.toml").exists()
