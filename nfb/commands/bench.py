"""``nfb bench``: performance measurements (long runs; not part of the tests)."""

from __future__ import annotations

import argparse
import sys

KINDS = ("all", "lag", "selectivity", "throughput", "latency", "soak", "reward")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure lag, throughput, latency and soak against BrainFlow and MNE",
        description="Benchmarks on fixed signals, nfb beside the tools users would pick "
        "instead. `lag`: each envelope estimator's lag and correlation against a known "
        "envelope (120 s at 250 Hz, seed 0). `selectivity`: each estimator's rejection one band "
        "width from alpha, its lag, and its correlation on a realistic eyes-open signal "
        "(drift, blinks, saccades, EMG). `throughput`: replay speed of the default "
        "protocol (alpha-beta-up, a frame every 4 samples) on --minutes of --channels at "
        "250 Hz, beside BrainFlow's and MNE's band powers on 1 s windows every 100 ms. "
        "`latency`: a live synthetic-board session for --seconds; fetch -> frame ready, "
        "and with --gui the age of the newest frame when the console draws it. `soak`: "
        "a --minutes EEG file played by the file device at --speed through a recorded live "
        "session; samples lost and memory growth. `reward`: every preset's script, inhibits "
        "on, on the synthetic board's signal, synthetic EEG and the realistic signal; the "
        "reward rate of each block against the target. `all` (the default): lag, selectivity, "
        "throughput and latency, and the soak with --soak.",
    )
    p.add_argument("kind", nargs="?", default="all", choices=KINDS, help="what to measure")
    p.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"benchmark": ..., "rows": [...]} instead of a table',
    )
    p.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (for the README)"
    )
    p.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="throughput: minutes of signal (default 10); soak: session length (default 60)",
    )
    p.add_argument(
        "--channels", type=int, default=16, metavar="N", help="throughput/soak channels (16)"
    )
    p.add_argument(
        "--repeats", type=int, default=3, metavar="N", help="throughput: best of N runs (3)"
    )
    p.add_argument(
        "--seconds", type=float, default=60.0, metavar="S", help="latency: session length (60)"
    )
    gui = p.add_mutually_exclusive_group()
    gui.add_argument(
        "--gui",
        dest="gui",
        action="store_true",
        default=None,
        help="latency: also run the console offscreen (default: when PyQt6 works)",
    )
    gui.add_argument("--no-gui", dest="gui", action="store_false", help="latency: headless only")
    p.add_argument(
        "--speed",
        type=float,
        default=30.0,
        metavar="X",
        help="soak: the file device's playback speed (default 30 × real time)",
    )
    p.add_argument(
        "--soak",
        nargs="?",
        type=float,
        const=60.0,
        default=None,
        metavar="M",
        help="all: also run the soak, M minutes (default 60)",
    )
    p.set_defaults(func=run)


def _positive(args: argparse.Namespace) -> None:
    from ..errors import ConfigError

    for name in ("minutes", "seconds", "speed", "soak"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise ConfigError(f"--{name} must be > 0, got {value:g}")
    if args.soak is not None and args.kind != "all":
        raise ConfigError(f"--soak adds the soak to `all`; for `{args.kind}` drop it")
    for name in ("channels", "repeats"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(args, name)}")


def _measure(kind: str, args: argparse.Namespace, minutes: float | None):
    """Rows and notes of one benchmark."""
    if kind == "lag":
        from ..bench import lag

        return lag.run(), []
    if kind == "selectivity":
        from ..bench import selectivity

        return selectivity.run(), []
    if kind == "reward":
        from ..bench import reward

        return reward.run(), []
    if kind == "throughput":
        from ..bench import throughput

        rows = throughput.run(
            minutes=minutes if minutes is not None else 10.0,
            channels=args.channels,
            repeats=args.repeats,
        )
        return rows, []
    if kind == "latency":
        from ..bench import latency

        return latency.run(seconds=args.seconds, gui=args.gui)
    if kind == "soak":
        from ..bench import soak

        rows = soak.run(
            minutes=minutes if minutes is not None else 60.0,
            channels=args.channels,
            speed=args.speed,
        )
        return rows, []
    raise ValueError(kind)


def run(args: argparse.Namespace) -> int:
    from ..bench.report import format_table, tag, to_json

    _positive(args)
    if args.kind == "all":
        plan = [("lag", None), ("selectivity", None), ("throughput", args.minutes)]
        plan.append(("latency", None))
        if args.soak is not None:
            plan.append(("soak", args.soak))
    else:
        plan = [(args.kind, args.minutes)]
    rows: list[dict] = []
    notes: list[str] = []
    for kind, minutes in plan:
        if args.kind == "all":
            print(f"running {kind}…", file=sys.stderr, flush=True)
        got, why = _measure(kind, args, minutes)
        rows += tag(kind, got)
        notes += why
    if args.json:
        print(to_json(args.kind, rows, notes))
        return 0
    print(format_table(rows, markdown=args.markdown))
    for note in notes:
        print(f"note: {note}")
    return 0
