"""Annotations of a recorded session: steps, markers, pauses, outages and inhibits.

Derived from the events and frames alone, so a live session, its replay and a re-scored
copy give the same annotations (:func:`session_annotations`). Onsets are on the session's
timeline (:func:`~nfb.session.format.timeline_index`): a sample's time counts the samples
missing before it, as in the MNE Raw, where the gap records' missing samples are inserted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from .format import GAP_ANNOTATIONS, session_gaps, timeline_index


def _step_description(event: dict[str, Any], counters: dict[str, int]) -> str:
    name = str(event.get("name") or "step")
    if name.startswith("baseline_"):
        return "baseline/" + name[len("baseline_") :]
    if name == "baseline":
        return name
    block = event.get("block")
    if block is not None:
        return f"{name}/{block}"
    counters[name] += 1
    return f"{name}/{counters[name]}"


def session_annotations(
    events: list[dict[str, Any]], frames: np.ndarray, sfreq: float, n_samples: int
) -> list[tuple[float, float, str]]:
    """Derive annotations from a session's events and frames.

    Parameters
    ----------
    events : list of dict
        The session events.
    frames : structured array
        The frames (``sample_index`` and ``inhibit_<kind>`` fields are used).
    sfreq : float
        Sampling frequency.
    n_samples : int
        Number of samples; open intervals end at the last sample.

    Returns
    -------
    annotations : list of (float, float, str)
        ``(onset_s, duration_s, description)`` sorted by onset, with descriptions:
        ``baseline/eyes_open``, ``baseline/eyes_closed``, ``block/<n>``, ``rest/<n>`` (a step,
        from its ``step_start`` to its ``step_end``); ``marker/<label>``; ``lsl/<label>`` (a
        marker of an LSL marker stream); ``pause`` (pause to resume); ``BAD_disconnect`` and
        ``BAD_dropped`` (a gap record's missing samples; in a session recorded before gap
        records, disconnected to reconnected and ``count`` samples from a ``dropped``
        event; a board lost for good, disconnected to the end); an ``annotation`` event's
        own description; and ``inhibit/<kind>`` (a run of frames with ``inhibit_<kind>``
        true, to the last one plus one frame interval).
    """
    gaps = session_gaps(events)
    end_s = timeline_index(n_samples, gaps) / sfreq
    out: list[tuple[float, float, str]] = []

    def add(onset: float, stop: float, description: str) -> None:
        onset = min(max(float(onset), 0.0), end_s)
        stop = min(max(float(stop), onset), end_s)
        out.append((onset, stop - onset, description))

    def t(event: dict[str, Any]) -> float:
        return timeline_index(int(event["sample_index"]), gaps) / sfreq

    counters: dict[str, int] = defaultdict(int)
    open_steps: dict[Any, tuple[float, str]] = {}
    open_intervals: dict[str, float] = {}
    closers = {"resume": ("pause", "pause")}
    openers = {"pause": "pause", "disconnected": "BAD_disconnect"}
    if gaps:  # the gap records span the outages and the losses
        before = 0
        for gap in gaps:
            onset = (gap.at + before) / sfreq
            before += gap.missing
            add(onset, onset + gap.missing / sfreq, GAP_ANNOTATIONS[gap.cause])
        # a disconnection that a gap record ends is that record's
        disconnect_ends = {g.at for g in gaps if g.cause == "disconnect"}
    else:
        closers["reconnected"] = ("disconnected", "BAD_disconnect")
        disconnect_ends = set()
    for event in events:
        kind = event.get("kind")
        if "sample_index" not in event:
            continue
        if kind == "step_start":
            open_steps[event.get("step")] = (t(event), _step_description(event, counters))
        elif kind == "step_end":
            started = open_steps.pop(event.get("step"), None)
            if started is not None:
                add(started[0], t(event), started[1])
        elif kind == "marker":
            add(t(event), t(event), f"marker/{event.get('label', '')}")
        elif kind == "stream_marker":  # from an LSL marker stream (--lsl-markers)
            add(t(event), t(event), f"lsl/{event.get('label', '')}")
        elif kind in openers:
            open_intervals.setdefault(openers[kind], t(event))
        elif kind in closers:
            desc = closers[kind][1]
            if desc in open_intervals:
                add(open_intervals.pop(desc), t(event), desc)
        elif kind == "gap" and event.get("at", event["sample_index"]) in disconnect_ends:
            open_intervals.pop("BAD_disconnect", None)
        elif kind == "dropped" and not gaps:
            count = int(event.get("count", 0) or 0)
            add(t(event), t(event) + count / sfreq, "BAD_dropped")
        elif kind == "annotation":
            onset = float(event.get("onset_s", t(event)))
            add(onset, onset + float(event.get("duration_s", 0.0)), str(event["description"]))
    for onset, desc in open_steps.values():
        add(onset, end_s, desc)
    for desc, onset in open_intervals.items():
        add(onset, end_s, desc)

    names = frames.dtype.names or ()
    if frames.shape[0] and "sample_index" in names:
        index = frames["sample_index"]
        interval = int(np.median(np.diff(index))) if index.size > 1 else 1
        for name in names:
            if not name.startswith("inhibit_"):
                continue
            mask = frames[name].astype(bool)
            edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
            starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
            for first, last in zip(starts.tolist(), stops.tolist(), strict=True):
                add(
                    timeline_index(int(index[first]), gaps) / sfreq,
                    (timeline_index(int(index[last]), gaps) + interval) / sfreq,
                    f"inhibit/{name[len('inhibit_') :]}",
                )
    out.sort(key=lambda a: (a[0], a[2]))
    return out
