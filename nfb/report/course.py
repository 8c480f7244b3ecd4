"""The course report: ``nfb report --client ID --out course.html``.

A client's course of treatment on one page: the plan and where the client is, the learning
curve (per session: reward rate, the feature's mean per block against its baseline) and the
GAD-7 / PHQ-9 totals on one date axis with the GAD-7 severity bands shaded, the
Jacobson–Truax reliable change of each questionnaire from the first to the latest answers
(with the SD and test–retest r used, cited), each item's answers, then the session trends
(:mod:`nfb.report.trends`). Ids only: the client's name never appears.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import questionnaires as qs
from ..session.course import Course, Outcome, client_progress, read_course
from ..session.folders import default_sessions_dir
from . import figures
from .html import card, esc, fmt, img, kv_table, missing, note, page, section, table
from .trends import client_trends, resolve_client_id, trend_parts

NOT_MEDICAL = (
    "Questionnaire totals and reliable change describe symptoms the client reported; they "
    "are not a diagnosis. A GAD-7 of 10 or more is a positive screen that calls for a "
    "clinical assessment."
)


@dataclass(frozen=True)
class ChangeSummary:
    """The reliable change of one questionnaire over the course, and what it says."""

    measure: str
    first: Outcome
    latest: Outcome
    change: qs.ReliableChange
    sentence: str


def change_summary(course: Course, measure: str, done: int) -> ChangeSummary | None:
    """The RCI from the first to the latest answers of ``measure`` and its meaning in words.

    Parameters
    ----------
    course : Course
        The client's plan and outcomes.
    measure : str
        ``gad7`` or ``phq9``.
    done : int
        Sessions recorded so far (for the statement at the end of the planned course).

    Returns
    -------
    summary : ChangeSummary | None
        ``None`` with fewer than two answers.
    """
    answers = course.of(measure)
    if len(answers) < 2:
        return None
    first, latest = answers[0], answers[-1]
    q = first.questionnaire
    rc = qs.reliable_change(measure, first.total, latest.total)
    span = (
        f"from {first.total} ({first.severity}) on {first.date} "
        f"to {latest.total} ({latest.severity}) on {latest.date}"
    )
    if rc.reliable:
        verb = "fell" if rc.direction == "improved" else "rose"
        sentence = (
            f"The {q.name} total {verb} {span}: RCI {rc.rci:+.2f}, beyond ±{qs.RELIABLE_Z}, "
            f"a reliable {'improvement' if rc.direction == 'improved' else 'deterioration'} "
            "(a change this large would arise from measurement error alone less than 5 % "
            "of the time)."
        )
    else:
        sentence = (
            f"The {q.name} total went {span}: RCI {rc.rci:+.2f}, within ±{qs.RELIABLE_Z}, "
            f"so no reliable change (a change of at least {rc.params.min_change} points is "
            "needed)."
        )
        plan = course.plan
        if plan is not None and done >= plan.sessions:
            sentence += (
                f" After the {plan.sessions} planned sessions, no reliable change in the "
                f"{q.name} has appeared."
            )
    if latest.total >= q.cutoff:
        sentence += f" The latest total is {q.cutoff} or more: {q.cutoff_label} on screening."
    return ChangeSummary(measure, first, latest, rc, sentence)


def _utc_naive(start_time: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(start_time)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def _overview(course: Course, trends, progress_text: str) -> str:
    plan = course.plan
    items = [("Client id", esc(course.client))]
    if plan is not None:
        names = ", ".join(qs.QUESTIONNAIRES[k].name for k in plan.measures)
        items += [
            ("Protocol (plan)", esc(plan.protocol)),
            ("Planned", esc(f"{plan.sessions} sessions")),
            ("Questionnaires", esc(f"{names} every {plan.every} sessions")),
        ]
    else:
        items.append(("Plan", esc("none set (nfb course)")))
    items += [
        ("Sessions recorded", fmt(len(trends.sessions) + len(trends.skipped))),
        ("Questionnaires", fmt(len(course.outcomes))),
        ("Where", f'<span id="progress">{esc(progress_text)}</span>'),
    ]
    return card(items)


def _change_section(course: Course, done: int) -> str:
    parts = []
    for key, q in qs.QUESTIONNAIRES.items():
        if not course.of(key):
            continue
        summary = change_summary(course, key, done)
        p = qs.RCI_PARAMETERS[key]
        if summary is None:
            parts.append(
                f"<h3>{esc(q.name)}</h3>"
                + missing(f"One {q.name} so far: reliable change needs a second one.")
            )
            continue
        rc = summary.change
        attrs = (
            f'data-measure="{esc(key)}" data-rci="{rc.rci!r}" data-reliable="'
            f'{str(rc.reliable).lower()}" data-first="{rc.first}" data-latest="{rc.latest}"'
        )
        parts.append(
            f"<h3>{esc(q.name)}</h3>"
            f'<p class="rci" {attrs}>{esc(summary.sentence)}</p>'
            + kv_table(
                [
                    ("First → latest", esc(f"{rc.first} → {rc.latest} (change {rc.change:+d})")),
                    ("RCI", esc(f"{rc.rci:+.2f}")),
                    ("SD (norms)", esc(f"{p.sd:g}")),
                    ("Test–retest r", esc(f"{p.r:g}")),
                    ("SE = SD·√(1 − r)", esc(f"{p.se:.3f}")),
                    ("S_diff = √2·SE", esc(f"{p.s_diff:.3f}")),
                    ("Reliable change", esc(f"|Δ| ≥ {p.min_change} points (|RCI| > 1.96)")),
                ],
                table_id=f"rci-{key}",
            )
            + f'<p class="subtitle">{esc(p.source)}</p>'
        )
    if not parts:
        return missing("No questionnaire has been recorded (nfb outcome, or the console's form).")
    return (
        "".join(parts)
        + '<p class="subtitle">Jacobson–Truax reliable change index: RCI = (x2 − x1) / S_diff, '
        + "S_diff = √2·SE, SE = SD·√(1 − r); |RCI| &gt; 1.96 is reliable change. "
        + esc(qs.JACOBSON_TRUAX)
        + "</p>"
        + note(NOT_MEDICAL)
    )


def _outcomes_table(course: Course) -> str:
    if not course.outcomes:
        return missing("No questionnaire has been recorded.")
    rows, attrs = [], []
    for o in course.outcomes:
        q = o.questionnaire
        rows.append(
            [
                esc(o.date.isoformat()),
                esc(q.name),
                fmt(o.total),
                esc(o.severity),
                esc("yes" if o.total >= q.cutoff else "no"),
                esc(" ".join(str(v) for v in o.items)),
            ]
        )
        attrs.append(f'data-measure="{o.measure}" data-total="{o.total}" data-date="{o.date}"')
    return table(
        ["Date", "Questionnaire", "Total", "Severity", "≥ 10", "Items"],
        rows,
        numeric=[2],
        table_id="outcomes-table",
        row_attrs=attrs,
    )


def _items_tables(course: Course) -> str:
    parts = []
    for key, q in qs.QUESTIONNAIRES.items():
        answers = course.of(key)
        if not answers:
            continue
        headers = ["Item", *[o.date.strftime("%d %b") for o in answers]]
        rows = [
            [esc(f"{k + 1}. {text}"), *[fmt(o.items[k]) for o in answers]]
            for k, text in enumerate(q.items)
        ]
        rows.append([esc("Total"), *[f"<b>{o.total}</b>" for o in answers]])
        parts.append(
            f"<h3>{esc(q.name)}: {esc(q.stem)}</h3>"
            + table(headers, rows, numeric=list(range(1, len(headers))), table_id=f"items-{key}")
        )
    if not parts:
        return missing("No questionnaire has been recorded.")
    answers = ", ".join(f"{k} {a.lower()}" for k, a in enumerate(qs.ANSWERS))
    return "".join(parts) + f'<p class="subtitle">Answers: {esc(answers)}.</p>'


def build_course_report(
    client: str, sessions_dir: str | os.PathLike | None = None, *, unblind: bool = False
) -> str:
    """Render the HTML course report of a client.

    Parameters
    ----------
    client : str
        The client id, or a name known to the store's client index (the report shows the id).
    sessions_dir : path-like | None
        The store.
    unblind : bool
        Label sham blocks in the per-block table.

    Returns
    -------
    html : str
        One self-contained HTML document.

    Raises
    ------
    SessionError
        An unknown client, a client with neither sessions nor questionnaires, or a damaged
        course file.
    """
    from ..errors import SessionError

    root = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
    client_id = resolve_client_id(client, root)
    course = read_course(root, client_id)
    try:
        trends = client_trends(client_id, root, unblind=unblind)
    except SessionError:
        if not course.outcomes:
            raise
        from .trends import ClientTrends

        trends = ClientTrends(client_id)
    progress = client_progress(root, client_id)
    done = progress.done
    sessions = trends.sessions
    times = [_utc_naive(s["start_time"]) for s in sessions]
    keep = [i for i, t in enumerate(times) if t is not None]
    targets = {s["target_pct"] for s in sessions if s["target_pct"] is not None}
    # one protocol's feature on the feature axis: two protocols' features are not one scale
    shown = course_protocol(course, trends)
    mine = [s["protocol"] == shown for s in sessions]
    png = figures.course_figure(
        [times[i] for i in keep],
        [sessions[i]["reward_pct"] for i in keep],
        [[b["feature_mean"] for b in trends.blocks[i]] if mine[i] else [] for i in keep],
        [sessions[i].get("baseline_mean") if mine[i] else None for i in keep],
        {k: [(o.date, o.total) for o in course.of(k)] for k in qs.QUESTIONNAIRES},
        bands=qs.band_ranges(qs.GAD7),
        max_total=qs.PHQ9.max_total if course.of("phq9") else qs.GAD7.max_total,
        names={k: q.name for k, q in qs.QUESTIONNAIRES.items()},
        feature_label=_feature_label(trends, shown),
        target_pct=targets.pop() if len(targets) == 1 else None,
    )
    parts = [
        section("course", "Course", _overview(course, trends, progress.text)),
        section(
            "course-chart",
            "Learning curve and outcomes",
            img(png, "learning curve and outcomes")
            + '<p class="subtitle">Top: reward % per session. Middle: the feedback feature\'s '
            "mean in each training block (dots, left to right) against the session's "
            "baseline mean (orange bar)"
            + (
                f", for the sessions of {esc(shown)} (the others' features are in the trends "
                "below, each on its own axis)"
                if len(set(s["protocol"] for s in sessions)) > 1
                else ""
            )
            + ". Bottom: questionnaire totals on the same dates; the "
            "shading marks the GAD-7 bands (0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 "
            "severe).</p>",
        ),
        section("reliable-change", "Reliable change", _change_section(course, done)),
        section("outcomes", "Questionnaires", _outcomes_table(course)),
        section("items", "Answers by item", _items_tables(course)),
    ]
    if sessions or trends.skipped:
        parts += trend_parts(trends, unblind=unblind)
    else:
        parts.append(section("sessions", "Sessions", missing("No session recorded yet.")))
    labels = [s["label"] for s in sessions]
    dates = [o.date.isoformat() for o in course.outcomes] + [lab[:10] for lab in labels]
    subtitle = (
        f"{len(sessions)} session(s) and {len(course.outcomes)} questionnaire(s), "
        f"{min(dates) if dates else '—'} to {max(dates) if dates else '—'}"
    )
    return page(
        f"Course report: {client_id}",  # the id only, never the name
        subtitle,
        "\n".join(parts),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def course_protocol(course: Course, trends: Any) -> str | None:
    """The protocol whose feature the course chart draws: the plan's, if the client has a
    session of it, else that of the client's latest session (``None``: no session)."""
    sessions = trends.sessions
    planned = course.plan.protocol if course.plan is not None else None
    for s in reversed(sessions):
        if planned and planned in (s.get("protocol_slug"), s["protocol"]):
            return s["protocol"]
    return sessions[-1]["protocol"] if sessions else None


def _feature_label(trends: Any, protocol: str | None) -> str:
    """The feature axis's label: the feature and its unit (``smr, amplitude (µV)``)."""
    row = next((s for s in trends.sessions if s["protocol"] == protocol), None)
    if row is None:
        return "feature mean"
    return f"{row['feature']}, {row['feature_unit']}"
