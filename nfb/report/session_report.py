"""The report of one session: ``nfb report SESSION --out report.html``."""

from __future__ import annotations

import math
import os
import warnings
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .._logging import logger
from ..session.store import RecordedSession, read_session
from . import figures, metrics
from .html import (
    card,
    duration,
    esc,
    fmt,
    img,
    kv_table,
    legend,
    missing,
    note,
    page,
    section,
    table,
)

#: Most points the feature plot draws; longer sessions are binned (masks: any in the bin).
MAX_PLOT_FRAMES = 20_000
BLINDED_NOTE = "This session contains blinded blocks; pass --unblind to reveal them."
STATUS_NOTES = {
    "stopped": "The session was stopped before the end of its script.",
    "recovered": "The recording was interrupted (crash or kill) and recovered afterwards; "
    "the last second or so may be missing.",
    "interrupted": "The recording was interrupted and has not been recovered; the data end "
    "where the recorder stopped.",
    "failed": "The recording failed (device or disk error); the data end where it failed.",
    "recording": "The session is still being recorded: this report shows it so far.",
}


def _bin(x: np.ndarray, k: int, how: str) -> np.ndarray:
    n = (x.size // k) * k
    if n == 0:
        return x
    shaped = x[:n].reshape(-1, k)
    if how == "any":
        return shaped.any(axis=1)
    if how == "first":
        return shaped[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
        return np.nanmean(shaped, axis=1)


def _intervals(rec: RecordedSession, start_kind: str, stop_kind: str) -> list[tuple[float, float]]:
    out, since = [], None
    for ev in metrics.sorted_events(rec):
        t = metrics.timeline_s(rec, int(ev["sample_index"]))
        if ev.get("kind") == start_kind and since is None:
            since = t
        elif ev.get("kind") == stop_kind and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, metrics.timeline_s(rec, rec.n_samples)))
    return out


def _feature_label(meta: dict[str, Any]) -> str:
    protocol = meta.get("protocol") if isinstance(meta.get("protocol"), dict) else {}
    fb = protocol.get("feedback") or {}
    label = str(fb.get("feature") or "feature")
    if fb.get("zscore"):
        label += " (z)"
    return label


def _feature_section(rec: RecordedSession, segs: list[metrics.Segment]) -> str:
    frames = rec.frames
    if frames.size == 0:
        return section("feature", "Feedback feature", missing("No frames were recorded."))
    t = frames["time_s"].astype(float)
    cols = {
        "value": frames["value"].astype(float),
        "threshold": frames["threshold"].astype(float),
        "reward": frames["reward"].astype(bool),
        "inhibited": frames["inhibited"].astype(bool),
    }
    k = math.ceil(t.size / MAX_PLOT_FRAMES)
    if k > 1:
        t = _bin(t, k, "first")
        cols = {
            "value": _bin(cols["value"], k, "mean"),
            "threshold": _bin(cols["threshold"], k, "first"),
            "reward": _bin(cols["reward"], k, "any"),
            "inhibited": _bin(cols["inhibited"], k, "any"),
        }
    # on the timeline of the frames' time_s (a gap moves what follows it later)
    steps = [
        (s.name, s.label, metrics.timeline_s(rec, s.start), metrics.timeline_s(rec, s.stop))
        for s in segs
    ]
    marks = [(m["time_s"], m["label"] or "marker") for m in metrics.markers(rec)]
    label = _feature_label(rec.meta)
    png = figures.feature_figure(
        t,
        cols["value"],
        cols["threshold"],
        cols["reward"],
        cols["inhibited"],
        steps=steps,
        markers=marks,
        paused=_intervals(rec, "pause", "resume"),
        feature_label=label,
    )
    c = figures.COLORS
    body = [
        legend(
            [
                (c["feature"], label),
                (c["threshold"], "threshold"),
                (c["reward"], "rewarded"),
                (c["inhibit"], "inhibited (artefact)"),
                (figures.STEP_SHADES["baseline_eyes_open"], "baseline"),
                (figures.STEP_SHADES["rest"], "rest"),
                (figures.COLORS["paused"], "paused (hatched)"),
            ]
        ),
        img(png, f"{label} over time with threshold and reward"),
    ]
    if not np.isfinite(frames["threshold"]).any():
        body.append(missing("No threshold was set in this session (no block was scored)."))
    return section("feature", "Feedback feature over time", "".join(body))


def _reward_section(rec: RecordedSession, blocks: list[dict[str, Any]], unblind: bool) -> str:
    if not blocks:
        return section(
            "reward",
            "Reward per block",
            missing("No training block was scored in this session, so there is no reward rate."),
        )
    target = metrics.target_rate(rec)
    target_pct = None if target is None else 100.0 * target
    sham = [bool(b.get("sham")) for b in blocks] if unblind and metrics.is_blinded(rec) else None
    png = figures.reward_figure(
        [b["label"] for b in blocks],
        [b["reward_pct"] for b in blocks],
        target_pct=target_pct,
        sham=sham,
    )
    headers = [
        "Block",
        "Duration",
        "Reward %",
        "Target %",
        "Feature",
        "Threshold",
        "Inhibited %",
    ]
    if sham is not None:
        headers += ["Condition", "Own reward %", "Own feature"]
    rows, attrs = [], []
    for b in blocks:
        cells = [
            esc(b["label"]),
            esc(duration(b["duration_s"])),
            fmt(b["reward_pct"]),
            fmt(b["target_pct"], 0),
            fmt(b["feature_mean"], 3),
            fmt(b["threshold_mean"], 3),
            fmt(b["inhibited_pct"]),
        ]
        if sham is not None:
            cells.append('<span class="tag flagged">sham</span>' if b.get("sham") else "real")
            cells += [fmt(b.get("own_reward_pct")), fmt(b.get("own_feature_mean"), 3)]
        rows.append(cells)
        pct = "" if b["reward_pct"] is None else b["reward_pct"]
        attrs.append(f'data-block="{b["index"]}" data-reward-pct="{esc(pct)}"')
    numeric = [i for i in range(1, len(headers)) if headers[i] != "Condition"]
    return section(
        "reward",
        "Reward per block",
        img(png, "reward per block against the target rate")
        + table(headers, rows, numeric=numeric, table_id="blocks-table", row_attrs=attrs),
    )


def _blinding_section(rec: RecordedSession, unblind: bool) -> str:
    if not metrics.is_blinded(rec):
        return ""
    if not unblind:
        return section("blinding", "Blinding", note(BLINDED_NOTE))
    shams = metrics.sham_blocks(rec)
    source = rec.meta["blinding"].get("source")
    rows = [("Sham blocks", esc(", ".join(map(str, shams)) or "none"))]
    if isinstance(source, dict):
        src = f"session {source.get('session_id', '?')} of client {source.get('client', '?')}"
        rows.append(("Sham feedback source", esc(src)))
    return section(
        "blinding",
        "Blinding (unblinded)",
        note(
            "Unblinded report: the sham blocks are labelled. In a sham block the client saw "
            "feedback yoked from another recording; 'own' columns give the client's own scoring."
        )
        + kv_table(rows, table_id="blinding-table"),
    )


def _bands_section(
    rec: RecordedSession, powers: dict[str, dict[str, float | None]], channel: str
) -> str:
    bands = metrics.analysis_bands(rec.sfreq)
    if not powers:
        return section(
            "bands",
            "Band power",
            missing("No baseline or training segment of at least 1 s was recorded."),
        )
    png = figures.band_power_figure(powers, list(bands))
    conds = [c for c in figures.CONDITION_LABELS if c in powers]
    headers = ["Band", "Hz"] + [f"{figures.CONDITION_LABELS[c]} (µV²)" for c in conds]
    rows = [
        [esc(name.replace("_", " ")), esc(f"{lo:g}–{hi:g}")]
        + [fmt(powers[c].get(name), 2) for c in conds]
        for name, (lo, hi) in bands.items()
    ]
    coverage = metrics.baseline_coverage(rec)
    absent = [
        figures.CONDITION_LABELS[c]
        for c in figures.CONDITION_LABELS
        if c not in powers and c not in coverage
    ]
    body = (
        f"<p>Absolute band power of the raw EEG at {esc(channel)} (Welch, 2 s windows; "
        "windows with inhibited frames are left out), baseline against training blocks.</p>"
        + img(png, "band power, baseline vs training")
        + table(headers, rows, numeric=list(range(2, len(headers))), table_id="bands-table")
    )
    if absent:
        body += missing("Not recorded: " + ", ".join(absent) + ".")
    unusable = [c for c in metrics.BASELINES if c in coverage and c not in powers]
    for cond in unusable:
        body += missing(metrics.baseline_unusable_text(rec, cond, coverage[cond]))
    if unusable:
        body += missing(f"The threshold {metrics.threshold_origin(rec)}.")
    return section("bands", "Band power", body)


def _spectra_section(
    rec: RecordedSession, spectra: dict[str, tuple[np.ndarray, np.ndarray]], channel: str
) -> str:
    base = {k: v for k, v in spectra.items() if k in metrics.BASELINES}
    coverage = metrics.baseline_coverage(rec)

    def why(cond: str) -> str:
        # a baseline that was run but left no clean window is not "not recorded"
        if cond in coverage:
            return metrics.baseline_unusable_text(rec, cond, coverage[cond])
        return f"No {figures.CONDITION_LABELS[cond]} was recorded."

    if not base:
        if not coverage:
            text = missing("No baseline was recorded in this session.")
        else:
            text = "".join(missing(why(c)) for c in metrics.BASELINES)
            text += missing(
                f"No baseline was usable: the threshold {metrics.threshold_origin(rec)}."
            )
        return section("spectra", "Baseline spectra", text)
    png = figures.spectra_figure(spectra, metrics.analysis_bands(rec.sfreq))
    body = f"<p>Power spectra at {esc(channel)}, 1–45 Hz, log scale.</p>" + img(
        png, "eyes-open vs eyes-closed baseline spectra"
    )
    for cond in metrics.BASELINES:
        if cond not in base:
            body += missing(why(cond))
    if any(c in coverage and c not in base for c in metrics.BASELINES):
        body += missing(f"The threshold {metrics.threshold_origin(rec)}.")
    return section("spectra", "Baseline spectra: eyes open vs eyes closed", body)


def _mains_text(meta: dict) -> str:
    """``"60 Hz (notch at 60 Hz)"``: the mains frequency of the recording and the notch used."""
    device = meta.get("device") if isinstance(meta.get("device"), dict) else {}
    mains = device.get("mains_hz")
    if isinstance(mains, bool) or not isinstance(mains, int | float):
        return "—"
    protocol = meta.get("protocol") if isinstance(meta.get("protocol"), dict) else {}
    signal = protocol.get("signal")
    notch = signal.get("notch_hz", "mains") if isinstance(signal, dict) else "mains"
    if notch == "mains":
        return f"{mains:g} Hz (notch at {mains:g} Hz)"
    if notch is False or notch is None:
        return f"{mains:g} Hz (no notch)"
    if isinstance(notch, int | float) and not isinstance(notch, bool):
        return f"{mains:g} Hz (notch at {notch:g} Hz, set by the protocol)"
    return f"{mains:g} Hz"


def _quality_section(
    rec: RecordedSession, m: dict[str, Any], blocks: list[dict[str, Any]], unblind: bool
) -> str:
    frames = rec.frames
    kinds = metrics.inhibit_kinds(rec)
    rows = []
    for kind in kinds:
        col = frames[f"inhibit_{kind}"]
        pct = 100.0 * float(col.mean()) if col.size else None
        rows.append([esc(kind), fmt(m.get(f"inhibit_{kind}_count")), fmt(pct)])
    body = "<h3>Inhibits</h3>" + table(
        ["Inhibit", "Episodes", "% of frames"],
        rows,
        numeric=[1, 2],
        table_id="inhibit-table",
        compact=True,
    )
    if not kinds:
        body = missing("The protocol has no inhibits.")
    summary = [
        ("Artefact (any inhibit), % of all frames", fmt(m["artefact_pct"])),
        ("Inhibited, % of training frames", fmt(m["inhibited_pct"])),
        ("Dropped samples", fmt(m["dropped_samples"])),
        ("Disconnections", fmt(m["disconnections"])),
    ]
    body = kv_table(summary, table_id="quality-table") + body
    if blocks and metrics.is_blinded(rec) and not unblind:
        # a sham block's inhibited % is the yoked feedback's while the inhibit columns are
        # the client's own: per block, the two side by side would point at the sham blocks
        body += "<h3>Inhibited per block</h3>" + table(
            ["Block", "inhibited %"],
            [[esc(b["label"]), fmt(b["inhibited_pct"])] for b in blocks],
            numeric=[1],
            table_id="block-inhibit-table",
        )
    elif kinds and blocks:
        body += "<h3>Inhibit episodes per block</h3>" + table(
            ["Block", *kinds, "inhibited %"],
            [
                [
                    esc(b["label"]),
                    *[fmt(b.get(f"inhibit_{k}_count")) for k in kinds],
                    fmt(b["inhibited_pct"]),
                ]
                for b in blocks
            ],
            numeric=list(range(1, len(kinds) + 2)),
            table_id="block-inhibit-table",
        )
    disc = metrics.disconnections(rec)
    if disc:
        body += "<h3>Disconnections</h3>" + table(
            ["At", "Lasted"],
            [
                [esc(duration(t0)), esc("until the end" if d is None else f"{d:.1f} s")]
                for t0, d in disc
            ],
            numeric=[1],
            compact=True,
        )
    return section("quality", "Signal quality: inhibits, artefacts, dropped samples", body)


def _markers_section(rec: RecordedSession) -> str:
    marks = metrics.markers(rec)
    if not marks:
        return section("markers", "Markers", missing("No markers were set."))
    rows = [
        [fmt(m["time_s"], 1, " s"), esc(m["label"]) or "—", esc(m["note"]) or "—"] for m in marks
    ]
    return section(
        "markers",
        "Markers",
        table(["Time", "Label", "Note"], rows, table_id="markers-table"),
    )


def _ratings_section(m: dict[str, Any]) -> str:
    before, after = m["anxiety_before"], m["anxiety_after"]
    if before is None and after is None:
        return section(
            "ratings", "Self-ratings", missing("No self-ratings were recorded for this session.")
        )
    change = None if before is None or after is None else after - before
    rows = [
        ("Anxiety before (0–10)", fmt(before, 0) if before is not None else "not recorded"),
        ("Anxiety after (0–10)", fmt(after, 0) if after is not None else "not recorded"),
        ("Change", "—" if change is None else esc(f"{change:+.0f}")),
    ]
    return section("ratings", "Self-ratings", kv_table(rows, table_id="ratings-table"))


def _notes_section(meta: dict[str, Any]) -> str:
    notes = meta.get("notes")
    if not isinstance(notes, str) or not notes.strip():
        return section("notes", "Notes", missing("No notes."))
    return section("notes", "Notes", f'<div class="notes">{esc(notes.strip())}</div>')


def _script_section(rec: RecordedSession, segs: list[metrics.Segment]) -> str:
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    script = protocol.get("script") if isinstance(protocol.get("script"), dict) else {}
    planned = ""
    if script:
        planned = (
            "<p>Planned: "
            + esc(
                f"baseline eyes open {script.get('baseline_eyes_open', 0)} min, eyes closed "
                f"{script.get('baseline_eyes_closed', 0)} min, {script.get('blocks', 0)} blocks "
                f"of {script.get('block_min', 0)} min with {script.get('rest_min', 0)} min rests"
            )
            + ".</p>"
        )
    desc = protocol.get("description")
    intro = f"<p>{esc(desc)}</p>" if isinstance(desc, str) and desc else ""
    if not segs:
        return section("script", "Script", intro + planned + missing("No step was started."))
    rows = [
        [
            esc(s.label),
            esc(duration(metrics.timeline_s(rec, s.start))),
            esc(duration(metrics.timeline_s(rec, s.stop) - metrics.timeline_s(rec, s.start))),
        ]
        for s in segs
    ]
    return section(
        "script",
        "Script as run",
        intro
        + planned
        + table(
            ["Step", "Start", "Duration"],
            rows,
            numeric=[1, 2],
            table_id="script-table",
            compact=True,
        ),
    )


def _start_text(meta: dict[str, Any]) -> str:
    unix = meta.get("start_unix")
    if isinstance(unix, int | float) and not isinstance(unix, bool):
        return datetime.fromtimestamp(float(unix), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(meta.get("start_time") or "—")


def build_session_report(
    session: str | os.PathLike | RecordedSession, *, unblind: bool = False
) -> str:
    """Render the HTML report of one session.

    Parameters
    ----------
    session : path-like | RecordedSession
        A session folder or a session already read.
    unblind : bool
        Reveal which blocks were sham (``meta["blinding"]``). Without it the report says that
        the session has blinded blocks and nothing else about them.

    Returns
    -------
    html : str
        One self-contained HTML document.
    """
    rec = session if isinstance(session, RecordedSession) else read_session(session)
    meta = rec.meta
    segs = metrics.segments(rec)
    blocks = metrics.block_metrics(rec, unblind=unblind)
    m = metrics.session_metrics(rec)
    _, channel, channel_note = metrics.trained_signal(rec)
    spectra = metrics.condition_spectra(rec)
    powers = metrics.band_powers(rec, spectra)
    status = rec.status

    summary_items = [
        ("Client", esc(m["client"] or "—")),
        ("Protocol", esc(m["protocol"] or "—")),
        ("Device", esc(m["device"] or "—")),
        ("Mains", esc(_mains_text(meta))),
        ("Date", esc(_start_text(meta))),
        ("Duration", esc(duration(m["duration_s"]))),
        ("Status", f'<span class="tag status-{esc(status)}">{esc(status)}</span>'),
        ("Trained channel", esc(channel)),
        ("Feature", esc(_feature_label(meta))),
        ("Blocks scored", fmt(m["n_blocks"])),
        ("Reward (all blocks)", fmt(m["reward_pct"], 1, " %")),
        ("Target", fmt(m["target_pct"], 0, " %")),
        ("Artefact", fmt(m["artefact_pct"], 1, " %")),
    ]
    summary = card(summary_items)
    notes = [STATUS_NOTES[status]] if status in STATUS_NOTES else []
    if channel_note:
        notes.append(channel_note)
    summary += "".join(note(n) for n in notes)
    summary += f'<p class="subtitle">Session {esc(m["session_id"])}</p>'
    body = [
        section("summary", "Summary", summary),
        _feature_section(rec, segs),
        _reward_section(rec, blocks, unblind),
        _blinding_section(rec, unblind),
        _script_section(rec, segs),
        _bands_section(rec, powers, channel),
        _spectra_section(rec, spectra, channel),
        _quality_section(rec, m, blocks, unblind),
        _markers_section(rec),
        _ratings_section(m),
        _notes_section(meta),
    ]
    logger.info("report of %s: %d blocks, status %s", rec.path, len(blocks), status)
    subtitle = f"{m['protocol'] or 'session'} · client {m['client']} · {_start_text(meta)}"
    return page(
        "Neurofeedback session report",
        subtitle,
        "\n".join(b for b in body if b),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
