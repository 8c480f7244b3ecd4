"""A board dropping out mid-session: BrainFlow's real Cyton driver on an emulated Cyton.

The emulated board falls silent in the middle of a training block (battery out, out of radio
range) and comes back: the session shows the disconnection, keeps every sample received,
reconnects, marks the gap (``BAD_disconnect``), withholds feedback until the filters have
settled, and finishes the block.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cyton_emulator import CytonEmulator

import nfb

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SFREQ = 250.0
SCRIPT = [
    "script.baseline_eyes_open=0",  # the threshold then comes from the block itself
    "script.baseline_eyes_closed=0",
    "script.blocks=1",
    "script.block_min=0.2",  # 12 s
    "signal.channels=O1",
]
DEADLINE = 60.0


def _wait(predicate, what: str, proc: subprocess.Popen):
    """Poll until ``predicate()`` is true; the deadline only guards against a hang."""
    end = time.monotonic() + DEADLINE
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"nfb run exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _session(store: Path) -> Path | None:
    found = sorted(store.glob("*/*/session.json"))
    return found[0].parent if found else None


def _n_samples(folder: Path) -> int:
    meta = json.loads((folder / "session.json").read_text())
    return (folder / "raw.f64").stat().st_size // (8 * len(meta["raw"]["columns"]))


def _events(folder: Path) -> list[dict]:
    out = []
    for line in (folder / "events.jsonl").read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line being written
            out.append(json.loads(line))
    return out


def test_cyton_drops_out_mid_block_and_the_session_carries_on(tmp_path):
    store = tmp_path / "store"
    with CytonEmulator() as emu:
        env = {**os.environ, "NFB_SESSIONS_DIR": str(store), "NFB_NO_PROGRESS": "1"}
        args = ["--device", "cyton", "--serial-port", emu.port, "--protocol", "alpha-up"]
        args += ["--client", "c1", *[x for s in SCRIPT for x in ("--set", s)]]
        proc = subprocess.Popen(
            [sys.executable, "-m", "nfb.cli", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            _wait(lambda: _session(store) is not None, "the session folder", proc)
            folder = _session(store)
            # power off 4 s into the block: counted in samples received
            _wait(lambda: _n_samples(folder) >= 4 * SFREQ, "4 s of signal", proc)
            n_off = emu.power_off()
            _wait(lambda: any(e["kind"] == "disconnected" for e in _events(folder)),
                  "the disconnection", proc)  # fmt: skip
            # the board stays off while nfb tries at least once to reopen it
            _wait(lambda: any(e["kind"] == "reconnecting" and e["attempt"] >= 2
                              for e in _events(folder)), "a failed reconnection", proc)  # fmt: skip
            emu.power_on()
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert Path(out.strip().splitlines()[-1]) == folder
    # the console line showed the outage, and the log said when the board came back
    assert "[disconnected]" in err or "[reconnecting]" in err, err
    assert "board back after" in err

    rec = nfb.read_session(folder)
    assert rec.status == "complete"
    # every sample received is kept, in order: the counter runs on without a jump (the
    # session starts with the samples that follow the connection's first few)
    counter = rec.samples[0].astype(int)
    np.testing.assert_array_equal(np.diff(counter) % 256, 1)
    assert rec.meta["dropped_samples"] == 0

    kinds = [e["kind"] for e in rec.events]
    at = {k: next(e for e in rec.events if e["kind"] == k) for k in
          ("disconnected", "reconnected", "gap")}  # fmt: skip
    assert kinds.index("disconnected") < kinds.index("reconnected") < kinds.index("gap")
    offset = n_off - at["disconnected"]["sample_index"]  # emulator samples before the session
    assert 0 <= offset < 256 and offset % 256 == counter[0]
    n_off -= offset
    assert rec.n_samples > n_off + 6 * SFREQ
    assert at["reconnected"]["outage_s"] > 1.0
    # the block went on after the outage and lasted its full 12 s of signal
    (block,) = rec.meta["blocks"]
    assert block["start_sample"] < n_off < block["end_sample"]
    assert block["end_sample"] - block["start_sample"] == pytest.approx(12 * SFREQ, abs=8)

    # the gap is marked in the recording
    ann = rec.raw.annotations
    bad = [i for i, d in enumerate(ann.description) if d == "BAD_disconnect"]
    assert len(bad) == 1
    assert ann.onset[bad[0]] == pytest.approx(n_off / SFREQ, abs=1 / SFREQ)
    # it lasts as long as the board was silent (the board's timestamps tell), and the
    # Raw holds that many missing samples more than were received
    (gap,) = rec.gaps
    assert gap.clock == "timestamp"
    assert ann.duration[bad[0]] == pytest.approx(gap.missing / SFREQ, abs=1e-6)
    assert gap.missing / SFREQ > at["reconnected"]["outage_s"] - 0.5 > 0.5
    assert rec.raw.n_times == rec.n_samples + gap.missing

    # no feedback until the filters have settled on the new signal
    f = rec.frames
    gap = at["gap"]["sample_index"]
    settling = (f["sample_index"] >= gap) & (f["sample_index"] < gap + SFREQ)
    assert settling.sum() > 0
    assert f["inhibit_invalid"][settling].all() and not f["reward"][settling].any()
    # frames carry on after that
    assert (f["sample_index"] > gap + 2 * SFREQ).sum() > 100
