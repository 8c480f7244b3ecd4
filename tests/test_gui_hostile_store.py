"""``nfb gui`` on a hostile store (the planted files of tests/test_hostile_store.py): the app
starts (offscreen Qt, ``nfb.gui.app.build`` as ``nfb gui`` calls it), lists the good clients,
recovers what it can, and changes nothing outside the store or in the damaged sessions."""

from __future__ import annotations

import logging
import os

import pytest
from sessionfactory import make_session
from test_hostile_store import _digest, _plant, outside  # noqa: F401 - outside is a fixture

from nfb.session.clients import ClientIndex
from nfb.session.store import list_sessions, read_session

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need POSIX")


def test_the_gui_starts_on_a_hostile_store(tmp_path, outside, own_windows, caplog):  # noqa: F811
    from PyQt6 import QtCore

    from nfb.gui.app import build

    store = tmp_path / "store"
    anna = ClientIndex(store).resolve("Anna K")  # a client of the index, by name
    good = make_session(store, seconds=2, client=anna)
    waiting = make_session(store, seconds=2, client=anna, interrupted=True, seed=1)
    bad = make_session(store, seconds=2, client="bad", interrupted=True)
    _plant(bad, "raw.f64", "link-out", outside)
    nested = make_session(store, seconds=2, client="nested")
    (nested / "session.json").write_text("[" * 200_000)
    fifo = make_session(store, seconds=2, client="fifo")
    (fifo / "session.json").unlink()
    os.mkfifo(fifo / "session.json")
    zero = make_session(store, seconds=2, client="zero")
    (zero / "events.jsonl").unlink()
    (zero / "events.jsonl").symlink_to("/dev/zero")
    (store / "linked").symlink_to(outside, target_is_directory=True)  # a client folder link
    before_out = _digest(outside)
    before_bad, before_nested = _digest(bad), (nested / "session.json").read_bytes()

    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    with caplog.at_level(logging.WARNING, logger="nfb"):
        console = own_windows(build(store, settings=settings, sound=False))
        console.show()
    names = [console.client_box.itemText(i) for i in range(console.client_box.count())]
    # the index's client by name, the folders from before the index; never the link
    assert "Anna K" in names and "bad" in names and "linked" not in names, names
    assert anna not in names
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warned if str(bad) in w and "a symbolic link" in w], warned
    assert all("\n" not in w for w in warned)

    # the interrupted good session was recovered at the start; the damaged ones were not
    assert read_session(waiting).status == "recovered"
    listed = {s["path"] for s in list_sessions(store)}
    assert {good, waiting} <= listed and not {bad, nested, fifo} & listed
    assert _digest(outside) == before_out  # nothing written through a link
    assert _digest(bad) == before_bad
    assert (nested / "session.json").read_bytes() == before_nested
