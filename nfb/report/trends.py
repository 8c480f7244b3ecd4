"""A client's trends across sessions: ``nfb report --client ID --out trends.html``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._logging import logger
from ..errors import SessionError
from ..session.clients import validate_client
from ..session.folders import default_sessions_dir
from ..session.store import list_sessions, read_session
from . import figures, metrics
from .html import esc, fmt, img, missing, note, page, section, table

#: Bands shown in the baseline trends (delta and gamma are mostly drift and muscle).
TREND_BANDS = ("theta", "alpha", "smr", "beta", "high_beta")
BLINDED_NOTE = "Some sessions contain blinded blocks; pass --unblind to reveal them."


@dataclass
class ClientTrends:
    """What the trends report shows.

    Attributes
    ----------
    client : str
        The client id.
    sessions : list of dict
        :func:`~nfb.report.metrics.session_metrics` of each readable session, oldest first,
        plus ``label`` (its start, ``YYYY-mm-dd HH:MM``).
    blocks : list of list of dict
        :func:`~nfb.report.metrics.block_metrics` of each of those sessions.
    skipped : list of (str, str)
        ``(session_id, why)`` of the sessions left out (still recording, unreadable).
    """

    client: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[list[dict[str, Any]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _label(start_time: str) -> str:
    try:
        when = datetime.fromisoformat(start_time)
    except (TypeError, ValueError):
        return start_time or "?"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def resolve_client_id(client: str, root: Path) -> str:
    """The folder id of a client given by id or by name (the store's ``clients.json``).

    Read-only: unlike the console, a report never adds a name to the index.

    Raises
    ------
    SessionError
        If the store does not exist, the index is corrupted, or the text is neither a known
        name nor a valid id.
    """
    from ..session.clients import ClientIndex

    if not root.is_dir():
        raise SessionError(f"no session store at {root}")
    found = ClientIndex(root).find(str(client))
    if found is not None:
        return found
    try:
        return validate_client(client)
    except SessionError:
        raise SessionError(
            f"no client {client!r} in {root}: neither a name in its client index nor a client id"
        ) from None


def client_trends(
    client: str, sessions_dir: str | os.PathLike | None = None, *, unblind: bool = False
) -> ClientTrends:
    """Collect the metrics of all of a client's sessions.

    Parameters
    ----------
    client : str
        The client id, or a name the store's client index knows (the report then shows the
        pseudonymous id only).
    sessions_dir : path-like | None
        The session store (default ``$NFB_SESSIONS_DIR``, else the per-user data folder).
    unblind : bool
        Add ``sham`` to the block metrics of blinded sessions.

    Returns
    -------
    trends : ClientTrends

    Raises
    ------
    SessionError
        If the client id is invalid or the client has no session in the store.
    """
    root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
    client_id = resolve_client_id(client, root)
    listed = list_sessions(root, client=client_id)
    if not listed:
        raise SessionError(f"no sessions of client {client!r} in {root}")
    out = ClientTrends(client_id)
    for item in listed:
        sid = str(item["session_id"])
        if item["status"] == "recording":
            out.skipped.append((sid, "still being recorded"))
            continue
        try:
            rec = read_session(item["path"])
            row = metrics.session_metrics(rec)
            blocks = metrics.block_metrics(rec, unblind=unblind)
        except (SessionError, OSError, ValueError, KeyError, TypeError, IndexError) as err:
            # one broken folder must not hide the client's other sessions
            logger.warning("trends: skipping %s: %s", item["path"], err)
            out.skipped.append((sid, f"cannot be read: {err}"))
            continue
        row["label"] = _label(row["start_time"])
        row["feature"], row["feature_unit"] = metrics.feature_axis(rec.meta)
        row["protocol_slug"] = str(rec.meta.get("protocol_slug") or "")
        row["baseline_mean"] = metrics.baseline_feature_mean(rec)
        out.sessions.append(row)
        out.blocks.append(blocks)
    return out


def trend_series(trends: ClientTrends) -> dict[str, dict[str, list[float | None]]]:
    """The series of the trend charts, one value per session (``None`` where missing).

    Parameters
    ----------
    trends : ClientTrends
        From :func:`client_trends`.

    Returns
    -------
    series : dict
        Chart name to ``{series label: values}``, every list as long as
        ``trends.sessions``: ``reward`` (``reward %``), ``block_reward`` (``block <k>``),
        ``feature`` (one series per protocol: features of different protocols are not
        comparable), ``block_feature`` (``block <k>``), ``eyes_open_power`` and
        ``eyes_closed_power`` (µV² per band of :data:`TREND_BANDS`) and ``anxiety``
        (``before``, ``after``).
    """
    sessions = trends.sessions
    out: dict[str, dict[str, list[float | None]]] = {
        "reward": {"reward %": [s["reward_pct"] for s in sessions]},
    }
    out["block_reward"] = _block_series(trends, "reward_pct")
    protocols = list(dict.fromkeys(s["protocol"] for s in sessions))
    # a feature is a protocol's own: never one line through the sessions of two protocols
    out["block_feature"] = {}
    for p in protocols:
        prefix = f"{p} · " if len(protocols) > 1 else ""
        for name, values in _block_series(trends, "feature_mean", p).items():
            out["block_feature"][prefix + name] = values
    out["feature"] = {
        p: [s["feature_mean"] if s["protocol"] == p else None for s in sessions] for p in protocols
    }
    for cond in ("eyes_open", "eyes_closed"):
        out[f"{cond}_power"] = {
            band.replace("_", " "): [s.get(f"{cond}_{band}_uv2") for s in sessions]
            for band in TREND_BANDS
        }
    out["anxiety"] = {
        "before": [s["anxiety_before"] for s in sessions],
        "after": [s["anxiety_after"] for s in sessions],
    }
    return out


def _block_series(
    trends: ClientTrends, key: str, protocol: str | None = None
) -> dict[str, list[float | None]]:
    """``block <k>``: a block metric per session (of ``protocol`` only, if given)."""
    mine = [protocol is None or s["protocol"] == protocol for s in trends.sessions]
    n_blocks = max((len(b) for b, m in zip(trends.blocks, mine, strict=True) if m), default=0)
    return {
        f"block {k + 1}": [
            blocks[k][key] if m and k < len(blocks) else None
            for blocks, m in zip(trends.blocks, mine, strict=True)
        ]
        for k in range(n_blocks)
    }


@dataclass(frozen=True)
class FeatureAxis:
    """The protocols whose feature shares one axis: the same expression, the same unit."""

    feature: str
    unit: str
    protocols: tuple[str, ...]


def feature_axes(trends: ClientTrends) -> list[FeatureAxis]:
    """One axis per feature and unit (SMR in µV and theta/alpha as a ratio are two), in the
    order the client's sessions first used them."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in trends.sessions:
        protocols = groups.setdefault((s["feature"], s["feature_unit"]), [])
        if s["protocol"] not in protocols:
            protocols.append(s["protocol"])
    return [FeatureAxis(f, u, tuple(p)) for (f, u), p in groups.items()]


def _feature_chart(
    ident: str, title: str, labels: list[str], axes: list[tuple[FeatureAxis, dict]]
) -> str:
    """A chart with one axis per feature (:func:`feature_axes`)."""
    panels = [
        figures.TrendPanel(
            series,
            ylabel=axis.unit,
            title=axis.feature + (f" · {axis.protocols[0]}" if len(axis.protocols) == 1 else ""),
        )
        for axis, series in axes
        if any(figures.series_points(v) for v in series.values())
    ]
    if not panels:
        return section(ident, title, missing(f"No session has {title.lower()}."))
    png = figures.trend_panels_figure(labels, panels, join_gaps=True)
    return section(ident, title, img(png, title))


def _chart(
    ident: str,
    title: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    *,
    ylabel: str,
    **kwargs: Any,
) -> str:
    if not any(figures.series_points(v) for v in series.values()):
        return section(ident, title, missing(f"No session has {title.lower()}."))
    png = figures.trend_figure(labels, series, ylabel=ylabel, **kwargs)
    return section(ident, title, img(png, title))


def _sessions_table(trends: ClientTrends) -> str:
    protocols = {s["protocol"] for s in trends.sessions}
    with_protocol = len(protocols) > 1  # else the overview names it once
    headers = [
        "Date",
        *(["Protocol"] if with_protocol else []),
        "Status",
        "Min",
        "Blocks",
        "Reward %",
        "Feature",
        "EO alpha",
        "EC alpha",
        "Anxiety before",
        "after",
    ]
    rows, attrs = [], []
    for s in trends.sessions:
        rows.append(
            [
                f'<span title="{esc(s["session_id"])}">{esc(s["label"])}</span>',
                *([esc(s["protocol"])] if with_protocol else []),
                esc(s["status"]),
                fmt(s["duration_s"] / 60.0),
                fmt(s["n_blocks"]),
                fmt(s["reward_pct"]),
                fmt(s["feature_mean"], 3),
                fmt(s.get("eyes_open_alpha_uv2"), 2),
                fmt(s.get("eyes_closed_alpha_uv2"), 2),
                fmt(s["anxiety_before"], 0),
                fmt(s["anxiety_after"], 0),
            ]
        )
        # machine-readable copies of the plotted numbers, for scripts and tests
        data = {
            "session": s["session_id"],
            "reward-pct": s["reward_pct"],
            "feature-mean": s["feature_mean"],
            "anxiety-before": s["anxiety_before"],
            "anxiety-after": s["anxiety_after"],
        }
        attrs.append(" ".join(f'data-{k}="{esc("" if v is None else v)}"' for k, v in data.items()))
    first_num = 3 if with_protocol else 2
    return table(
        headers,
        rows,
        numeric=list(range(first_num, len(headers))),
        table_id="sessions-table",
        row_attrs=attrs,
    ) + (
        '<p class="subtitle">Feature: mean over the training blocks. EO/EC alpha: baseline '
        "alpha power, eyes open/closed (µV²). Anxiety: self-rated 0–10 before and after.</p>"
    )


def _blocks_table(trends: ClientTrends, unblind: bool) -> str:
    headers = ["Date", "Block", "Reward %", "Feature mean", "Inhibited %"]
    if unblind:
        headers.append("Condition")
    rows = []
    for s, blocks in zip(trends.sessions, trends.blocks, strict=True):
        for b in blocks:
            cells = [
                esc(s["label"]),
                esc(b["label"]),
                fmt(b["reward_pct"]),
                fmt(b["feature_mean"], 3),
                fmt(b["inhibited_pct"]),
            ]
            if unblind:
                cells.append(
                    '<span class="tag flagged">sham</span>' if b.get("sham") else esc("real")
                )
            rows.append(cells)
    if not rows:
        return missing("No training block was scored in any session.")
    return table(headers, rows, numeric=[2, 3, 4], table_id="trend-blocks-table")


def _bands_table(trends: ClientTrends) -> str:
    headers = ["Date", "Baseline", *[f"{b.replace('_', ' ')} (µV²)" for b in TREND_BANDS]]
    rows = []
    for s in trends.sessions:
        for cond, label in (("eyes_open", "eyes open"), ("eyes_closed", "eyes closed")):
            vals = [s.get(f"{cond}_{b}_uv2") for b in TREND_BANDS]
            if all(v is None for v in vals):
                continue
            rows.append([esc(s["label"]), esc(label), *[fmt(v, 2) for v in vals]])
    if not rows:
        return missing("No session has a baseline.")
    return table(
        headers, rows, numeric=list(range(2, 2 + len(TREND_BANDS))), table_id="trend-bands-table"
    )


def build_trends_report(
    client: str, sessions_dir: str | os.PathLike | None = None, *, unblind: bool = False
) -> str:
    """Render the HTML trends report of a client.

    Parameters
    ----------
    client : str
        The client id, or a name known to the store's client index.
    sessions_dir : path-like | None
        The session store.
    unblind : bool
        Label sham blocks in the per-block table.

    Returns
    -------
    html : str
        One self-contained HTML document.
    """
    trends = client_trends(client, sessions_dir, unblind=unblind)
    labels = [s["label"] for s in trends.sessions]
    return page(
        f"Client trends: {trends.client}",  # the id only, never the name
        f"{len(trends.sessions)} session(s), {labels[0] if labels else '—'} to "
        f"{labels[-1] if labels else '—'}",
        "\n".join(trend_parts(trends, unblind=unblind)),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def trend_parts(trends: ClientTrends, *, unblind: bool = False) -> list[str]:
    """The sections of the trends report (also the second half of the course report).

    Parameters
    ----------
    trends : ClientTrends
        From :func:`client_trends`.
    unblind : bool
        Label sham blocks in the per-block table.

    Returns
    -------
    sections : list of str
        HTML ``<section>`` elements.
    """
    series = trend_series(trends)
    labels = [s["label"] for s in trends.sessions]
    c = figures.COLORS
    parts = []
    notes = []
    if not trends.sessions:
        notes.append("No session of this client could be read.")
    if any(s["blinded"] for s in trends.sessions) and not unblind:
        notes.append(BLINDED_NOTE)
    protocols = sorted({s["protocol"] for s in trends.sessions})
    overview = (
        f"<p>{len(trends.sessions)} session(s) of client <b>{esc(trends.client)}</b>"
        + (f", protocol <b>{esc(protocols[0])}</b>" if len(protocols) == 1 else "")
        + ".</p>"
        + "".join(note(n) for n in notes)
        + _sessions_table(trends)
    )
    if trends.skipped:
        overview += "<h3>Left out</h3>" + table(
            ["Session", "Why"], [[esc(sid), esc(why)] for sid, why in trends.skipped]
        )
    parts.append(section("sessions", "Sessions", overview))
    targets = [s["target_pct"] for s in trends.sessions if s["target_pct"] is not None]
    target = targets[-1] if targets and len(set(targets)) == 1 else None
    parts.append(
        _chart(
            "reward",
            "Reward per session",
            labels,
            series["reward"],
            ylabel="reward (%)",
            colors={"reward %": c["reward"]},
            target=target,
            ylim=(0, 100),
        )
    )
    parts.append(
        _chart(
            "block-reward",
            "Reward per block",
            labels,
            series["block_reward"],
            ylabel="reward (%)",
            ylim=(0, 100),
        )
    )
    axes = feature_axes(trends)
    parts.append(
        _feature_chart(
            "feature",
            "Feature mean per session",
            labels,
            [(a, {p: series["feature"][p] for p in a.protocols}) for a in axes],
        )
    )
    many = len({p for a in axes for p in a.protocols}) > 1
    parts.append(
        _feature_chart(
            "block-feature",
            "Feature mean per block",
            labels,
            [
                (
                    a,
                    {
                        (f"{p} · " if many and len(a.protocols) > 1 else "") + name: values
                        for p in a.protocols
                        for name, values in _block_series(trends, "feature_mean", p).items()
                    },
                )
                for a in axes
            ],
        )
    )
    parts.append(section("blocks", "Blocks", _blocks_table(trends, unblind)))
    for cond, title in (("eyes_open", "eyes open"), ("eyes_closed", "eyes closed")):
        parts.append(
            _chart(
                f"{cond.replace('_', '-')}-power",
                f"Baseline band power, {title}",
                labels,
                series[f"{cond}_power"],
                ylabel="power (µV²)",
                logy=True,
            )
        )
    parts.append(section("band-table", "Baseline band power", _bands_table(trends)))
    parts.append(
        _chart(
            "anxiety",
            "Self-rated anxiety",
            labels,
            series["anxiety"],
            ylabel="anxiety (0–10)",
            ylim=(-0.5, 10.5),
            colors={"before": c["before"], "after": c["after"]},
        )
    )
    return parts
