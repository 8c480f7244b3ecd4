"""``nfb course``: set or show a client's course plan and where the client is in it."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "course",
        help="set or show a client's course plan (protocol, sessions, questionnaires)",
        description="With --protocol, --sessions and --every, set the client's course plan: "
        "the protocol, the planned number of sessions and a questionnaire every N sessions "
        "(also at intake and at the end). Without them, show the plan and where the client "
        "is (e.g. 'session 7 of 20, GAD-7 due').",
    )
    p.add_argument("--client", required=True, metavar="NAME", help="client name or id")
    p.add_argument("--protocol", metavar="NAME", help="the protocol of the course (e.g. smr-up)")
    p.add_argument("--sessions", type=_int("--sessions"), metavar="N", help="planned sessions")
    p.add_argument(
        "--every", type=_int("--every"), metavar="N", help="a questionnaire every N sessions"
    )
    p.add_argument(
        "--measures",
        default="gad7",
        metavar="LIST",
        help="the questionnaires of the course: gad7, phq9 or gad7,phq9 (default gad7)",
    )
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR, else the per-user data folder)",
    )
    p.set_defaults(func=run)


def _int(arg: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a whole number is needed, got {text!r}") from None

    parse.__name__ = arg
    return parse


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..session import course
    from ..session.folders import default_sessions_dir

    root = Path(args.sessions_dir) if args.sessions_dir else default_sessions_dir()
    given = [a for a in ("protocol", "sessions", "every") if getattr(args, a) is not None]
    if given:
        missing = [f"--{a}" for a in ("protocol", "sessions", "every") if a not in given]
        if missing:
            raise ConfigError(f"a course plan needs {', '.join(missing)} too")
        plan = course.make_plan(args.protocol, args.sessions, args.every, args.measures)
        from ..session.clients import resolve_client

        client = resolve_client(args.client, root)
        course.set_plan(root, client, plan)
    else:
        from ..report.trends import resolve_client_id

        client = resolve_client_id(args.client, root)
    done = course.read_course(root, client)
    plan = done.plan
    if plan is None:
        print(f"{client}: no course plan (set one with --protocol, --sessions and --every)")
    else:
        names = ", ".join(course.QUESTIONNAIRES[k].name for k in plan.measures)
        print(
            f"{client}: {plan.sessions} sessions of {plan.protocol}, {names} every "
            f"{plan.every} sessions"
        )
    print(course.client_progress(root, client).text)
    return 0
