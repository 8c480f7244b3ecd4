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


def _feature_file(feature: str):
    """A protocol file (the alpha-beta-up preset) whose feature is ``feature``."""

    def make(tmp_path):
        from nfb.protocol import protocols_dir

        text = (protocols_dir() / "alpha-beta-up.toml").read_text()
        path = tmp_path / "feature.toml"
        path.write_text(text.replace('feature = "alpha / beta"', f"feature = {feature!r}"))
        return path

    return make


TERMS_20K = "+".join(["alpha"] * 20_000)
DEEP_200 = "(" * 200 + "alpha" + ")" * 200
FEATURE = "feature.toml: feedback.feature: "
CASES = {
    "feature of 20000 terms in a file": (
        ["--protocol", _feature_file(TERMS_20K)],
        FEATURE + "the expression has 119999 characters; at most 500",
    ),
    "feature of 20000 terms in --set": (
        ["--protocol", "alpha-beta-up", "--set", "feedback.feature=" + TERMS_20K],
        "--set feedback.feature: the value is longer than 10000 characters",
    ),
    "feature of 80 terms in --set": (
        ["--protocol", "alpha-beta-up", "--set", "feedback.feature=" + "+".join(["beta"] * 80)],
        "feedback.feature: 'beta+beta+",
    ),
    "feature nested in a file": (
        ["--protocol", _feature_file("(" * 5000 + "alpha" + ")" * 5000)],
        FEATURE + "the expression has 10005 characters; at most 500",
    ),
    "feature nested in --set": (
        ["--protocol", "alpha-beta-up", "--set", f'feedback.feature="{DEEP_200}"'],
        "nests parentheses 200 deep; at most 16 levels of parentheses, functions and signs",
    ),
    "feature of nested signs and functions": (
        ["--protocol", _feature_file("-" * 400 + "ln(" * 20 + "alpha" + ")" * 20)],
        FEATURE + "'----",
    ),
    "feature divides by a difference": (
        ["--protocol", _feature_file("alpha/(beta-beta)")],
        FEATURE + "'alpha/(beta-beta)' divides by zero: 'beta - beta' is always 0",
    ),
    "feature divides by 0": (
        ["--protocol", "alpha-beta-up", "--set", "feedback.feature=alpha/0"],
        "feedback.feature: 'alpha/0' divides by zero: '0' is always 0",
    ),
    "feature divides by a constant zero": (
        ["--protocol", "alpha-beta-up", "--set", "feedback.feature=theta/(2*alpha - alpha*2)"],
        "divides by zero: '2 * alpha - alpha * 2' is always 0",
    ),
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
