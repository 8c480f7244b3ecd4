"""Every way a user stops ``nfb run`` is one clean stop: Ctrl-C, SIGTERM, Ctrl-Break
(``SIGBREAK``, Windows; here on a simulated Windows, where it is an alias of SIGUSR1) and a
closing console window (Windows' console control handler, here a stand-in of its API with a
real ctypes callback). Each leaves a finalised session and the board released; the console
handler returns only once the session is closed, since Windows ends the process then."""

from __future__ import annotations

import ctypes
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

import nfb
from nfb import stopping
from nfb.stopping import CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CleanStop

#: A guard against hangs only.
DEADLINE = 60.0
SFREQ = 250.0
RUN = ["run", "--device", "synthetic", "--protocol", "alpha-beta-up", "--client", "c1"]


# --- the handler table ----------------------------------------------------------------------
def test_the_stop_signals_and_their_handlers(monkeypatch):
    expected = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGBREAK"):  # Windows (and the simulation of it)
        expected.append(signal.SIGBREAK)
    assert stopping.stop_signals() == expected
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    assert stopping.stop_signals()[-1] == signal.SIGUSR1
    before = {s: signal.getsignal(s) for s in stopping.stop_signals()}
    with CleanStop(console_api=_fake_api([])) as stop:
        for sig in stopping.stop_signals():
            handler = signal.getsignal(sig)
            assert callable(handler) and handler is not before[sig]
            with pytest.raises(KeyboardInterrupt):
                handler(sig, None)
        with stop.shield():
            assert all(signal.getsignal(s) is signal.SIG_IGN for s in stopping.stop_signals())
    assert {s: signal.getsignal(s) for s in stopping.stop_signals()} == before


def _fake_api(handlers: list):
    def set_handler(handler, add):
        if add:
            handlers.append(handler)
        else:
            handlers.remove(handler)
        return 1

    return set_handler, ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_ulong)


def test_a_closing_console_interrupts_and_waits_for_the_clean_up():
    handlers: list = []
    returned: list[int] = []
    order: list[str] = []
    with CleanStop(console_api=_fake_api(handlers)) as stop:
        (handler,) = handlers
        # Ctrl-C and Ctrl-Break go on to Python's own handler (SIGINT, SIGBREAK)
        assert handler(CTRL_C_EVENT) == 0 and handler(CTRL_BREAK_EVENT) == 0
        assert not stop.console_closed
        closer = threading.Thread(target=lambda: returned.append(handler(CTRL_CLOSE_EVENT)))
        with pytest.raises(KeyboardInterrupt):
            closer.start()
            end = time.monotonic() + DEADLINE
            while time.monotonic() < end:  # the work the console interrupts
                time.sleep(0.01)
        assert stop.console_closed
        with stop.shield():
            closer.join(0.3)
            assert closer.is_alive() and not returned  # still waiting for the clean-up
            order.append("cleaned up")
    closer.join(DEADLINE)
    assert returned == [1] and order == ["cleaned up"]
    assert handlers == []  # unregistered


# --- nfb run ------------------------------------------------------------------------------
def _sim_env(platform: str) -> dict[str, str]:
    path = os.pathsep.join(
        [
            str(ROOT / "tests" / "simplatform_site"),
            str(ROOT / "tests"),
            os.environ.get("PYTHONPATH", ""),
        ]
    )
    return {"NFB_SIMULATE_PLATFORM": platform, "PYTHONPATH": path}


def _start(cmd: list[str], store: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    full = {**os.environ, "NFB_SESSIONS_DIR": str(store), "NFB_NO_PROGRESS": "1", **(env or {})}
    full.pop("PYTEST_ADDOPTS", None)
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full, cwd=ROOT, **kw
    )


def _samples_on_disk(store: Path) -> int:
    found = list(store.glob("*/*/raw.f64"))
    return found[0].stat().st_size // (33 * 8) if found else 0  # 32 board rows + fetch_time


def _wait_for_a_second_of_signal(proc: subprocess.Popen, store: Path) -> None:
    end = time.monotonic() + DEADLINE
    while _samples_on_disk(store) < SFREQ:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "no signal recorded"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGBREAK"])
def test_nfb_run_stops_cleanly_on_each_signal(tmp_path, how):
    store = tmp_path / "store"
    env = None
    sig = getattr(signal, how, None)
    if how == "SIGBREAK" and sig is None:
        env, sig = _sim_env("windows"), signal.SIGUSR1  # Windows' SIGBREAK, simulated
    proc = _start([sys.executable, "-m", "nfb.cli", *RUN], store, env)
    try:
        _wait_for_a_second_of_signal(proc, store)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)  # within a few seconds of the signal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    folder = Path(out.strip().splitlines()[-1])
    rec = nfb.read_session(folder)
    assert rec.status == "stopped"
    assert rec.n_samples >= SFREQ
    assert rec.events[-1]["kind"] == "stop" and rec.events[-1]["reason"] == "interrupted"
    assert f"session stopped: {rec.n_samples} samples" in err


def test_closing_the_console_stops_nfb_run_before_windows_ends_it(tmp_path):
    store = tmp_path / "store"
    result = tmp_path / "result.json"
    cmd = [sys.executable, str(ROOT / "tests" / "console_close.py"), str(result), *RUN]
    proc = _start(cmd, store, stdin=subprocess.PIPE)
    try:
        _wait_for_a_second_of_signal(proc, store)
        _, err = proc.communicate("close\n", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 58, err  # ended as Windows ends it, right after the handler
    assert "Traceback" not in err
    got = json.loads(result.read_text())
    # the handler returned only once the session was closed: finalised, nothing lost
    assert got["returned"] == 1 and got["statuses"] == ["stopped"], got
    assert got["took_s"] < stopping.CONSOLE_CLOSE_WAIT_S
    (folder,) = [p.parent for p in store.glob("*/*/session.json")]
    rec = nfb.read_session(folder)
    assert rec.n_samples >= SFREQ and rec.events[-1]["reason"] == "interrupted"
