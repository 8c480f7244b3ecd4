"""Numbers of a recorded session: per-block and per-session statistics, band powers, spectra.

Pure computations from a :class:`~nfb.session.store.RecordedSession`: no plotting, no HTML,
no I/O beyond reading the session. Every public function returns plain Python values
(``float``, ``int``, ``str``, ``bool`` or ``None``), so the results go straight into a CSV,
JSON or an HTML table.

Times (``start_s``, a marker's ``time_s``, a disconnection's start) are on the session's
timeline (:func:`timeline_s`), as the frames' ``time_s`` and the MNE Raw's annotations are:
after an outage or a loss, a sample is later than its index over ``sfreq`` says.

Blinding: :func:`block_metrics` and :func:`session_metrics` never look at the frames'
``sham`` column nor at ``meta["blinding"]`` unless asked with ``unblind=True``; a blinded
report must not be able to leak which blocks were sham.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._logging import logger
from ..bands import DEFAULT_BANDS, resolve_bands
from ..session.format import timeline_index

if TYPE_CHECKING:  # pragma: no cover
    from ..session.store import RecordedSession

#: Frequency range of the baseline spectra and of the band-power analysis (Hz).
SPECTRUM_RANGE = (1.0, 45.0)
#: Welch segment length (s): 2 s gives a 0.5 Hz resolution, fine enough for 1 Hz wide bands.
WELCH_SECONDS = 2.0
#: Baseline steps, in the order they are reported.
BASELINES = ("baseline_eyes_open", "baseline_eyes_closed")


@dataclass(frozen=True)
class Segment:
    """One step of the session script as it was run.

    Attributes
    ----------
    step : int
        Step index (the frames' ``step`` column).
    name : str
        ``baseline_eyes_open``, ``baseline_eyes_closed``, ``block`` or ``rest``.
    block : int | None
        Block number (1-based) of a block or of the rest after it.
    label : str
        Human label (``"block 2"``).
    start, stop : int
        Sample indices ``[start, stop)``.
    """

    step: int
    name: str
    block: int | None
    label: str
    start: int
    stop: int


def _num(value: Any) -> float | None:
    """A finite float, or ``None`` (JSON null, NaN, text...)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def sorted_events(rec: RecordedSession) -> list[dict[str, Any]]:
    """The session events in sample order (stable: same-sample events keep file order).

    A replay writes carried events (dropped samples, disconnections) at chunk boundaries, so
    the file order is not always the sample order.
    """
    return sorted(rec.events, key=lambda e: int(e.get("sample_index", 0)))


def segments(rec: RecordedSession) -> list[Segment]:
    """The script steps of a session, from its ``step_start``/``step_end`` events.

    A step still open at the end (an interrupted or recovered session) ends at the last
    sample.

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    segments : list of Segment
        In the order the steps started.
    """
    out: list[Segment] = []
    open_steps: dict[Any, dict[str, Any]] = {}
    for ev in sorted_events(rec):
        kind = ev.get("kind")
        if kind == "step_start":
            open_steps[ev.get("step")] = ev
        elif kind == "step_end" and ev.get("step") in open_steps:
            start = open_steps.pop(ev.get("step"))
            out.append(_segment(start, int(ev["sample_index"])))
    out.extend(_segment(ev, rec.n_samples) for ev in open_steps.values())
    out.sort(key=lambda s: (s.start, s.step))
    return out


def _segment(start_event: dict[str, Any], stop: int) -> Segment:
    name = str(start_event.get("name") or "step")
    block = start_event.get("block")
    block = int(block) if isinstance(block, int) and not isinstance(block, bool) else None
    step = start_event.get("step")
    label = str(start_event.get("label") or name.replace("_", " "))
    return Segment(
        step=int(step) if isinstance(step, int) else -1,
        name=name,
        block=block,
        label=label,
        start=int(start_event["sample_index"]),
        stop=max(int(stop), int(start_event["sample_index"])),
    )


# ------------------------------------------------------------------------------ signal
def trained_signal(rec: RecordedSession) -> tuple[np.ndarray, str, str | None]:
    """The raw EEG of the trained channel(s), derived as the protocol derives it.

    One channel, the mean of several, or a bipolar pair (``"Cz-Pz"``), named by the
    protocol's ``signal.channels`` and mapped to the device's electrodes through
    ``meta["channel_map"]``.

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    signal : ndarray, shape (n_samples,)
        The derived signal in µV (unfiltered).
    label : str
        What it is, e.g. ``"Pz"``, ``"mean of O1, O2"``, ``"Cz − Pz"``.
    note : str | None
        Why the channel was guessed, when the session does not say.
    """
    names = rec.ch_names
    rows = [int(r) for r in rec.layout.get("eeg_rows", [])]
    if not names or len(rows) != len(names) or rec.n_samples == 0:
        return np.empty(0), "no EEG", "the session has no EEG samples"
    index = {c: i for i, c in enumerate(names)}
    cmap = {str(k): str(v) for k, v in (rec.meta.get("channel_map") or {}).items()}
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    spec = (protocol.get("signal") or {}).get("channels")

    def device(label: str) -> str | None:
        got = cmap.get(label, label)
        return got if got in index else None

    samples = rec.samples
    if isinstance(spec, str) and "-" in spec:
        a, b = (device(x) for x in spec.split("-", 1))
        if a is not None and b is not None:
            x = samples[rows[index[a]]] - samples[rows[index[b]]]
            return x, f"{a} − {b}", None
    labels = [spec] if isinstance(spec, str) else list(spec or [])
    chosen = list(dict.fromkeys(d for d in map(device, labels) if d is not None))
    note = None
    if not chosen:
        chosen = list(dict.fromkeys(v for v in cmap.values() if v in index))
    if not chosen:
        chosen = [names[0]]
        note = f"the session does not name its trained channel; {names[0]} is shown"
    x = np.mean([samples[rows[index[c]]] for c in chosen], axis=0)
    label = chosen[0] if len(chosen) == 1 else "mean of " + ", ".join(chosen)
    return x, label, note


def welch_psd(
    x: np.ndarray,
    sfreq: float,
    fmin: float = 1.0,
    fmax: float = 45.0,
    *,
    clean: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Power spectral density by Welch's method: 2 s Hann windows, half overlap, mean.

    The mean of the periodograms, as MNE's ``psd_array_welch`` does: unbiased for
    oscillations too (scipy's median average is bias-corrected for noise only, and reports a
    pure 10 Hz sine about 40 % too strong). Artefacts are kept out by dropping the windows
    that touch a sample marked not ``clean`` instead.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Signal in µV.
    sfreq : float
        Sampling frequency (Hz).
    fmin, fmax : float
        Frequency range returned.
    clean : ndarray of bool, shape (n,) | None
        Samples free of artefacts; windows with any other sample are left out.

    Returns
    -------
    freqs, psd : ndarray
        Frequencies (Hz) and PSD (µV²/Hz); ``None`` if the signal is shorter than 1 s or no
        clean window is left. A signal shorter than 2 s is one window.
    """
    x = np.asarray(x, dtype=float)
    if x.size < sfreq:
        return None
    nper = int(min(x.size, round(WELCH_SECONDS * sfreq)))
    return _psd_of_windows(_windows(x, [(0, x.size)], nper, clean), sfreq, fmin, fmax)


def _windows(
    x: np.ndarray, spans: list[tuple[int, int]], nper: int, clean: np.ndarray | None
) -> np.ndarray:
    """Welch windows (half overlap) of each span of ``x``, without unclean or NaN windows."""
    from numpy.lib.stride_tricks import sliding_window_view

    out = []
    hop = max(1, nper // 2)
    for start, stop in spans:
        if stop - start < nper:
            continue
        win = sliding_window_view(x[start:stop], nper)[::hop]
        ok = np.isfinite(win).all(axis=1)
        if clean is not None:
            ok &= sliding_window_view(clean[start:stop], nper)[::hop].all(axis=1)
        out.append(win[ok])
    return np.concatenate(out) if out else np.empty((0, nper))


def _psd_of_windows(
    windows: np.ndarray, sfreq: float, fmin: float, fmax: float
) -> tuple[np.ndarray, np.ndarray] | None:
    from scipy.signal import periodogram

    if windows.shape[0] == 0:
        return None
    # the same estimate as scipy.signal.welch (periodic Hann, density, constant detrend)
    freqs, pxx = periodogram(windows, fs=sfreq, window="hann", detrend="constant", axis=-1)
    psd = pxx.mean(axis=0)
    keep = (freqs >= fmin) & (freqs <= min(fmax, sfreq / 2))
    return freqs[keep], psd[keep]


def clean_samples(rec: RecordedSession) -> np.ndarray:
    """Samples free of artefacts: not covered by an inhibited frame.

    A frame covers the ``step`` samples that end at its ``sample_index``; the inhibits' own
    hold time already extends them past the artefact.

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    clean : ndarray of bool, shape (n_samples,)
    """
    n = rec.n_samples
    frames = rec.frames
    if not frames.size:
        return np.ones(n, bool)
    index = frames["sample_index"]
    step = int(np.median(np.diff(index))) if index.size > 1 else 1
    bad = index[frames["inhibited"].astype(bool)]
    edges = np.zeros(n + 1, np.int64)
    np.add.at(edges, np.clip(bad - step + 1, 0, n), 1)
    np.add.at(edges, np.clip(bad + 1, 0, n), -1)
    return np.cumsum(edges[:n]) == 0


def _band_power(freqs: np.ndarray, psd: np.ndarray, lo: float, hi: float) -> float | None:
    mask = (freqs >= lo) & (freqs < hi)
    if not mask.any():
        return None
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    return float(psd[mask].sum() * df)


def analysis_bands(sfreq: float) -> dict[str, tuple[float, float]]:
    """The default bands (:data:`nfb.bands.DEFAULT_BANDS`) this sampling rate can see.

    Bands within :data:`SPECTRUM_RANGE`; the EMG band (55–95 Hz) is left out: it is an
    inhibit, not a band anyone trains, and its power is mostly mains and muscle.
    """
    bands = resolve_bands(None, sfreq)
    return {
        name: edges
        for name, edges in bands.items()
        if name in DEFAULT_BANDS and edges[1] <= SPECTRUM_RANGE[1]
    }


def _segment_psd(
    x: np.ndarray, sfreq: float, segs: list[Segment], clean: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The Welch PSD over several segments: the clean windows of every segment averaged
    together (so longer segments weigh more, and the joins between blocks are never inside a
    window)."""
    nper = round(WELCH_SECONDS * sfreq)
    spans = [(s.start, min(s.stop, x.size)) for s in segs]
    return _psd_of_windows(_windows(x, spans, nper, clean), sfreq, *SPECTRUM_RANGE)


def condition_spectra(rec: RecordedSession) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spectra of the trained signal per condition (1–45 Hz).

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    spectra : dict
        ``"baseline_eyes_open"``, ``"baseline_eyes_closed"`` and ``"training"`` (all blocks)
        to ``(freqs, psd)`` in Hz and µV²/Hz, from the 2 s windows free of inhibited frames
        (see :func:`clean_samples`); a condition the session lacks, or without a clean 2 s
        window, is absent.
    """
    x, _, _ = trained_signal(rec)
    if x.size == 0:
        return {}
    segs = segments(rec)
    clean = clean_samples(rec)
    out = {}
    for name in (*BASELINES, "training"):
        want = "block" if name == "training" else name
        got = _segment_psd(x, rec.sfreq, [s for s in segs if s.name == want], clean)
        if got is not None:
            out[name] = got
    return out


def band_powers(
    rec: RecordedSession, spectra: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> dict[str, dict[str, float | None]]:
    """Absolute band power of the trained signal per condition.

    Parameters
    ----------
    rec : RecordedSession
        The session.
    spectra : dict | None
        The output of :func:`condition_spectra`, if already computed.

    Returns
    -------
    powers : dict
        Condition (``baseline_eyes_open``, ``baseline_eyes_closed``, ``training``) to
        ``{band: power}`` in µV² (the PSD integrated over the band), for the bands of
        :func:`analysis_bands`.
    """
    if spectra is None:
        spectra = condition_spectra(rec)
    bands = analysis_bands(rec.sfreq)
    return {
        cond: {b: _band_power(f, p, lo, hi) for b, (lo, hi) in bands.items()}
        for cond, (f, p) in spectra.items()
    }


# ------------------------------------------------------------------------------ frames
def _paused_mask(rec: RecordedSession, index: np.ndarray) -> np.ndarray:
    """Frames recorded while the session was paused (they are never scored)."""
    mask = np.zeros(index.size, bool)
    since = None
    for ev in sorted_events(rec):
        if ev.get("kind") == "pause" and since is None:
            since = int(ev["sample_index"])
        elif ev.get("kind") == "resume" and since is not None:
            mask |= (index >= since) & (index < int(ev["sample_index"]))
            since = None
    if since is not None:
        mask |= index >= since
    return mask


def inhibit_kinds(rec: RecordedSession) -> list[str]:
    """The inhibit kinds recorded in the frames (``inhibit_<kind>`` columns)."""
    names = rec.frames.dtype.names or ()
    return [n[len("inhibit_") :] for n in names if n.startswith("inhibit_")]


def _episodes(mask: np.ndarray) -> int:
    """Number of runs of consecutive true values."""
    if mask.size == 0:
        return 0
    m = mask.astype(np.int8)
    return int(m[0] + np.count_nonzero(np.diff(m) == 1))


def sham_blocks(rec: RecordedSession) -> list[int]:
    """The 1-based indices of the sham blocks in ``meta["blinding"]`` (empty if none).

    Only call this when the user asked to unblind.
    """
    blinding = rec.meta.get("blinding")
    if not isinstance(blinding, dict):
        return []
    got = blinding.get("sham_blocks") or []
    return sorted({int(b) for b in got if isinstance(b, int) and not isinstance(b, bool)})


def is_blinded(rec: RecordedSession) -> bool:
    """Whether the session has a ``blinding`` record (reveals nothing about which blocks)."""
    return isinstance(rec.meta.get("blinding"), dict)


def target_rate(rec: RecordedSession) -> float | None:
    """The protocol's target reward rate (0–1), or ``None``."""
    protocol = rec.meta.get("protocol")
    if not isinstance(protocol, dict):
        return None
    return _num((protocol.get("reward") or {}).get("target_rate"))


def _block_spans(rec: RecordedSession) -> list[dict[str, Any]]:
    """Blocks as ``{index, start, stop, step, meta}``: the runner's summary when the session has
    one, else the block steps of the events (an interrupted session has no summary)."""
    steps = {s.block: s for s in segments(rec) if s.name == "block"}
    spans = []
    for b in rec.meta.get("blocks") or []:
        if not isinstance(b, dict) or not isinstance(b.get("index"), int):
            continue
        seg = steps.get(int(b["index"]))
        start = b.get("start_sample")
        stop = b.get("end_sample")
        start = int(start) if isinstance(start, int) else (seg.start if seg else 0)
        stop = int(stop) if isinstance(stop, int) else (seg.stop if seg else rec.n_samples)
        step = seg.step if seg is not None else None
        spans.append(
            {"index": int(b["index"]), "start": start, "stop": stop, "step": step, "meta": b}
        )
    if spans:
        return spans
    return [
        {
            "index": s.block if s.block is not None else i + 1,
            "start": s.start,
            "stop": s.stop,
            "step": s.step,
        }
        for i, s in enumerate(x for x in segments(rec) if x.name == "block")
    ]


def _block_frames(rec: RecordedSession, span: dict[str, Any]) -> np.ndarray:
    """The frames of a block: by the frames' ``step`` column when the step is known (the
    frame at a step's first sample still belongs to the step before), else by sample range."""
    frames = rec.frames
    if not frames.size:
        return np.zeros(0, bool)
    names = frames.dtype.names or ()
    if span.get("step") is not None and "step" in names:
        return frames["step"] == span["step"]
    index = frames["sample_index"]
    return (index > span["start"]) & (index <= span["stop"])


def block_metrics(rec: RecordedSession, *, unblind: bool = False) -> list[dict[str, Any]]:
    """Statistics of each training block.

    Reward rate and mean feature come from the runner's summary in ``session.json`` (the
    numbers the practitioner saw) when present, else from the frames (paused frames left
    out, as the runner does).

    Parameters
    ----------
    rec : RecordedSession
        The session.
    unblind : bool
        Add ``sham`` (bool) from ``meta["blinding"]``, and ``own_reward_pct`` and
        ``own_feature_mean``: the client's own scoring, which in a sham block differs from
        the yoked feedback shown. Without it nothing about sham blocks is read, so the result
        is safe to show to a blinded rater.

    Returns
    -------
    blocks : list of dict
        One dict per block with ``index`` (1-based), ``label``, ``start_s``, ``duration_s``,
        ``n_frames``, ``reward_pct``, ``target_pct``, ``feature_mean``, ``feature_sd``,
        ``threshold_mean``, ``inhibited_pct``, ``inhibit_<kind>_count`` (episodes) for each
        recorded inhibit, and ``<band>_uv2`` (band power of the trained signal, artefact
        windows left out as in :func:`condition_spectra`); ``None`` where unknown.
    """
    frames = rec.frames
    index = frames["sample_index"] if frames.size else np.empty(0, np.int64)
    paused = _paused_mask(rec, index)
    kinds = inhibit_kinds(rec)
    target = target_rate(rec)
    sham = set(sham_blocks(rec)) if unblind else set()
    x, _, _ = trained_signal(rec)
    clean = clean_samples(rec)
    nper = round(WELCH_SECONDS * rec.sfreq)
    bands = analysis_bands(rec.sfreq)
    out = []
    for span in _block_spans(rec):
        sel = _block_frames(rec, span)
        scored = sel & ~paused
        n = int(scored.sum())
        meta = span.get("meta") or {}
        values = frames["value"][scored] if n else np.empty(0)
        finite = values[np.isfinite(values)]
        reward = _num(meta.get("reward_rate"))
        if reward is None and n:
            reward = float(frames["reward"][scored].mean())
        mean_value = _num(meta.get("mean_value"))
        if mean_value is None and finite.size:
            mean_value = float(finite.mean())
        thr = frames["threshold"][scored] if n else np.empty(0)
        thr = thr[np.isfinite(thr)]
        inhibited = _num(meta.get("inhibited_rate"))
        if inhibited is None and n:
            inhibited = float(frames["inhibited"][scored].mean())
        row: dict[str, Any] = {
            "index": span["index"],
            "label": f"block {span['index']}",
            "start_s": round(timeline_s(rec, span["start"]), 3),
            "duration_s": round(timeline_s(rec, span["stop"]) - timeline_s(rec, span["start"]), 3),
            "n_frames": int(meta["n_frames"]) if isinstance(meta.get("n_frames"), int) else n,
            "reward_pct": None if reward is None else 100.0 * reward,
            "target_pct": None if target is None else 100.0 * target,
            "feature_mean": mean_value,
            "feature_sd": float(finite.std()) if finite.size > 1 else None,
            "threshold_mean": float(thr.mean()) if thr.size else None,
            "inhibited_pct": None if inhibited is None else 100.0 * inhibited,
        }
        for kind in kinds:
            row[f"inhibit_{kind}_count"] = _episodes(frames[f"inhibit_{kind}"][sel])
        psd = _psd_of_windows(
            _windows(x, [(span["start"], min(span["stop"], x.size))], nper, clean),
            rec.sfreq,
            *SPECTRUM_RANGE,
        )
        for name, (lo, hi) in bands.items():
            row[f"{name}_uv2"] = None if psd is None else _band_power(*psd, lo, hi)
        if unblind:
            row["sham"] = span["index"] in sham
            # a sham session records the client's own scoring beside the yoked feedback
            own_reward = _num(meta.get("own_reward_rate"))
            row["own_reward_pct"] = None if own_reward is None else 100.0 * own_reward
            row["own_feature_mean"] = _num(meta.get("own_mean_value"))
        out.append(row)
    return out


def timeline_s(rec: RecordedSession, index: Any) -> Any:
    """Seconds from the session's first sample to sample(s) ``index`` on its timeline.

    Parameters
    ----------
    rec : RecordedSession
    index : int or int array
        Sample indices (a frame's or an event's ``sample_index``).

    Returns
    -------
    seconds : float or float array
        The index plus the samples the gap records say are missing before it, over
        ``sfreq`` (:func:`~nfb.session.format.timeline_index`): a frame's ``time_s``.
    """
    return timeline_index(index, rec.gaps) / rec.sfreq


def _lost_s(rec: RecordedSession, index: int) -> float:
    """Seconds on the timeline at which the board was lost, the last sample before ``index``
    plus one period (not counting the gap that ``index`` starts after)."""
    return (timeline_index(int(index) - 1, rec.gaps) + 1) / rec.sfreq


def markers(rec: RecordedSession) -> list[dict[str, Any]]:
    """The ``marker`` events as ``{time_s, label, note}`` (raw text: escape before display)."""
    return [
        {
            "time_s": timeline_s(rec, int(ev["sample_index"])),
            "label": str(ev.get("label") or ""),
            "note": str(ev.get("note") or ""),
        }
        for ev in sorted_events(rec)
        if ev.get("kind") == "marker"
    ]


def disconnections(rec: RecordedSession) -> list[tuple[float, float | None]]:
    """Disconnected intervals ``(start_s, duration_s)``; duration ``None`` if never back.

    On the timeline: a disconnection a gap record ends lasts that record's missing samples
    (in a session recorded before gap records, disconnected to reconnected).
    """
    ends = {g.at: g for g in rec.gaps if g.cause == "disconnect"}
    out: list[tuple[float, float | None]] = []
    since = None
    for ev in sorted_events(rec):
        kind = ev.get("kind")
        if kind == "disconnected" and since is None:
            since = _lost_s(rec, int(ev["sample_index"]))
        elif since is None:
            continue
        elif kind == "gap" and ev.get("at", ev["sample_index"]) in ends:
            gap = ends[ev.get("at", ev["sample_index"])]
            out.append((since, gap.missing / rec.sfreq))
            since = None
        elif kind == "reconnected" and not ends:
            out.append((since, max(0.0, timeline_s(rec, int(ev["sample_index"])) - since)))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def rating(rec: RecordedSession, key: str) -> float | None:
    """A self-rating from ``meta["ratings"]`` (0–10), or ``None`` if missing or out of range."""
    ratings = rec.meta.get("ratings")
    value = _num(ratings.get(key)) if isinstance(ratings, dict) else None
    if value is not None and not 0 <= value <= 10:
        logger.warning("%s: rating %s = %s is not 0-10; ignored", rec.path, key, value)
        return None
    return value


def session_metrics(rec: RecordedSession) -> dict[str, Any]:
    """One flat row of numbers describing a session (for a trends table or a CSV).

    Never reads which blocks were sham (see :func:`block_metrics` with ``unblind``).

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    metrics : dict
        ``client``, ``session_id``, ``protocol``, ``start_time``, ``status``, ``device``,
        ``channels`` (str); ``duration_s``, ``n_blocks``, ``reward_pct`` (frame-weighted over
        the blocks), ``target_pct``, ``feature_mean`` (frame-weighted), ``inhibited_pct``
        (of block frames), ``artefact_pct`` (of all frames), ``inhibit_<kind>_count``,
        ``dropped_samples``, ``disconnections``, ``n_markers``, ``anxiety_before``,
        ``anxiety_after``, ``blinded`` (bool), and ``<condition>_<band>_uv2`` for the
        conditions ``eyes_open``, ``eyes_closed`` and ``training``; ``None`` where unknown.
    """
    meta = rec.meta
    protocol = meta.get("protocol") if isinstance(meta.get("protocol"), dict) else {}
    blocks = block_metrics(rec)
    _, channel_label, _ = trained_signal(rec)

    def weighted(key: str) -> float | None:
        pairs = [(b[key], b["n_frames"]) for b in blocks if b[key] is not None]
        total = sum(w for _, w in pairs)
        if not pairs:
            return None
        if total == 0:
            return float(np.mean([v for v, _ in pairs]))
        return float(sum(v * w for v, w in pairs) / total)

    frames = rec.frames
    kinds = inhibit_kinds(rec)
    target = target_rate(rec)
    events = sorted_events(rec)
    dropped_events = sum(int(e.get("count") or 0) for e in events if e.get("kind") == "dropped")
    dropped_meta = meta.get("dropped_samples")
    dropped = (
        int(dropped_meta)
        if isinstance(dropped_meta, int) and not isinstance(dropped_meta, bool)
        else dropped_events
    )
    out: dict[str, Any] = {
        "client": str(meta.get("client") or ""),
        "session_id": str(meta.get("session_id") or rec.path.name),
        "protocol": str(protocol.get("name") or meta.get("protocol_slug") or ""),
        "start_time": str(meta.get("start_time") or ""),
        "status": rec.status,
        "device": str((meta.get("device") or {}).get("name") or ""),
        "channels": channel_label,
        "duration_s": timeline_s(rec, rec.n_samples),
        "n_blocks": len(blocks),
        "reward_pct": weighted("reward_pct"),
        "target_pct": None if target is None else 100.0 * target,
        "feature_mean": weighted("feature_mean"),
        "inhibited_pct": weighted("inhibited_pct"),
        "artefact_pct": float(100.0 * frames["inhibited"].mean()) if frames.size else None,
    }
    for kind in kinds:
        out[f"inhibit_{kind}_count"] = _episodes(frames[f"inhibit_{kind}"])
    out["dropped_samples"] = dropped
    out["disconnections"] = len(disconnections(rec))
    out["n_markers"] = sum(1 for e in events if e.get("kind") == "marker")
    out["anxiety_before"] = rating(rec, "anxiety_before")
    out["anxiety_after"] = rating(rec, "anxiety_after")
    out["blinded"] = is_blinded(rec)
    powers = band_powers(rec)
    for cond, short in (
        ("baseline_eyes_open", "eyes_open"),
        ("baseline_eyes_closed", "eyes_closed"),
        ("training", "training"),
    ):
        for band in analysis_bands(rec.sfreq):
            out[f"{short}_{band}_uv2"] = powers.get(cond, {}).get(band)
    return out


def baseline_feature_mean(rec: RecordedSession) -> float | None:
    """The feedback feature's mean in the protocol's baseline (``feedback.baseline``), the
    reference the blocks' means are compared with; the other baseline if that one is
    missing, ``None`` without either."""
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    feedback = protocol.get("feedback") if isinstance(protocol.get("feedback"), dict) else {}
    own = f"baseline_{feedback.get('baseline') or 'eyes_open'}"
    baseline = rec.meta.get("baseline") if isinstance(rec.meta.get("baseline"), dict) else {}
    for name in (own, *(b for b in BASELINES if b != own)):
        stats = baseline.get(name)
        value = stats.get("value") if isinstance(stats, dict) else None
        mean = _num(value.get("mean")) if isinstance(value, dict) else None
        if mean is not None:
            return mean
    return None


def baseline_coverage(rec: RecordedSession) -> dict[str, dict[str, float]]:
    """How much of each recorded baseline the artefact inhibits left usable.

    Parameters
    ----------
    rec : RecordedSession
        The session.

    Returns
    -------
    coverage : dict
        For each baseline step of :data:`BASELINES` that was run: ``seconds`` (its length on
        the session's timeline) and ``inhibited_pct`` (its frames under an inhibit, 0–100;
        NaN without frames). A baseline that was not run is absent.
    """
    frames = rec.frames
    names = frames.dtype.names or ()
    out: dict[str, dict[str, float]] = {}
    for seg in segments(rec):
        if seg.name not in BASELINES:
            continue
        entry = out.setdefault(seg.name, {"seconds": 0.0, "n": 0, "n_inhibited": 0})
        entry["seconds"] += timeline_s(rec, seg.stop) - timeline_s(rec, seg.start)
        if frames.size and "step" in names and seg.step >= 0:
            sel = frames["step"] == seg.step
        elif frames.size:
            sel = (frames["sample_index"] > seg.start) & (frames["sample_index"] <= seg.stop)
        else:
            continue
        entry["n"] += int(sel.sum())
        entry["n_inhibited"] += int(frames["inhibited"][sel].sum())
    return {
        name: {
            "seconds": float(e["seconds"]),
            "inhibited_pct": 100.0 * e["n_inhibited"] / e["n"] if e["n"] else math.nan,
        }
        for name, e in out.items()
    }


def threshold_origin(rec: RecordedSession) -> str:
    """Where the session's first reward threshold came from, as the end of a sentence that
    starts "the threshold ...".

    ``"came from the eyes-closed baseline"``, ``"came from the automatic rule during the
    first 12 s of training"``, ``"was set by hand"``, ``"was reused from session …"``,
    ``"was the protocol's fixed value (3)"`` or ``"was never set"``.
    """
    first = next((e for e in sorted_events(rec) if e.get("kind") == "threshold"), None)
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    fixed = _num((protocol.get("reward") or {}).get("threshold"))
    if first is None:
        if fixed is not None:
            return f"was the protocol's fixed value ({fixed:g})"
        return "was never set"
    source = first.get("source")
    if source == "baseline":
        name = first.get("baseline")
        label = CONDITION_NAMES.get(name) if isinstance(name, str) else None
        return f"came from the {label}" if label else "came from a baseline"
    if source == "manual":
        return "was set by hand"
    if source == "reused":
        return f"was reused from session {first.get('session') or 'of the same protocol'}"
    if source == "auto":
        blocks = [s for s in segments(rec) if s.name == "block"]
        at = int(first["sample_index"])
        if blocks and blocks[0].start <= at:
            seconds = timeline_s(rec, at) - timeline_s(rec, blocks[0].start)
            return f"came from the automatic rule during the first {seconds:.0f} s of training"
        return "came from the automatic rule during training"
    return "was set during the session"


#: Baselines named as a sentence says them.
CONDITION_NAMES = {
    "baseline_eyes_open": "eyes-open baseline",
    "baseline_eyes_closed": "eyes-closed baseline",
}


def baseline_unusable_text(rec: RecordedSession, name: str, coverage: dict[str, float]) -> str:
    """Why a recorded baseline gave no spectrum (inhibited throughout, or too short), as a
    sentence; :func:`threshold_origin` says what the threshold came from instead.

    Parameters
    ----------
    rec : RecordedSession
        The session.
    name : str
        The baseline step (``baseline_eyes_open``...).
    coverage : dict
        Its entry of :func:`baseline_coverage`.
    """
    label = CONDITION_NAMES.get(name, name.replace("_", " "))
    seconds, pct = coverage["seconds"], coverage["inhibited_pct"]
    if seconds < WELCH_SECONDS:
        why = f"was recorded ({seconds:.0f} s) but is shorter than a {WELCH_SECONDS:g} s window"
    elif math.isfinite(pct) and pct >= 99.5:
        why = f"was recorded ({seconds:.0f} s) but fully inhibited (artefacts throughout)"
    else:
        why = (
            f"was recorded ({seconds:.0f} s) but inhibited in {pct:.0f} % of its frames, "
            f"leaving no {WELCH_SECONDS:g} s stretch free of inhibits"
        )
    return f"The {label} {why}."


_BAND_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(@[A-Za-z0-9]+(-[A-Za-z0-9]+)?)?")


def feature_axis(meta: dict[str, Any]) -> tuple[str, str]:
    """The feedback feature of a session and its unit, for an axis label.

    Parameters
    ----------
    meta : dict
        The session's ``session.json``.

    Returns
    -------
    feature, unit : str
        The protocol's ``feedback.feature`` (``"smr"``, ``"theta / alpha"``) and its unit:
        ``"amplitude (µV)"`` or ``"power (µV²)"`` for a band (``feedback.measure``),
        ``"ratio (no unit)"`` for a ratio or a log-ratio, ``"z (baseline sd)"`` when z-scored.
    """
    protocol = meta.get("protocol") if isinstance(meta.get("protocol"), dict) else {}
    fb = protocol.get("feedback") if isinstance(protocol.get("feedback"), dict) else {}
    feature = str(fb.get("feature") or "feature")
    if fb.get("zscore") is True:
        return feature, "z (baseline sd)"
    unit = "power (µV²)" if fb.get("measure") == "power" else "amplitude (µV)"
    compact = feature.replace(" ", "")
    if _BAND_REF.fullmatch(compact):
        return feature, unit
    if "/" in compact or "ln(" in compact or "log" in compact:
        return feature, "ratio (no unit)"
    return feature, unit
