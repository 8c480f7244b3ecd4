"""A synthetic course of treatment, so that the course report can be seen without a client.

:func:`build_demo_course` writes into a store: a client ``demo course`` (filed under a
pseudonymous id like any client), a plan (alpha up, twice a week), 12 sessions over six
weeks, and GAD-7 and PHQ-9 answers at intake, every four sessions and at the end. Each
session is generated EEG (an 8-channel cap at 250 Hz: background noise, occipital alpha
that is higher with the eyes closed and grows a little over the course, blinks) written as
a FIF file with its start date and scored by the real engine: :func:`nfb.session.replay.replay`
runs the protocol's pipeline, runner and recorder over it, so the folders are real sessions.

This is a demonstration of the software, not data: the questionnaire answers are invented.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np

from ._logging import logger

#: The cap of the demo recordings (10-20 labels).
CHANNELS = ("Fz", "C3", "Cz", "C4", "Pz", "P3", "O1", "O2")
SFREQ = 250.0
#: GAD-7 and PHQ-9 totals at intake and at the end; the visits between fall in a line.
GAD7_TOTALS = (15, 7)
PHQ9_TOTALS = (11, 6)
#: Sessions on Mondays and Thursdays, 10:00 UTC.
WEEKDAYS = (0, 3)
SESSION_TIME = time(10, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class DemoCourse:
    """What :func:`build_demo_course` made."""

    client: str
    sessions: list[Path]
    outcomes: int


def items_for(total: int, n_items: int, seed: int) -> list[int]:
    """Answers 0–3 of ``n_items`` items that add up to ``total`` (spread, deterministic)."""
    if not 0 <= total <= 3 * n_items:
        raise ValueError(f"a total of {total} needs 0-{3 * n_items}")
    rng = np.random.default_rng(seed)
    items = [total // n_items] * n_items
    for k in rng.permutation(n_items)[: total % n_items]:
        items[int(k)] += 1
    # move points between items so the answers are not all alike
    for _ in range(n_items):
        a, b = (int(v) for v in rng.choice(n_items, 2, replace=False))
        if items[a] < 3 and items[b] > 0:
            items[a] += 1
            items[b] -= 1
    return items


def session_days(start: date, n: int) -> list[date]:
    """``n`` session days from ``start`` on :data:`WEEKDAYS`."""
    days, day = [], start
    while len(days) < n:
        if day.weekday() in WEEKDAYS:
            days.append(day)
        day += timedelta(days=1)
    return days


def _eeg(
    seconds_per_step: list[tuple[str, float]], gain: float, rng: np.random.Generator
) -> np.ndarray:
    """Generated EEG (µV), channels × samples: 1/f-ish noise, alpha, blinks."""
    from scipy.signal import lfilter

    n = int(sum(s for _, s in seconds_per_step) * SFREQ)
    t = np.arange(n) / SFREQ
    white = rng.normal(0.0, 1.0, (len(CHANNELS), n))
    data = lfilter([1.0], [1.0, -0.95], white, axis=1) * 2.2 + rng.normal(0, 1.5, white.shape)
    # alpha: 10 Hz with a slowly wandering amplitude, strongest at O1/O2, stepped by condition
    envelope = np.ones(n)
    k = 0
    block = 0
    for name, seconds in seconds_per_step:
        m = int(seconds * SFREQ)
        if name == "baseline_eyes_open":
            level = 0.45
        elif name == "block":
            block += 1
            level = gain * (1.0 + 0.05 * block)  # a little higher as the session goes on
        elif name == "rest":
            level = 0.8
        else:  # eyes closed baseline
            level = 1.0
        envelope[k : k + m] = level
        k += m
    wander = 1.0 + 0.35 * np.convolve(rng.normal(0, 1, n), np.ones(125) / 125 * 3, "same")
    alpha = np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi)) * envelope * wander
    weight = {"O1": 9.0, "O2": 9.0, "P3": 6.0, "Pz": 6.0}
    for i, ch in enumerate(CHANNELS):
        data[i] += weight.get(ch, 2.5) * alpha
    # a few blinks at Fz (the amplitude inhibit withholds those frames)
    for onset in rng.uniform(2, t[-1] - 2, size=max(1, n // int(40 * SFREQ))):
        i0 = int(onset * SFREQ)
        data[0, i0 : i0 + 60] += 150 * np.hanning(60)[: n - i0]
    return data


def build_demo_course(
    sessions_dir: str | os.PathLike,
    *,
    sessions: int = 12,
    every: int = 4,
    start: date = date(2026, 9, 7),
    block_min: float = 1.0,
    blocks: int = 5,
    client_name: str = "demo course",
    seed: int = 16,
) -> DemoCourse:
    """Write a synthetic course into the store ``sessions_dir``.

    Parameters
    ----------
    sessions_dir : path-like
        The store (created if missing).
    sessions : int
        Sessions to record (12: six weeks, twice a week).
    every : int
        A GAD-7 and a PHQ-9 every this many sessions (and at intake and the end).
    start : date
        The first session's day (in the past: questionnaires are never dated ahead).
    block_min, blocks : float, int
        The length and number of training blocks per session (baselines 0.5 min eyes open,
        1 min eyes closed; rests 0.25 min).
    client_name : str
        The client's name (kept in the store's private index only).
    seed : int
        Seeds the generated EEG and answers.

    Returns
    -------
    demo : DemoCourse
        The client id, the session folders and the number of questionnaires recorded.
    """
    import mne

    from .session.clients import resolve_client
    from .session.course import make_plan, set_plan
    from .session.replay import replay
    from .session.store import update_session_meta

    root = Path(sessions_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    client = resolve_client(client_name, root)
    protocol = "alpha-up"
    set_plan(root, client, make_plan(protocol, sessions, every, ("gad7", "phq9")))
    overrides = [
        "script.baseline_eyes_open=0.5",
        "script.baseline_eyes_closed=1",
        f"script.blocks={blocks}",
        f"script.block_min={block_min}",
        "script.rest_min=0.25",
    ]
    steps: list[tuple[str, float]] = [("baseline_eyes_open", 30.0), ("baseline_eyes_closed", 60.0)]
    for b in range(blocks):
        steps.append(("block", 60.0 * block_min))
        if b + 1 < blocks:
            steps.append(("rest", 15.0))
    steps.append(("rest", 2.0))  # a little signal after the script ends: a complete session
    days = session_days(start, sessions)
    visits = [0, *range(every, sessions, every), sessions]  # sessions done before each visit
    rng = np.random.default_rng(seed)
    n_outcomes = 0
    made: list[Path] = []
    info = mne.create_info(list(CHANNELS), SFREQ, "eeg")
    with tempfile.TemporaryDirectory(prefix="nfb-demo-") as tmp:
        for k, day in enumerate(days):
            if k in visits:
                n_outcomes += _questionnaires(root, client, day, visits.index(k), visits, seed)
            when = datetime.combine(day, SESSION_TIME)
            progress = k / max(1, sessions - 1)
            gain = 0.95 + 0.35 * progress + rng.normal(0, 0.04)
            raw = mne.io.RawArray(_eeg(steps, gain, rng) * 1e-6, info, verbose="error")
            raw.set_meas_date(when)
            fif = Path(tmp) / f"session{k + 1:02d}_raw.fif"
            raw.save(fif, overwrite=True, verbose="error")
            out = root / client / f"{when:%Y%m%d-%H%M%S}-{protocol}"
            replay(fif, out, protocol=protocol, overrides=overrides, client=client, progress=False)
            before = int(np.clip(round(7 - 3.5 * progress + rng.normal(0, 0.6)), 0, 10))
            after = int(np.clip(before - 1 - round(rng.uniform(0, 1.4)), 0, 10))
            update_session_meta(
                out,
                ratings={"anxiety_before": before, "anxiety_after": after},
                notes=f"Demo session {k + 1} of {sessions} (synthetic EEG).",
            )
            made.append(out)
            logger.info("demo course: session %d of %d -> %s", k + 1, sessions, out)
    if sessions in visits:
        final = days[-1] + timedelta(days=3)
        last = len(visits) - 1
        n_outcomes += _questionnaires(root, client, min(final, date.today()), last, visits, seed)
    return DemoCourse(client, made, n_outcomes)


def _questionnaires(
    root: Path, client: str, day: date, visit: int, visits: list[int], seed: int
) -> int:
    from .session.course import add_outcome

    share = visit / max(1, len(visits) - 1)
    gad = round(GAD7_TOTALS[0] + share * (GAD7_TOTALS[1] - GAD7_TOTALS[0]))
    phq = round(PHQ9_TOTALS[0] + share * (PHQ9_TOTALS[1] - PHQ9_TOTALS[0]))
    note = "intake" if visit == 0 else ""
    add_outcome(root, client, "gad7", items_for(gad, 7, seed + visit), day, note)
    add_outcome(root, client, "phq9", items_for(phq, 9, seed + 100 + visit), day, note)
    return 2
