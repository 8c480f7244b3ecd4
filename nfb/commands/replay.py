"""``nfb replay``: score recorded sessions or EEG files offline, as fast as possible."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ._common import add_protocol_args, add_sham_arg


def add_parser(sub) -> None:
    p = sub.add_parser(
        "replay",
        help="replay sessions or EEG files through a protocol offline (a whole study at once)",
        description="Run recorded samples through the pipeline offline. A SOURCE is a session "
        "folder, an EEG file MNE reads (EDF, BDF, FIF, BrainVision) or a BrainFlow CSV. With "
        "the session's own protocol the frames equal the recorded ones bit for bit. "
        "Several sources, a glob (quoted) or a folder of sessions make a batch: each source is "
        "replayed into OUT/<client>/<session>, in parallel with --jobs or on a Dask cluster "
        "with --dask, and one summary CSV has a row per session and per block.",
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        nargs="+",
        help="session folder, folder of sessions, EEG file, BrainFlow CSV or glob pattern",
    )
    add_protocol_args(p, required=False)
    add_sham_arg(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="new folder to write (must not exist): the session, or for a batch the store "
        "that receives one session per source",
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
    batch = p.add_argument_group("batch (several sources)")
    batch.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="replay N sources at a time in local processes (-1: one per core); default 1",
    )
    batch.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the replays on a Dask cluster: its scheduler's address, e.g. tcp://host:8786 "
        "(needs pip install 'nfb[dask]')",
    )
    batch.add_argument(
        "--summary", metavar="CSV", help="where to write the summary (default OUT/summary.csv)"
    )
    batch.add_argument(
        "--unblind", action="store_true", help="say in the summary which blocks were sham"
    )
    p.set_defaults(func=run)


def _is_batch(args: argparse.Namespace) -> bool:
    if len(args.source) > 1 or args.jobs != 1 or args.dask or args.summary:
        return True
    only = Path(args.source[0]).expanduser()
    if re.search(r"[*?\[]", args.source[0]):
        return True
    return only.is_dir() and not (only / "session.json").is_file()


def run(args: argparse.Namespace) -> int:
    options = {
        "protocol": args.protocol,
        "overrides": args.overrides,
        "device": args.device,
        "mains_hz": args.mains_hz,
        "sham_source": args.sham_source,
        "client": args.client,
    }
    if not _is_batch(args):
        from ..session.replay import replay

        if args.unblind:
            from ..errors import ConfigError

            raise ConfigError("--unblind only applies to the summary of a batch replay")
        print(replay(args.source[0], args.out, **options))
        return 0

    from ..session.batch import run_batch

    if args.dask:
        try:
            import distributed  # noqa: F401
        except ImportError:
            from ..errors import ConfigError

            raise ConfigError("--dask needs dask.distributed: pip install 'nfb[dask]'") from None
    summary, rows = run_batch(
        args.source,
        args.out,
        jobs=args.jobs,
        scheduler=args.dask,
        summary=args.summary,
        unblind=args.unblind,
        **options,
    )
    failed = [r for r in rows if r["status"] == "error"]
    sessions = sum(1 for r in rows if r["level"] == "session")
    print(summary)
    if failed:
        print(
            f"nfb replay: {len(failed)} of {sessions} sources failed; see the error column of "
            f"{summary}",
            file=sys.stderr,
        )
        return 1
    return 0
