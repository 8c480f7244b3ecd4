"""Boards that stall: BrainFlow's real Cyton driver against an emulated Cyton.

A board that connects and then stops sending (no error, just no samples), and a board whose
connection never completes (BrainFlow's ``prepare_session`` keeps reading a trickle of bytes,
about 14 minutes, holding BrainFlow's process-wide lock): neither hangs nfb. The acquisition's
clock is the test's own (a :class:`FakeClock`), so a stall or a timeout happens when the test
says that time has passed, never after a sleep; real-time deadlines only guard against hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT
from cyton_emulator import CytonEmulator

import nfb
from nfb.acquisition import Acquisition
from nfb.errors import DeviceError
from nfb.sources import BrainFlowSource

pytestmark = pytest.mark.slow

CYTON = 0
#: A guard against hangs only: nothing below waits for it to pass.
DEADLINE = 60.0


class FakeClock:
    """A monotonic clock that moves only when told to (thread-safe)."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class CountingSource(BrainFlowSource):
    """The real BrainFlow source, counting the polls that found no sample."""

    empty_polls = 0

    def read(self):
        block = super().read()
        if block.shape[1] == 0:
            self.empty_polls += 1
        return block


def _until(predicate, what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_a_board_that_stops_sending_is_lost_when_the_clock_says_so():
    clock = FakeClock()
    events: list[tuple[str, dict]] = []
    with CytonEmulator(n_samples=500) as emu:
        source = CountingSource(CYTON, connection={"serial_port": emu.port})
        acq = Acquisition(
            source,
            clock=clock,
            stall_timeout=3.0,
            on_event=lambda k, i, info: events.append((k, info)),
        )
        acq.start()
        try:
            _until(lambda: acq.n_samples >= 500, "the emulator's 500 samples")
            # the board has stopped sending; however long the polls go on finding nothing,
            # the board is lost only once the clock has moved past the stall timeout
            polls = source.empty_polls
            _until(lambda: source.empty_polls >= polls + 50, "50 empty polls")
            assert acq.state == "streaming" and acq.lost_for() is None
            assert [k for k, _ in events] == ["connected"]
            clock.advance(2.9)
            _until(lambda: source.empty_polls >= polls + 60, "10 more empty polls")
            assert acq.state == "streaming" and acq.lost_for() is None
            clock.advance(0.2)  # 3.1 s without a sample
            _until(lambda: any(k == "disconnected" for k, _ in events), "the disconnection")
            assert dict(events)["disconnected"] == {"reason": "no samples for 3 s"}
            assert acq.lost_for() == pytest.approx(3.1)  # since the last sample
            # the board re-opens (the emulator still answers) but sends nothing: still lost
            _until(lambda: any(k == "reconnected" for k, _ in events), "the reconnection")
            clock.advance(10.0)
            assert acq.lost_for() == pytest.approx(13.1)
            assert acq.n_samples == 500 and acq.n_dropped == 0
        finally:
            started = time.monotonic()
            acq.stop()
        assert time.monotonic() - started < acq.stop_timeout
    assert acq.state == "stopped" and not acq.is_alive


def test_a_connection_that_never_returns_is_given_up_after_the_timeout():
    clock = FakeClock()
    with CytonEmulator(trickle=True) as emu:
        source = BrainFlowSource(CYTON, connection={"serial_port": emu.port}, name="cyton")
        acq = Acquisition(source, clock=clock)
        outcome: list[BaseException | None] = []

        def start() -> None:
            try:
                acq.start()
                outcome.append(None)
            except BaseException as err:
                outcome.append(err)

        starter = threading.Thread(target=start)
        starter.start()
        # BrainFlow is inside prepare_session, reading the endless answer to "d"
        _until(lambda: "d" in emu.commands, "the driver's 'd'")
        assert acq.state == "connecting" and not outcome
        clock.advance(29.0)
        starter.join(0.5)
        assert starter.is_alive() and acq.state == "connecting"
        clock.advance(1.1)
        starter.join(DEADLINE)
        assert not starter.is_alive()
        (err,) = outcome
        assert isinstance(err, DeviceError)
        assert str(err) == (
            f"cyton (serial port {emu.port}) did not finish connecting within 30 s; "
            "switch the board off and on (or re-plug its dongle) and try again"
        )
        assert acq.state == "failed"
        started = time.monotonic()
        acq.stop()  # the driver still holds BrainFlow's lock: stop does not wait for it
        assert time.monotonic() - started < 1.0


# --- through nfb run ------------------------------------------------------------------------
def _run(emu: CytonEmulator, store: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "NFB_SESSIONS_DIR": str(store), "NFB_NO_PROGRESS": "1"}
    args = ["--device", "cyton", "--serial-port", emu.port, "--protocol", "alpha-up"]
    return subprocess.Popen(
        [sys.executable, "-m", "nfb.cli", "run", *args, "--client", "c1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _folders(store: Path) -> list[Path]:
    return sorted(p.parent for p in store.glob("*/*/session.json"))


def _no_session_folder(store: Path) -> bool:
    return not [p for p in store.glob("*/*") if p.is_dir()]


def test_nfb_run_gives_up_on_a_board_that_stays_silent(tmp_path):
    store = tmp_path / "store"
    with CytonEmulator(n_samples=1500) as emu:  # 6 s of signal, then silence
        proc = _run(emu, store, "--reconnect-timeout", "4")
        try:
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("nfb run: error: device cyton failed: no data for "), last
    assert "gave up after 4 s" in last and "samples (" in last and "s) kept" in last
    (folder,) = _folders(store)
    assert Path(out.strip().splitlines()[-1]) == folder
    rec = nfb.read_session(folder)
    assert rec.status == "failed"
    assert 0 < rec.n_samples <= 1500
    kinds = [e["kind"] for e in rec.events]
    assert "disconnected" in kinds and kinds[-1] == "stop"
    assert rec.events[-1]["reason"] == "device"


@pytest.mark.parametrize("how", ["timeout", "SIGINT", "SIGTERM"])
def test_nfb_run_on_a_connection_that_never_returns(tmp_path, how):
    """--connect-timeout ends it with one line; Ctrl-C or SIGTERM while BrainFlow is stuck
    in prepare_session ends it within seconds; no session folder either way."""
    store = tmp_path / "store"
    with CytonEmulator(trickle=True) as emu:
        extra = ("--connect-timeout", "2") if how == "timeout" else ()
        proc = _run(emu, store, *extra)
        try:
            if how != "timeout":
                _until(lambda: "d" in emu.commands or proc.poll() is not None, "the 'd'")
                assert proc.poll() is None
                proc.send_signal(getattr(signal, how))
                # within a few seconds of the signal, though the driver never returns
                out, err = proc.communicate(timeout=5)
            else:
                out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    if how == "timeout":
        assert proc.returncode == 3
        assert lines[0] == (
            f"nfb run: error: cyton (serial port {emu.port}) did not finish connecting within "
            "2 s; switch the board off and on (or re-plug its dongle) and try again"
        )
    else:
        assert proc.returncode == 130
        assert lines[0] == "nfb run: interrupted before the session started"
    assert out == ""
    assert _no_session_folder(store)
    assert json.loads((store / "clients.json").read_text())  # the index is intact
