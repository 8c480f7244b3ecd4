"""``nfb recover``: finalise sessions whose recording was interrupted (killed, crashed)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recover",
        help="finalise interrupted sessions (the app was killed or crashed)",
        description="Finalise the sessions of the store whose recorder died (killed, crashed, "
        "power cut), or the named ones: a partial last record is dropped, the sample and "
        "frame counts and the end time are set, and the status becomes 'recovered'. A "
        "session still being recorded is left alone. `nfb run` and `nfb gui` do this for "
        "the store at start. Prints one line per session: folder, status, samples.",
    )
    p.add_argument(
        "session",
        nargs="*",
        metavar="SESSION",
        help="session folders to recover (default: every interrupted session of the store)",
    )
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR, else the per-user data folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..session.folders import default_sessions_dir
    from ..session.store import recover_store

    results = recover_store(args.sessions_dir, args.session or None, log=False)
    if not results:
        where = args.sessions_dir or default_sessions_dir()
        print(f"nfb recover: no interrupted sessions in {where}", file=sys.stderr)
        return 0
    failed = 0
    for r in results:
        if r.status == "error":
            failed += 1
            print(f"nfb recover: error: {r.error}", file=sys.stderr)
            continue
        note = " (still being recorded; left alone)" if r.status == "live" else ""
        print(f"{r.path}  {r.status}  {r.n_samples} samples ({r.duration_s:.1f} s){note}")
    return 4 if failed else 0
