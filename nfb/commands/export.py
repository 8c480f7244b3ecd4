"""``nfb export``: write a recorded session as FIF, EDF or a BrainFlow file."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser(
        "export",
        help="export a recorded session to FIF, EDF or a BrainFlow file",
        description=(
            "Export a recorded session: 'fif' and 'edf' hold the EEG channels in volts with "
            "the session's annotations (steps, markers, pauses, inhibits); 'brainflow' holds "
            "all board rows for BrainFlow's playback-file board."
        ),
    )
    p.add_argument("session", metavar="SESSION", help="the session folder")
    p.add_argument(
        "--format",
        "-f",
        choices=("fif", "edf", "brainflow"),
        default=None,
        help="output format (default: from the --out extension: .fif, .edf, .csv)",
    )
    p.add_argument("--out", "-o", required=True, metavar="PATH", help="output file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``nfb export``; user errors raise :class:`~nfb.errors.NfbError`."""
    from ..session.export import export_session

    out = export_session(args.session, args.out, args.format, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0
