"""``nfb replay``: score a recorded session or an EEG file offline, as fast as possible."""

from __future__ import annotations

import argparse

from ._common import add_protocol_args, add_sham_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a session or EEG file through a protocol offline",
        description="Run recorded samples through the pipeline offline. SOURCE is a session "
        "folder, an EEG file MNE reads (EDF, BDF, FIF, BrainVision) or a BrainFlow CSV. With "
        "the session's own protocol the frames equal the recorded ones bit for bit.",
    )
    p.add_argument("source", metavar="SOURCE", help="session folder, EEG file or BrainFlow CSV")
    add_protocol_args(p, required=False)
    add_sham_arg(p)
    p.add_argument(
        "--out", required=True, metavar="DIR", help="new session folder to write (must not exist)"
    )
    p.add_argument(
        "--client",
        metavar="ID",
        help="client id recorded in the output (default: the session's, or 'replay')",
    )
    p.add_argument(
        "--device", metavar="NAME", help="device profile of a BrainFlow CSV (default synthetic)"
    )
    p.add_argument(
        "--mains-hz",
        type=float,
        choices=(50.0, 60.0),
        help="mains frequency for the notch (default: the recording's, or 50)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..session.replay import replay

    out = replay(
        args.source,
        args.out,
        protocol=args.protocol,
        overrides=args.overrides,
        device=args.device,
        mains_hz=args.mains_hz,
        sham_source=args.sham_source,
        client=args.client,
    )
    print(out)
    return 0
