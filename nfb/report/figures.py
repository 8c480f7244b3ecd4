"""Report figures as PNG bytes, drawn with Matplotlib's Agg canvas.

Figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, never
through ``pyplot``: no global backend is chosen, nothing touches Qt, and a report can be
rendered from any thread of a running GUI.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The report's colours; the HTML legend uses the same ones.
COLORS = {
    "feature": "#2f4b7c",
    "threshold": "#f28c28",
    "reward": "#2e9e5b",
    "inhibit": "#d64545",
    "paused": "#9aa0a6",
    "baseline_eyes_open": "#3b7dd8",
    "baseline_eyes_closed": "#8e5bd8",
    "training": "#2e9e5b",
    "target": "#f28c28",
    "sham": "#9aa0a6",
    "grid": "#e6e8eb",
    "text": "#2b2f36",
    "marker": "#6b7280",
    "before": "#d64545",
    "after": "#2e9e5b",
}
CONDITION_LABELS = {
    "baseline_eyes_open": "baseline, eyes open",
    "baseline_eyes_closed": "baseline, eyes closed",
    "training": "training blocks",
}
#: Step backgrounds of the feature plot.
STEP_SHADES = {
    "baseline_eyes_open": "#eef3fb",
    "baseline_eyes_closed": "#f3eefb",
    "rest": "#f4f5f6",
}
#: Short step labels along the top of the feature plot.
STEP_LABELS = {"baseline_eyes_open": "eyes open", "baseline_eyes_closed": "eyes closed"}
DPI = 110
#: Figure width (in): at DPI, the page's content width, so every figure lines up.
FULL_WIDTH = 9.0


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#b8bec6")
    ax.tick_params(colors=COLORS["text"], labelsize=9)
    ax.grid(True, color=COLORS["grid"], linewidth=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.label.set_color(COLORS["text"])
    ax.yaxis.label.set_color(COLORS["text"])


def plain(text: object) -> str:
    """Text drawn as typed: Matplotlib would parse ``$...$`` in a marker label or protocol
    name as mathtext, and a malformed formula makes the whole figure fail to render."""
    return str(text).replace("$", r"\$")


def _log_y(ax) -> None:
    """Log y axis labelled 0.1, 1, 10, 100 (no 6×10¹ minor labels crowding the axis)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#6b7280")
    ax.set_xticks([])
    ax.set_yticks([])


def feature_figure(
    time_s: np.ndarray,
    value: np.ndarray,
    threshold: np.ndarray,
    reward: np.ndarray,
    inhibited: np.ndarray,
    *,
    steps: Sequence[tuple[str, str, float, float]] = (),
    markers: Sequence[tuple[float, str]] = (),
    paused: Sequence[tuple[float, float]] = (),
    feature_label: str = "feature",
) -> bytes:
    """The feedback feature over the session.

    Parameters
    ----------
    time_s, value, threshold : ndarray, shape (n_frames,)
        Frame time (s), feature value and threshold (NaN where none).
    reward, inhibited : ndarray of bool, shape (n_frames,)
        Rewarded frames (shaded green) and inhibited frames (shaded red).
    steps : sequence of (name, label, start_s, stop_s)
        Script steps: baselines and rests get a light background, every step a label.
    markers : sequence of (time_s, label)
        Marker lines.
    paused : sequence of (start_s, stop_s)
        Paused stretches (hatched grey).
    feature_label : str
        Y axis label.

    Returns
    -------
    png : bytes
    """
    fig = _figure(FULL_WIDTH, 3.5)
    ax = fig.add_subplot()
    _style(ax)
    if time_s.size == 0:
        _message(ax, "no frames were recorded")
        return _png(fig)
    xt = ax.get_xaxis_transform()
    for name, _label, t0, t1 in steps:
        shade = STEP_SHADES.get(name)
        if shade:
            ax.axvspan(t0, t1, color=shade, zorder=0, linewidth=0)
    for t0, t1 in paused:
        ax.axvspan(t0, t1, facecolor="none", edgecolor=COLORS["paused"], hatch="///", lw=0)
    # reward and inhibit as bands behind the trace (step="post": a frame holds until the next)
    ax.fill_between(
        time_s,
        0,
        1,
        where=reward,
        transform=xt,
        step="post",
        color=COLORS["reward"],
        alpha=0.22,
        linewidth=0,
        label="reward",
    )
    ax.fill_between(
        time_s,
        0,
        0.06,
        where=inhibited,
        transform=xt,
        step="post",
        color=COLORS["inhibit"],
        alpha=0.85,
        linewidth=0,
        label="inhibited",
    )
    feature_label = plain(feature_label)
    ax.plot(time_s, value, color=COLORS["feature"], linewidth=0.9, label=feature_label)
    if np.isfinite(threshold).any():
        ax.plot(
            time_s,
            threshold,
            color=COLORS["threshold"],
            linewidth=1.8,
            drawstyle="steps-post",
            label="threshold",
        )
    for t, label in markers:
        ax.axvline(t, color=COLORS["marker"], linestyle=":", linewidth=1.0)
        ax.text(
            t,
            0.99,
            f" {plain(label)}",
            transform=xt,
            fontsize=7.5,
            color=COLORS["marker"],
            va="top",
            ha="left",
            rotation=90,
        )
    finite = value[np.isfinite(value)]
    if finite.size:
        lo, hi = np.percentile(finite, [0.5, 99.5])
        pad = 0.15 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + 2 * pad)  # headroom for the step labels
    span = float(time_s[-1] - time_s[0]) or 1.0
    for name, label, t0, t1 in steps:
        short = plain(STEP_LABELS.get(name, label))
        # room for the label: the step's share of the axis width, in characters of 8 pt
        room = (t1 - t0) / span * FULL_WIDTH * 72 / (8 * 0.62)
        if room < len(short):
            continue
        ax.text(
            (t0 + t1) / 2,
            1.01,
            short,
            transform=xt,
            ha="center",
            va="bottom",
            fontsize=8,
            color=COLORS["text"],
            clip_on=False,
        )
    ax.set_xlim(float(time_s[0]), float(time_s[-1]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel(feature_label)
    return _png(fig)


def reward_figure(
    labels: Sequence[str],
    reward_pct: Sequence[float | None],
    *,
    target_pct: float | None = None,
    sham: Sequence[bool] | None = None,
) -> bytes:
    """Reward % per block, as bars against the protocol's target rate.

    Parameters
    ----------
    labels : sequence of str
        Block labels.
    reward_pct : sequence of float | None
        Reward % of each block (``None``: not scored).
    target_pct : float | None
        The protocol's target, drawn as a dashed line.
    sham : sequence of bool | None
        Only when unblinded: sham blocks get grey hatched bars and a "sham" tag.

    Returns
    -------
    png : bytes
    """
    fig = _figure(FULL_WIDTH, 2.8)
    ax = fig.add_subplot()
    _style(ax)
    if not labels:
        _message(ax, "no training block was scored")
        return _png(fig)
    x = np.arange(len(labels))
    heights = [v if v is not None else 0.0 for v in reward_pct]
    colors = [
        COLORS["sham"] if sham is not None and sham[i] else COLORS["reward"]
        for i in range(len(labels))
    ]
    bars = ax.bar(x, heights, color=colors, width=0.62, zorder=2)
    for i, (bar, v) in enumerate(zip(bars, reward_pct, strict=True)):
        if sham is not None and sham[i]:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
        text = "n/a" if v is None else f"{v:.0f} %"
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + 1.5,
            text,
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=COLORS["text"],
        )
    if target_pct is not None:
        ax.axhline(target_pct, color=COLORS["target"], linestyle="--", linewidth=1.5, zorder=3)
        ax.text(
            len(labels) - 0.5,
            target_pct + 1.5,
            f"target {target_pct:.0f} %",
            ha="right",
            va="bottom",
            fontsize=8,
            color=COLORS["target"],
        )
    ticks = [
        f"{plain(lab)}\n(sham)" if sham is not None and sham[i] else plain(lab)
        for i, lab in enumerate(labels)
    ]
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 105)
    ax.set_ylabel("reward (% of frames)")
    return _png(fig)


def band_power_figure(powers: dict[str, dict[str, float | None]], bands: Sequence[str]) -> bytes:
    """Band power per condition, grouped bars on a log axis.

    Parameters
    ----------
    powers : dict
        Condition (``baseline_eyes_open``, ``baseline_eyes_closed``, ``training``) to
        ``{band: µV²}``.
    bands : sequence of str
        Bands in display order.

    Returns
    -------
    png : bytes
    """
    fig = _figure(FULL_WIDTH, 3.1)
    ax = fig.add_subplot()
    _style(ax)
    conds = [c for c in CONDITION_LABELS if c in powers]
    if not conds:
        _message(ax, "no EEG segment long enough for a spectrum")
        return _png(fig)
    x = np.arange(len(bands))
    width = 0.8 / len(conds)
    for k, cond in enumerate(conds):
        vals = [powers[cond].get(b) for b in bands]
        ax.bar(
            x + (k - (len(conds) - 1) / 2) * width,
            [v if v is not None and v > 0 else np.nan for v in vals],
            width=width * 0.95,
            color=COLORS[cond],
            label=CONDITION_LABELS[cond],
            zorder=2,
        )
    _log_y(ax)
    ax.set_xticks(x, [b.replace("_", " ") for b in bands])
    ax.set_ylabel("power (µV²)")
    ax.legend(fontsize=8, frameon=False, ncols=len(conds), loc="upper right")
    return _png(fig)


def spectra_figure(
    spectra: dict[str, tuple[np.ndarray, np.ndarray]],
    bands: dict[str, tuple[float, float]] | None = None,
) -> bytes:
    """Baseline spectra overlaid, log power, 1–45 Hz.

    Parameters
    ----------
    spectra : dict
        Condition to ``(freqs, psd)``; eyes open and eyes closed are drawn (training too,
        thinner, if present).
    bands : dict | None
        Band edges to mark along the top (theta, alpha... as light separators).

    Returns
    -------
    png : bytes
    """
    fig = _figure(FULL_WIDTH, 3.3)
    ax = fig.add_subplot()
    _style(ax)
    drawn = False
    for cond in CONDITION_LABELS:
        if cond not in spectra:
            continue
        f, p = spectra[cond]
        train = cond == "training"
        ax.plot(
            f,
            p,
            color=COLORS[cond],
            linewidth=1.0 if train else 1.8,
            linestyle="--" if train else "-",
            alpha=0.8 if train else 1.0,
            label=CONDITION_LABELS[cond],
        )
        drawn = True
    if not drawn:
        _message(ax, "no baseline was recorded")
        return _png(fig)
    _log_y(ax)
    xt = ax.get_xaxis_transform()
    for name, (lo, hi) in (bands or {}).items():
        ax.axvline(lo, color="#d5d9de", linewidth=0.8, zorder=0)
        ax.text(
            (lo + hi) / 2,
            0.98,
            name.replace("_", " "),
            transform=xt,
            ha="center",
            va="top",
            fontsize=7,
            color="#6b7280",
        )
    ax.set_xlim(1, 45)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (µV²/Hz)")
    ax.legend(fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    return _png(fig)


@dataclass
class TrendPanel:
    """One axis of a trend chart: series sharing one unit.

    Attributes
    ----------
    series : dict
        Series name to one value per session (``None``: missing).
    ylabel : str
        Y axis label, with its unit (``"amplitude (µV)"``).
    title : str
        Drawn above the axis, left (``""``: none).
    colors : dict | None
        Series name to colour.
    target : float | None
        A dashed horizontal reference line (the target reward rate).
    ylim : (float, float) | None
        Fixed y range.
    logy : bool
        Log y axis.
    """

    series: dict[str, Sequence[float | None]]
    ylabel: str
    title: str = ""
    colors: dict[str, str] | None = None
    target: float | None = None
    ylim: tuple[float, float] | None = None
    logy: bool = False


#: Height of one trend axis (in); margins around it (in).
_PANEL_H, _TITLE_H, _GAP_H = 1.9, 0.3, 0.35
_LEFT_IN, _RIGHT_IN = 0.8, 0.15
#: Longest legend entry (characters): a protocol's name may be long, the legend stays beside
#: the plot.
MAX_LEGEND_CHARS = 34


def _short(text: str) -> str:
    text = plain(text)
    return text if len(text) <= MAX_LEGEND_CHARS else text[: MAX_LEGEND_CHARS - 1] + "…"


def trend_panels(x_labels: Sequence[str], panels: Sequence[TrendPanel], *, join_gaps: bool = False):
    """The trend chart as a Matplotlib figure: one axis per panel, sessions along a shared x.

    Every axis starts at the same distance from the left edge (charts line up on the page);
    legends sit right of their axis, and the axes are narrowed until the widest legend fits
    in the figure.

    Parameters
    ----------
    x_labels : sequence of str
        One label per session (its date), in order.
    panels : sequence of TrendPanel
        The axes, top to bottom.
    join_gaps : bool
        Join a series' points across sessions where it has no value (a feature of one
        protocol across sessions of another); else a missing value breaks the line.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    rotate = len(x_labels) > 6
    bottom = 0.75 if rotate else 0.4
    titled = [bool(p.title) for p in panels]
    heights = [_PANEL_H + (_TITLE_H if t else 0.0) for t in titled]
    total = bottom + sum(heights) + _GAP_H * max(0, len(panels) - 1) + 0.15
    fig = _figure(FULL_WIDTH, total, layout=None)
    x = np.arange(len(x_labels))
    palette = ["#2f4b7c", "#2e9e5b", "#8e5bd8", "#f28c28", "#d64545", "#3b7dd8", "#6b7280"]
    left = _LEFT_IN / FULL_WIDTH
    axes, legends = [], []
    top = total - 0.15
    for k, panel in enumerate(panels):
        top -= _TITLE_H if titled[k] else 0.0
        y0 = top - _PANEL_H
        ax = fig.add_axes((left, y0 / total, 1 - left - _RIGHT_IN / FULL_WIDTH, _PANEL_H / total))
        top = y0 - _GAP_H
        _style(ax)
        plotted = False
        for j, (name, values) in enumerate(panel.series.items()):
            y = np.array([np.nan if v is None else float(v) for v in values])
            ok = np.isfinite(y)
            if not ok.any():
                continue
            color = (panel.colors or {}).get(name, palette[j % len(palette)])
            xs, ys = (x[ok], y[ok]) if join_gaps else (x, y)
            ax.plot(
                xs, ys, marker="o", markersize=5, linewidth=1.6, color=color, label=_short(name)
            )
            plotted = True
        if panel.title:
            ax.set_title(plain(panel.title), loc="left", fontsize=9.5, color=COLORS["text"])
        if not plotted:
            _message(ax, "no values")
            axes.append(ax)
            continue
        if panel.target is not None:
            ax.axhline(
                panel.target, color=COLORS["target"], linestyle="--", linewidth=1.2, label="target"
            )
        ax.set_xticks(x, [plain(lab) for lab in x_labels], fontsize=8)
        ax.set_xlim(-0.5, len(x_labels) - 0.5)
        if panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        if panel.logy:
            _log_y(ax)
        ax.set_ylabel(plain(panel.ylabel))
        if len(panel.series) > 1 or panel.target is not None:
            legends.append(
                ax.legend(
                    fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), ncols=1
                )
            )
        axes.append(ax)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)  # the dates once, under the lowest axis
    if rotate and axes:
        for tick in axes[-1].get_xticklabels():
            tick.set_rotation(30)
            tick.set_ha("right")
    if legends:
        renderer = fig.canvas.get_renderer()
        right = max(lg.get_window_extent(renderer).x1 for lg in legends)
        overflow = (right - fig.bbox.x1 + 4) / fig.bbox.width
        if overflow > 0:
            for ax in axes:
                box = ax.get_position()
                ax.set_position((box.x0, box.y0, box.width - overflow, box.height))
    return fig


def trend_panels_figure(
    x_labels: Sequence[str], panels: Sequence[TrendPanel], *, join_gaps: bool = False
) -> bytes:
    """:func:`trend_panels` as PNG bytes."""
    return _png(trend_panels(x_labels, panels, join_gaps=join_gaps))


def trend_figure(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    ylabel: str,
    colors: dict[str, str] | None = None,
    target: float | None = None,
    ylim: tuple[float, float] | None = None,
    logy: bool = False,
) -> bytes:
    """One point per session for one or more series of one unit (lines with markers).

    Parameters
    ----------
    x_labels : sequence of str
        One label per session (its date), in order.
    series : dict
        Series name to one value per session (``None``: missing, left as a gap).
    ylabel : str
        Y axis label, with its unit.
    colors : dict | None
        Series name to colour.
    target : float | None
        A dashed horizontal reference line (the target reward rate).
    ylim : (float, float) | None
        Fixed y range (ratings 0–10, percentages 0–100).
    logy : bool
        Log y axis (band powers span decades).

    Returns
    -------
    png : bytes
    """
    panel = TrendPanel(series, ylabel, colors=colors, target=target, ylim=ylim, logy=logy)
    return trend_panels_figure(x_labels, [panel])


def series_points(values: Sequence[Any]) -> int:
    """How many points a trend series draws (finite values)."""
    return sum(1 for v in values if v is not None and np.isfinite(float(v)))


#: Shades of the questionnaire severity bands (minimal to severe), light to dark.
SEVERITY_SHADES = ("#eef7f0", "#fbf6e3", "#fcebd9", "#f9dcdc", "#f3c9c9")
#: Line colours of the questionnaires in the course chart.
MEASURE_COLORS = {"gad7": "#8e3b8e", "phq9": "#3b7dd8"}


def course_figure(
    session_times: Sequence[Any],
    reward_pct: Sequence[float | None],
    block_features: Sequence[Sequence[float | None]],
    baseline_means: Sequence[float | None],
    outcomes: dict[str, Sequence[tuple[Any, int]]],
    *,
    bands: Sequence[tuple[int, int, str]],
    max_total: int,
    names: dict[str, str],
    feature_label: str = "feature",
    target_pct: float | None = None,
) -> bytes:
    """The course on one date axis: reward, feature against baseline, questionnaire totals.

    Parameters
    ----------
    session_times : sequence of datetime
        When each session started.
    reward_pct : sequence of float | None
        Each session's reward %.
    block_features : sequence of sequence of float | None
        Each session's feature mean per training block.
    baseline_means : sequence of float | None
        Each session's feature mean in its baseline.
    outcomes : dict
        Questionnaire key to ``(date, total)`` pairs, oldest first.
    bands : sequence of (low, high, label)
        The severity bands shaded behind the totals (the GAD-7's).
    max_total : int
        The y range of the totals (0 to this).
    names : dict
        Questionnaire key to display name (``GAD-7``).
    feature_label : str
        Y label of the feature panel.
    target_pct : float | None
        The protocol's target reward %.

    Returns
    -------
    png : bytes
    """
    import matplotlib.dates as mdates

    fig = _figure(FULL_WIDTH, 7.2)
    axes = fig.subplots(3, 1, sharex=True, height_ratios=(1.0, 1.3, 1.5))
    for ax in axes:
        _style(ax)
    ax_r, ax_f, ax_o = axes
    x = list(session_times)
    reward = np.array([np.nan if v is None else float(v) for v in reward_pct])
    if x:
        ax_r.plot(x, reward, marker="o", markersize=5, lw=1.6, color=COLORS["reward"])
    if target_pct is not None:
        ax_r.axhline(target_pct, color=COLORS["target"], ls="--", lw=1.2, label="target")
        ax_r.legend(fontsize=8, frameon=False, loc="lower right")
    ax_r.set_ylim(0, 100)
    ax_r.set_ylabel("reward (%)")
    ax_r.set_title("Learning curve", loc="left", fontsize=10, color=COLORS["text"])

    offsets = np.timedelta64(7, "h")  # blocks spread a little around their session's day
    first = True
    for when, blocks in zip(x, block_features, strict=True):
        ys = [v for v in blocks if v is not None]
        if not ys:
            continue
        t0 = np.datetime64(when.replace(tzinfo=None)) - offsets
        span = (2 * offsets) / max(1, len(ys) - 1)
        xs = [t0 + span * k for k in range(len(ys))] if len(ys) > 1 else [t0 + offsets]
        ax_f.plot(
            xs,
            ys,
            marker="o",
            markersize=3,
            lw=0.9,
            color=COLORS["feature"],
            label="block means" if first else None,
        )
        first = False
    base = np.array([np.nan if v is None else float(v) for v in baseline_means])
    if x and np.isfinite(base).any():
        ax_f.plot(
            x,
            base,
            ls="none",
            marker="_",
            markersize=16,
            mew=2.2,
            color=COLORS["threshold"],
            label="baseline",
        )
    ax_f.set_ylabel(plain(feature_label))
    if not first:
        ax_f.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)

    for k, (low, high, label) in enumerate(bands):
        shade = SEVERITY_SHADES[min(k, len(SEVERITY_SHADES) - 1)]
        ax_o.axhspan(low - 0.5, high + 0.5, color=shade, zorder=0, lw=0)
        ax_o.text(
            1.005,
            (low + high) / 2,
            label,
            transform=ax_o.get_yaxis_transform(),
            fontsize=7.5,
            va="center",
            color="#6b7280",
        )
    ax_o.grid(False)
    ax_o.grid(True, axis="x", color=COLORS["grid"], lw=0.8)
    drawn = False
    for key, points in outcomes.items():
        if not points:
            continue
        ds = [np.datetime64(d) for d, _ in points]
        ys = [t for _, t in points]
        color = MEASURE_COLORS.get(key, COLORS["feature"])
        ax_o.plot(ds, ys, marker="s", markersize=6, lw=1.8, color=color, label=names.get(key, key))
        for d, t in zip(ds, ys, strict=True):
            ax_o.annotate(
                str(t),
                (d, t),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=7.5,
                color=color,
            )
        drawn = True
    ax_o.set_ylim(-0.5, max_total + 0.5)
    ax_o.set_ylabel("total score")
    ax_o.set_title(
        "Outcomes (bands: GAD-7 severity)", loc="left", fontsize=10, color=COLORS["text"]
    )
    if drawn:
        ax_o.legend(fontsize=8, frameon=False, loc="upper right", ncols=2)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax_o.xaxis.set_major_locator(locator)
    ax_o.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if not x and not drawn:
        _message(ax_f, "no sessions and no questionnaires yet")
    return _png(fig)
