"""Issue 14, client history: the chosen client's past sessions in the console, newest first,
damaged ones said so, and a session's report opened from there.

Real parts: sessions written by the real recorder (tests/sessionfactory.py) into a store
with a real client index, the console offscreen, mouse clicks and double-clicks, the report
written to the per-user data folder (the test's own, see conftest).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

pytest.importorskip("pytestqt")
from PyQt6 import QtCore
from sessionfactory import make_session

from nfb.session import course as crs
from nfb.session.clients import ClientIndex
from nfb.session.history import client_history
from nfb.session.store import update_session_meta

LEFT = QtCore.Qt.MouseButton.LeftButton


def _day(d: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, d, hour, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    """Anna: three sessions (rated) and one damaged; Ben: two sessions."""
    root = tmp_path / "sessions"
    index = ClientIndex(root)
    anna, ben = index.resolve("Anna K"), index.resolve("Ben L")
    made = {"anna": [], "ben": []}
    for k, (d, before, after) in enumerate([(2, 7, 5), (9, 6, 4), (16, 6, 3)]):
        path = make_session(root, seconds=6, client=anna, seed=k, start=_day(d))
        update_session_meta(path, ratings={"anxiety_before": before, "anxiety_after": after})
        made["anna"].append(path)
    for k, d in enumerate((3, 10)):
        made["ben"].append(
            make_session(
                root, seconds=4, client=ben, seed=10 + k, start=_day(d), protocol_name="SMR up"
            )
        )
    damaged = make_session(root, seconds=2, client=anna, seed=5, start=_day(20))
    (damaged / "session.json").write_text("[" * 200_000)  # nested past any JSON reader's limit
    made["damaged"] = damaged
    crs.add_outcome(root, anna, "gad7", [2, 2, 1, 1, 2, 1, 1], day="2026-11-08")
    return root, anna, ben, made


def _console(qtbot, own_windows, tmp_path, root):
    from nfb.gui.console import ConsoleWindow

    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(ConsoleWindow(root, settings=settings))
    console.show()
    return console


def _open_history(qtbot, console, name):
    console.panel.setCurrentIndex(1)  # the Session tab, where the client is chosen
    console.client_box.setCurrentText(name)
    assert console.history_button.isVisible()
    qtbot.mouseClick(console.history_button, LEFT)
    dialog = console.history_dialog
    assert dialog is not None and dialog.isVisible()
    with qtbot.waitSignal(dialog.loaded, timeout=20000):
        pass
    return dialog


def _cells(dialog, row):
    return [dialog.table.item(row, c).text() for c in range(dialog.table.columnCount())]


def test_the_history_shows_only_the_chosen_clients_sessions(qtbot, own_windows, tmp_path, store):
    root, _anna, _ben, made = store
    console = _console(qtbot, own_windows, tmp_path, root)
    dialog = _open_history(qtbot, console, "Anna K")
    assert dialog.windowTitle() == "History — Anna K"
    # newest first: the damaged one (20 Nov), then 16, 9, 2 Nov; none of Ben's
    paths = [e.path for e in dialog.entries]
    assert paths == [made["damaged"], *reversed(made["anna"])]
    assert dialog.table.rowCount() == 4
    damaged = _cells(dialog, 0)
    assert damaged[2] == "damaged" and "nested deeper" in damaged[4]
    assert "cannot be read" in dialog.summary.text()
    for row, path in zip((1, 2, 3), reversed(made["anna"]), strict=True):
        meta = json.loads((path / "session.json").read_text())
        cells = _cells(dialog, row)
        rewards = "  ".join(f"{100 * b['reward_rate']:.0f} %" for b in meta["blocks"])
        assert cells[4] == rewards and len(meta["blocks"]) == 3
        assert cells[1] == "Alpha up" and cells[2] == "complete"
        assert (cells[6], cells[7]) == tuple(
            str(meta["ratings"][k]) for k in ("anxiety_before", "anxiety_after")
        )
        assert cells[3] == "6 s"
    # the GAD-7 of 8 Nov is the latest on or before the sessions of 9 and 16 Nov, not of 2 Nov
    assert [_cells(dialog, r)[8] for r in (1, 2, 3)] == [
        "GAD-7 10 (2026-11-08)",
        "GAD-7 10 (2026-11-08)",
        "—",
    ]

    dialog = _open_history(qtbot, console, "Ben L")
    assert [e.path for e in dialog.entries] == list(reversed(made["ben"]))
    assert {_cells(dialog, r)[1] for r in range(2)} == {"SMR up"}
    assert all(_cells(dialog, r)[6] == "—" for r in range(2))  # Ben was not rated


def test_a_report_opens_from_the_history(qtbot, own_windows, tmp_path, store):
    root, _anna, _ben, made = store
    console = _console(qtbot, own_windows, tmp_path, root)
    opened = []
    console.open_url = opened.append
    dialog = _open_history(qtbot, console, "Anna K")
    # the damaged row: no report
    dialog.table.selectRow(0)
    assert not dialog.report_button.isEnabled()
    # double-click the oldest session
    table = dialog.table
    rect = table.visualItemRect(table.item(3, 0))
    # a double-click as Qt sees one: press, release, then the second press
    qtbot.mouseClick(table.viewport(), LEFT, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), LEFT, pos=rect.center())
    qtbot.waitUntil(lambda: len(opened) == 1 or console.error_bar.isVisible(), timeout=30000)
    assert not console.error_bar.isVisible(), console.error_text.text()
    report = opened[0].toLocalFile()
    assert report == str(console.last_report_path) and console.last_report_path.is_file()
    assert made["anna"][0].name in report and report.endswith(".html")
    assert "Alpha up" in console.last_report_path.read_text(encoding="utf-8")
    # or choose a row and press "Open report"
    table.selectRow(1)
    assert dialog.report_button.isEnabled()
    qtbot.mouseClick(dialog.report_button, LEFT)
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=30000)
    assert made["anna"][2].name in opened[1].toLocalFile()


def test_history_of_a_hostile_store_is_rows_not_tracebacks(tmp_path):
    """Each planted file of tests/test_hostile_store.py is one damaged row with one line."""
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs need POSIX")
    root = tmp_path / "sessions"
    cid = ClientIndex(root).resolve("Anna K")
    good = make_session(root, seconds=2, client=cid, start=_day(1))
    planted = {}
    for d, (name, how) in enumerate(
        [
            ("raw.f64", "link"),
            ("frames.f64", "fifo"),
            ("events.jsonl", "folder"),
            ("session.json", "fifo"),
            ("session.json", "huge"),
        ],
        start=2,
    ):
        path = make_session(root, seconds=2, client=cid, start=_day(d), seed=d)
        target = path / name
        target.unlink()
        if how == "link":
            target.symlink_to("/dev/zero")
        elif how == "fifo":
            os.mkfifo(target)
        elif how == "folder":
            target.mkdir()
        else:
            with open(target, "wb") as f:
                f.truncate(64 * 2**20)
        planted[path] = name
    interrupted = make_session(root, seconds=2, client=cid, start=_day(9), interrupted=True)
    entries = {e.path: e for e in client_history(root, "Anna K")}
    assert set(entries) == {good, interrupted, *planted}
    assert not entries[good].damaged and entries[good].status == "complete"
    assert entries[interrupted].status == "interrupted" and not entries[interrupted].damaged
    for path, name in planted.items():
        e = entries[path]
        assert e.damaged and e.status == "damaged" and name in e.problem, e.problem
        assert "\n" not in e.problem and str(path) not in e.problem
