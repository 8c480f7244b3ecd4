"""``nfb bench``: performance measurements (long runs; not part of the tests)."""

from __future__ import annotations

import argparse
import json

KINDS = ("lag",)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure feedback lag against BrainFlow and MNE",
        description="Benchmarks on fixed signals, nfb beside the tools users "
        "would pick instead. `lag`: the lag and correlation of each envelope "
        "estimator against a known envelope (120 s at 250 Hz, seed 0).",
    )
    p.add_argument("kind", choices=KINDS, help="what to measure")
    p.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"rows": [...]} instead of a table',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import lag

    rows = lag.run()
    if args.json:
        print(json.dumps({"benchmark": args.kind, "rows": rows}))
        return 0
    print(f"{'name':<14} {'lag_ms':>7} {'corr':>6} {'corr_zero_lag':>14}")
    for r in rows:
        print(f"{r['name']:<14} {r['lag_ms']:7.0f} {r['corr']:6.3f} {r['corr_zero_lag']:14.3f}")
    return 0
