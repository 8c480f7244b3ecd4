"""How benchmark rows are printed: a table (text or Markdown), or one JSON object.

Every benchmark returns a list of row dicts (``name`` first, then its figures). A table shows
the figures of :data:`COLUMNS` that its rows have, blank where a row has none; the JSON object
carries every key of every row.
"""

from __future__ import annotations

import json
import math

#: Table columns, in order: (key, header, format). Only those some row has are shown.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("benchmark", "benchmark", "s"),
    ("name", "name", "s"),
    ("reject_db", "reject_db", ".1f"),
    ("lag_ms", "lag_ms", ".0f"),
    ("corr", "corr", ".3f"),
    ("corr_zero_lag", "corr_zero_lag", ".3f"),
    ("real_corr", "real_corr", ".3f"),
    ("real_lag_ms", "real_lag_ms", ".0f"),
    ("real_corr_truth", "real_corr_truth", ".3f"),
    ("realtime_factor", "realtime_factor", ".0f"),
    ("ratio_vs_brainflow", "vs_brainflow", ".1f"),
    ("ratio_vs_mne", "vs_mne", ".1f"),
    ("ratio_vs_brainflow_1ch", "vs_brainflow_1ch", ".1f"),
    ("p50_ms", "p50_ms", ".2f"),
    ("p95_ms", "p95_ms", ".2f"),
    ("p99_ms", "p99_ms", ".2f"),
    ("max_ms", "max_ms", ".1f"),
    ("n_frames", "n_frames", "d"),
    ("n_draws", "n_draws", "d"),
    ("draws_per_s", "draws_per_s", ".1f"),
    ("refresh_p50_ms", "refresh_p50_ms", ".2f"),
    ("samples_lost", "samples_lost", "d"),
    ("dropped", "dropped", "d"),
    ("rss_growth_mb", "rss_growth_mb", ".1f"),
    ("frames", "frames", "d"),
    ("frames_expected", "frames_expected", "d"),
    ("speed", "speed", ".0f"),
    ("wall_s", "wall_s", ".3g"),
    ("signal", "signal", "s"),
    ("target", "target", ".2f"),
    ("per_block", "reward_per_block", "s"),
    ("inhibited", "inhibited_per_block", "s"),
    ("ceiling_min", "ceiling_min", ".2f"),
    ("holding", "holding", "s"),
    ("verdict", "verdict", "s"),
)


def _cell(value, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan"
    if fmt == "s":
        return str(value)
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def format_table(rows: list[dict], *, markdown: bool = False) -> str:
    """The rows as an aligned text table (or a Markdown one), with the columns they have.

    Rows of several benchmarks (a ``benchmark`` key) become one table per benchmark, each
    with its own columns, separated by a blank line."""
    groups: dict[str | None, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("benchmark"), []).append(r)
    several = len(groups) > 1
    return "\n\n".join(
        _table(group, with_benchmark=several, markdown=markdown) for group in groups.values()
    )


def _table(rows: list[dict], *, with_benchmark: bool, markdown: bool) -> str:
    cols = [
        c
        for c in COLUMNS
        if any(r.get(c[0]) is not None for r in rows) and (c[0] != "benchmark" or with_benchmark)
    ]
    header = [h for _, h, _ in cols]
    cells = [[_cell(r.get(key), fmt) for key, _, fmt in cols] for r in rows]
    if markdown:
        rule = ["---" if fmt == "s" else "---:" for _, _, fmt in cols]
        return "\n".join("| " + " | ".join(line) + " |" for line in [header, rule, *cells])
    widths = [max([len(h), *(len(row[j]) for row in cells)]) for j, h in enumerate(header)]
    lines = []
    for line in [header, *cells]:
        lines.append(
            "  ".join(
                c.ljust(w) if fmt == "s" else c.rjust(w)
                for c, (_, _, fmt), w in zip(line, cols, widths, strict=True)
            ).rstrip()
        )
    return "\n".join(lines)


def _finite(value):
    """JSON has no NaN/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def tag(benchmark: str, rows: list[dict]) -> list[dict]:
    """The rows with their benchmark's name as a ``benchmark`` key (after ``name``)."""
    return [{"name": r["name"], "benchmark": benchmark, **r} for r in rows]


def to_json(benchmark: str, rows: list[dict], notes: list[str] | None = None) -> str:
    """One JSON object: ``{"benchmark": ..., "rows": [...], "notes": [...]}``."""
    out = {"benchmark": benchmark, "rows": _finite(rows)}
    if notes:
        out["notes"] = list(notes)
    return json.dumps(out, allow_nan=False)
