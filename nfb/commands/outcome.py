"""``nfb outcome``: record a client's GAD-7 / PHQ-9 answers, or list them."""

from __future__ import annotations

import argparse
import logging
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "outcome",
        help="record a client's GAD-7 / PHQ-9 answers, or list them",
        description="Record an answered GAD-7 (7 items) and/or PHQ-9 (9 items), each item 0-3 "
        "(0 not at all, 1 several days, 2 more than half the days, 3 nearly every day), "
        "dated today unless --date says otherwise; without answers, list the client's "
        "questionnaires with their totals and severity. The records stay in the store, "
        "under the client's pseudonymous id.",
    )
    p.add_argument("--client", required=True, metavar="NAME", help="client name or id")
    p.add_argument("--gad7", metavar="A,B,...", help="the seven GAD-7 answers, e.g. 3,3,2,3,2,2,3")
    p.add_argument("--phq9", metavar="A,B,...", help="the nine PHQ-9 answers, 0-3 each")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the day it was answered (default today)")
    p.add_argument("--note", metavar="TEXT", default="", help="an optional note")
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR, else the per-user data folder)",
    )
    p.set_defaults(func=run)


def _root(args: argparse.Namespace):
    from pathlib import Path

    from ..session.folders import default_sessions_dir

    return Path(args.sessions_dir) if args.sessions_dir else default_sessions_dir()


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..session import course

    root = _root(args)
    answers = [(key, getattr(args, key)) for key in ("gad7", "phq9") if getattr(args, key)]
    if not answers:
        if args.date or args.note:
            raise ConfigError("--date and --note go with --gad7 or --phq9 answers")
        return _list(args, root)
    # validate everything before anything is written or a client is created
    for key, text in answers:
        course.parse_items(text, key)
    day = course.parse_date(args.date)
    from ..session.clients import resolve_client

    client = resolve_client(args.client, root)
    for key, text in answers:
        o = course.add_outcome(root, client, key, text, day, args.note)
        print(
            f"{client} {o.date.isoformat()} {o.questionnaire.name} total {o.total} ({o.severity})"
        )
    return 0


def _list(args: argparse.Namespace, root) -> int:
    from ..report.trends import resolve_client_id
    from ..session import course

    client = resolve_client_id(args.client, root)
    done = course.read_course(root, client)
    out = sys.stdout
    if not done.outcomes:
        logging.getLogger("nfb").info("no questionnaires recorded for %s", client)
        out.write(f"{client}: no questionnaires recorded\n")
    for o in done.outcomes:
        answers = ",".join(str(v) for v in o.items)
        note = f"  {' '.join(o.note.split())}" if o.note else ""
        out.write(
            f"{o.date.isoformat()}  {o.questionnaire.name:<5}  total {o.total:>2}  "
            f"{o.severity:<17}  {answers}{note}\n"
        )
    out.write(course.client_progress(root, client).text + "\n")
    return 0
