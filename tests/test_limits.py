"""What a user types, at its limits: one line naming the argument and a non-zero exit, never
a traceback, a hang, or an empty session folder left behind."""

from __future__ import annotations

import os

import pytest
from conftest import nfb_cli

RUN = ["run", "--device", "synthetic", "--client", "x"]


def _fifo(tmp_path):
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


def _deep_toml(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "\n")
    return path


CASES = {
    "protocol /dev/zero": (
        ["--protocol", "/dev/zero"],
        "nfb run: error: /dev/zero: cannot read: a device, not a regular file",
    ),
    "protocol FIFO": (
        ["--protocol", _fifo],
        "cannot read: a FIFO, not a regular file",
    ),
    "protocol nested": (["--protocol", _deep_toml], "malformed TOML: nested too deeply"),
    "file /dev/zero": (
        ["--protocol", "alpha-beta-up", "--device", "brainflow-file", "--file", "/dev/zero"],
        "nfb run: error: --file: '/dev/zero' is a device, expected a file",
    ),
    "set nested": (
        ["--protocol", "alpha-beta-up", "--set", "reward.target_rate=" + "[" * 900],
        "nfb run: error: --set reward.target_rate: the value is nested too deeply",
    ),
    "set huge": (
        ["--protocol", "alpha-beta-up", "--set", "notes=" + "x" * 20_000],
        "nfb run: error: --set notes: the value is longer than 10000 characters",
    ),
    "set not UTF-8": (
        ["--protocol", "alpha-beta-up", "--set", os.fsdecode(b"notes=\xff\xfe")],
        "nfb run: error: --set notes:",
    ),
    "duration 1e308": (
        ["--protocol", "alpha-beta-up", "--duration", "1e308"],
        "nfb run: error: --duration must be seconds from 1 to 86400 (a day), got 1e+308",
    ),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need POSIX")
@pytest.mark.parametrize("case", sorted(CASES))
def test_run_refuses_with_one_line(tmp_path, case):
    args, expected = CASES[case]
    args = [a(tmp_path) if callable(a) else a for a in args]
    store = tmp_path / "store"
    # the --device of a case comes last: argparse takes the last one
    proc = nfb_cli(*RUN, "--sessions-dir", store, *args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("nfb run: error: ") and expected in lines[0], lines
    # nothing made: no session folder (an empty one used to be left by a bad --set)
    folders = [p for p in store.rglob("*") if p.is_dir()] if store.exists() else []
    assert folders == []
