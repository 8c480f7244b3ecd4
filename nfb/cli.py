"""The ``nfb`` command.

Each subcommand lives in its own module under :mod:`nfb.commands` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. This module only parses, sets up
logging, and turns :class:`~nfb.errors.NfbError` into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from ._logging import set_log_level
from .errors import NfbError

#: Subcommands in the order ``nfb --help`` lists them.
COMMANDS = (
    "devices",
    "check",
    "run",
    "gui",
    "desktop-entry",
    "recover",
    "replay",
    "report",
    "export",
    "bench",
    # a course of treatment: outcome questionnaires, the plan, a demo course
    "outcome",
    "course",
    "demo-course",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nfb",
        description="Open neurofeedback workstation (supervised use; not a medical device).",
    )
    parser.add_argument("--version", action="version", version=f"nfb {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"nfb.commands.{name.replace('-', '_')}")
        module.add_parser(sub)
        # `nfb check -v ...` as well as `nfb -v check ...`
        sub.choices[name.replace("_", "-")].add_argument(
            "-v",
            "--verbose",
            action="count",
            default=argparse.SUPPRESS,
            help="log more (-v info, -vv debug)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``nfb`` command line and return its exit code."""
    try:
        parser = build_parser()  # imports SciPy, MNE, BrainFlow: a second or two
    except KeyboardInterrupt:  # Ctrl-C while starting: nothing began, nothing to say but that
        print("nfb: interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    set_log_level({0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG"))
    try:
        code = int(args.func(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # `nfb devices --json | head`: the reader has what it wanted; as other Unix tools do,
        # stop without a word (Python would print a traceback, and again at exit's flush)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # SIGPIPE's exit status
    except NfbError as err:
        print(f"nfb {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"nfb {args.command}: interrupted", file=sys.stderr)
        return 130


def gui_main() -> int:
    """The ``nfb-gui`` launcher: ``nfb gui`` with the launcher's arguments.

    On Windows a gui-script has no console: ``sys.stdout``/``sys.stderr`` are None, so they
    go to the null device and messages reach the log file only.
    """
    import os

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
