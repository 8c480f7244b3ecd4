"""``nfb demo-course``: a synthetic course of treatment in a store, and its course report."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo-course",
        help="build a synthetic course (12 sessions, questionnaires) and its course report",
        description="Write a demonstration course into the store: the client 'demo course' "
        "(under a pseudonymous id), an alpha-up plan, generated EEG sessions scored by the "
        "real engine over six weeks, and invented GAD-7 / PHQ-9 answers at intake, every "
        "--every sessions and at the end; then the course report (--out). Demonstration "
        "data, not a client's.",
    )
    p.add_argument(
        "--sessions-dir", required=True, metavar="DIR", help="the store to write (a new folder)"
    )
    p.add_argument("--sessions", type=int, default=12, metavar="N", help="sessions (default 12)")
    p.add_argument("--every", type=int, default=4, metavar="N", help="questionnaires every N")
    p.add_argument("--out", "-o", metavar="FILE", help="write the course report here too")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..course_demo import build_demo_course
    from ..errors import ConfigError

    root = Path(args.sessions_dir)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"--sessions-dir {root}: not empty; the demo writes a new store")
    if not 2 <= args.sessions <= 40:
        raise ConfigError(f"--sessions: 2-40 sessions, got {args.sessions}")
    if not 1 <= args.every <= args.sessions:
        raise ConfigError(f"--every: 1-{args.sessions}, got {args.every}")
    if args.out:
        from ..report.writer import check_out

        check_out(args.out)
    demo = build_demo_course(root, sessions=args.sessions, every=args.every)
    print(f"{len(demo.sessions)} sessions and {demo.outcomes} questionnaires of {demo.client}")
    if args.out:
        from ..report.course import build_course_report
        from ..report.writer import write_report

        out = write_report(build_course_report(demo.client, root), args.out)
        print(f"wrote {out}")
    return 0
