"""``make test-gui-stress``: run the GUI tests again and again and count the runs that crash.

A use-after-free in Qt shows in some runs only (issue 10: 8 of 10), so one green run proves
little. Each run is a fresh pytest process over the GUI tests (console, client window, audio,
Qt, crash log, and the open/close cycles of ``tests/test_gui_cycles.py`` with
``NFB_GUI_CYCLES`` cycles), in an order shuffled by the run's seed (printed, so that a
crashing order can be run again with ``--seed``). A run that dies of a signal, or whose log
has ``Fatal Python error``, is a crash; its log is kept in ``--logs``.

Exit status: 0 when every run passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

SELECTION = "gui or qt or window or audio or crashlog or console"
ROOT = Path(__file__).resolve().parent.parent


def collect(selection: str) -> list[str]:
    """The node ids of the GUI tests, in collection order."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-k", selection, "tests"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if "::" in line]


def verdict(returncode: int, log: str) -> str:
    """``crashed``, ``failed`` or ``passed``."""
    if returncode < 0 or returncode >= 128 or "Fatal Python error" in log:
        return "crashed"  # killed by a signal (the shell's 128+n too), or faulthandler spoke
    return "passed" if returncode == 0 else "failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="pytest runs (default 20)")
    parser.add_argument("--cycles", type=int, default=10, help="window open/close cycles per run")
    parser.add_argument("--seed", type=int, default=None, help="run only this order's seed")
    parser.add_argument("--logs", type=Path, default=ROOT / "stress-logs", help="logs of bad runs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.cycles < 1:
        parser.error("--runs and --cycles must be at least 1")
    tests = collect(SELECTION)
    env = {**os.environ, "NFB_GUI_CYCLES": str(args.cycles), "QT_QPA_PLATFORM": "offscreen"}
    seeds = [args.seed] if args.seed is not None else list(range(1, args.runs + 1))
    counts = {"passed": 0, "failed": 0, "crashed": 0}
    print(f"GUI stress: {len(seeds)} runs of {len(tests)} tests, {args.cycles} cycles each")
    for n, seed in enumerate(seeds, 1):
        order = tests[:]
        random.Random(seed).shuffle(order)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *order],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        log = proc.stdout + proc.stderr
        result = verdict(proc.returncode, log)
        counts[result] += 1
        took = time.monotonic() - started
        line = f"run {n:2d} seed {seed:3d}: {result} (exit {proc.returncode}, {took:.0f} s)"
        if result != "passed":
            args.logs.mkdir(parents=True, exist_ok=True)
            kept = args.logs / f"run-{n:02d}-seed-{seed}.log"
            kept.write_text(log)
            line += f", log in {kept}"
        print(line, flush=True)
    print(
        f"GUI stress: {len(seeds)} runs, {counts['crashed']} crashed, {counts['failed']} failed,"
        f" {counts['passed']} passed"
    )
    return 0 if counts["passed"] == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
