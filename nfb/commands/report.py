"""``nfb report``: an HTML report of a session, or of a client's trends across sessions."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report of a session or of a client's course",
        description="Write one self-contained HTML file (figures embedded, no network): for "
        "SESSION, the feature with threshold and reward, reward per block, band powers, "
        "baseline spectra, artefacts, markers, self-ratings and notes; for --client, the "
        "course report: the learning curve beside the GAD-7 / PHQ-9 outcomes, their reliable "
        "change, and the trends across all of the client's sessions. "
        "The file is private (mode 0600).",
    )
    p.add_argument("session", nargs="?", metavar="SESSION", help="the session folder")
    p.add_argument(
        "--client",
        metavar="ID",
        help="report this client's course instead (an id, or a name the store's "
        "client index knows; the report shows the id only)",
    )
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument(
        "--overwrite",
        "--force",
        dest="force",
        action="store_true",
        help="replace an existing --out file (as for nfb export)",
    )
    p.add_argument(
        "--unblind",
        action="store_true",
        help="reveal which blocks were sham (blinded sessions)",
    )
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store for --client (default $NFB_SESSIONS_DIR, else the per-user "
        "data folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..report import build_course_report, build_session_report, write_report
    from ..report.writer import check_out

    if (args.session is None) == (args.client is None):
        raise ConfigError("give exactly one of SESSION or --client ID")
    check_out(args.out, force=args.force)  # fail before the (slower) rendering
    if args.session is not None:
        html = build_session_report(args.session, unblind=args.unblind)
    else:
        html = build_course_report(args.client, args.sessions_dir, unblind=args.unblind)
    out = write_report(html, args.out, force=args.force)
    print(f"wrote {out}")
    return 0
