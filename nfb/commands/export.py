"""``nfb export``: write a recorded session as FIF, EDF, a BrainFlow file or into BIDS."""

from __future__ import annotations

import argparse

from ..session.export import FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser(
        "export",
        help="export a recorded session to FIF, EDF, a BrainFlow file or a BIDS dataset",
        description=(
            "Export a recorded session: 'fif' and 'edf' hold the EEG channels in volts with "
            "the session's annotations (steps, markers, pauses, inhibits); 'brainflow' holds "
            "all board rows for BrainFlow's playback-file board; 'bids' adds the session to "
            "the BIDS dataset at --out (sub-<client>/ses-<start>/eeg, task-<protocol>) with "
            "its frames and events in derivatives/nfb."
        ),
    )
    p.add_argument("session", metavar="SESSION", help="the session folder")
    p.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default=None,
        help="output format (default: from the --out extension: .fif, .edf, .csv; "
        "bids must be named)",
    )
    p.add_argument(
        "--out", "-o", required=True, metavar="PATH", help="output file (bids: dataset folder)"
    )
    p.add_argument(
        "--bids-data",
        choices=("EDF", "BDF"),
        default=None,
        help="EEG file format inside a BIDS export: EDF (16-bit, default) or BDF (24-bit)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output file (bids: this session in the dataset)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``nfb export``; user errors raise :class:`~nfb.errors.NfbError`."""
    if args.format == "bids":
        from ..session.bids import export_bids

        done = export_bids(
            args.session, args.out, overwrite=args.overwrite, data_format=args.bids_data or "EDF"
        )
        for path in (done.eeg_file, done.frames_file, done.events_file):
            print(f"wrote {path}")
        return 0
    if args.bids_data is not None:
        from ..errors import ConfigError

        raise ConfigError("--bids-data applies to --format bids only")
    from ..session.export import export_session

    out = export_session(args.session, args.out, args.format, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0
