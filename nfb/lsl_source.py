"""Any Lab Streaming Layer stream of EEG as a live device (``--device lsl``).

Research amplifiers (Brain Products, g.tec, ANT, ...), Muse through muse-lsl or BlueMuse, and
OpenBCI GUI's networking widget all publish EEG over LSL; NFBLab and Timeflux take their
input that way. :class:`LslSource` is a :class:`~nfb.sources.Source` over one such stream:

- **Finding it.** By name, type (default ``EEG``) and/or source id, with a timeout. With no
  name and no source id, the one EEG stream on the network; with several matching, the
  connection is refused with the list (the wrong client's headset is worse than none).
- **Channels.** Labels, units and types come from the stream's ``desc/channels`` (the XDF
  meta-data convention). EEG channels (and untyped ones) are EEG; EOG, EMG, ECG and MISC
  channels keep their type (:data:`LSL_TYPES`); others (``AUX``, ``ACC``, ``Markers``...) are
  left out; EEG labels are read as 10-20 names where they are (``"EEG Fp1-REF"`` gives ``Fp1``);
  values are converted to µV from the declared unit (V, mV, µV, nV; none declared: µV, said
  once). A stream without a regular rate, or of strings, is refused.
- **Rows.** Blocks are ``[counter, eeg..., timestamp, marker]``
  (:func:`~nfb.sources.file_layout`). The counter is nfb's own sample count (LSL carries no
  packet counter); the timestamp is the sample's LSL time, clock-synced by liblsl (not
  de-jittered: a gap must stay a gap), on the wall clock of this machine.
- **Gaps.** Samples the sender never delivered show as a step in its timestamps of more
  than :data:`GAP_MIN_S` (and :data:`GAP_MIN_PERIODS` sampling periods) that the later
  samples never catch up with (a late burst does): one second later, the deficit left is
  reported as a ``dropped`` event, recorded and annotated ``BAD_dropped`` like a board's
  losses.
- **Markers.** With ``markers_name``, an LSL marker stream (a stimulus program's, say) is
  read beside the EEG; each marker becomes a ``stream_marker`` event at the sample stamped
  nearest to it (annotated ``lsl/<marker>``).
- **Drop-outs.** The inlet recovers a stream that went away and came back with the same
  source id; meanwhile the acquisition sees no samples and reports the board lost and back,
  as for any board.

pylsl is imported only when this module is used (LSL stays off unless asked).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from ._logging import logger
from .errors import DeviceError
from .sources import BoardLayout, check_marker, file_layout, label_from_name

#: Channel types read as EEG (case-insensitive); an empty type counts as EEG.
EEG_TYPES = ("eeg", "")
#: LSL channel types (XDF meta-data, case-insensitive) kept as nfb channel types; any other
#: (``AUX``, ``ACC``, ``Markers``, ...) is left out.
LSL_TYPES = {"eeg": "eeg", "": "eeg", "eog": "eog", "emg": "emg", "ecg": "ecg", "misc": "misc"}
#: Declared unit -> factor to µV (lower-case, as the XDF convention and common apps spell them).
UNIT_TO_UV = {
    "": 1.0,
    "microvolts": 1.0,
    "microvolt": 1.0,
    "uv": 1.0,
    "µv": 1.0,
    "μv": 1.0,
    "volts": 1e6,
    "volt": 1e6,
    "v": 1e6,
    "millivolts": 1e3,
    "millivolt": 1e3,
    "mv": 1e3,
    "nanovolts": 1e-3,
    "nanovolt": 1e-3,
    "nv": 1e-3,
}
#: How long to look for a second matching stream once one is found (ambiguity check).
SECOND_LOOK_S = 0.5
#: liblsl's buffer per inlet (seconds): what survives a stalled reader.
BUFFER_S = 60
#: A step between two samples' timestamps longer than this (s) and than
#: :data:`GAP_MIN_PERIODS` periods is samples lost by the sender.
GAP_MIN_S = 0.1
GAP_MIN_PERIODS = 5
#: Seconds of (sample number, timestamp) history kept to place markers.
MARKER_HISTORY_S = 30.0


def _pylsl():
    try:
        import pylsl

        pylsl.local_clock()
    except (ImportError, OSError, RuntimeError) as err:
        raise DeviceError(f"an LSL device needs pylsl and its liblsl: {err}") from None
    return pylsl


def _check_text(what: str, value: str) -> str:
    if not isinstance(value, str) or "'" in value or any(ord(c) < 32 for c in value):
        raise DeviceError(
            f"{what} must be text without quotes or control characters, got {value!r}"
        )
    return value


def _predicate(stream_name: str, stream_type: str, source_id: str, hostname: str = "") -> str:
    parts = [
        f"{key}='{value}'"
        for key, value in (
            ("name", stream_name),
            ("type", stream_type),
            ("source_id", source_id),
            ("hostname", hostname),
        )
        if value
    ]
    return " and ".join(parts) or "channel_count>0"


def _describe(info) -> str:
    return (
        f"{info.name()!r} (type {info.type()}, {info.channel_count()} channels at "
        f"{info.nominal_srate():g} Hz, source id {info.source_id() or '-'!r}, "
        f"on {info.hostname()})"
    )


def find_stream(
    stream_name: str = "",
    stream_type: str = "EEG",
    source_id: str = "",
    timeout: float = 5.0,
    hostname: str = "",
):
    """Resolve exactly one LSL stream.

    Parameters
    ----------
    stream_name, stream_type, source_id, hostname : str
        What the stream must match; empty matches anything.
    timeout : float
        Seconds to look for the first match.

    Returns
    -------
    info : pylsl.StreamInfo

    Raises
    ------
    DeviceError
        One line: none found within ``timeout`` (with the streams that are there), or more
        than one (with the list, and how to pick one).
    """
    pylsl = _pylsl()
    for what, value in (
        ("--stream", stream_name),
        ("connection.stream_type", stream_type),
        ("connection.source_id", source_id),
        ("connection.hostname", hostname),
    ):
        _check_text(what, value)
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and 0 < timeout <= 60):
        raise DeviceError(f"connection.timeout must be 0 < seconds <= 60, got {timeout!r}")
    pred = _predicate(stream_name, stream_type, source_id, hostname)
    found = pylsl.resolve_bypred(pred, 1, float(timeout))
    wanted = " ".join(
        f"{k} {v!r}" for k, v in (("named", stream_name), ("of type", stream_type)) if v
    )
    if not found:
        others = pylsl.resolve_streams(SECOND_LOOK_S)
        there = "; ".join(_describe(i) for i in others) or "none"
        raise DeviceError(
            f"no LSL stream {wanted or 'at all'} found within {timeout:g} s (streams seen: {there})"
        )
    if not source_id:
        found = pylsl.resolve_bypred(pred, 2, SECOND_LOOK_S) or found
    by_uid = {info.uid(): info for info in found}
    if len(by_uid) > 1:
        listing = "; ".join(_describe(i) for i in by_uid.values())
        raise DeviceError(
            f"{len(by_uid)} LSL streams {wanted} are on the network ({listing}): pick one with "
            f"--stream source_id=ID (or name=, hostname=)"
        )
    return found[0]


@dataclass(frozen=True)
class StreamListing:
    """An LSL stream seen on the network (what the console lists to pick from).

    Attributes
    ----------
    name, type : str
        The stream's name and content type (``EEG``, ``Markers``, ...).
    channels : int
        Its channel count.
    sfreq : float
        Its nominal rate (0: irregular, a marker stream).
    source_id, hostname : str
        Where it comes from.
    spec : str
        What ``--stream`` (the console's stream field) takes to pick exactly this one
        among those listed: ``name=NAME``, with ``hostname=`` or by ``source_id=`` where
        several share the name.
    """

    name: str
    type: str
    channels: int
    sfreq: float
    source_id: str
    hostname: str
    spec: str

    def describe(self) -> str:
        """One line: ``Amp (EEG, 8 ch, 250 Hz) from source id amp-1 on lab-pc``."""
        rate = f"{self.sfreq:g} Hz" if self.sfreq > 0 else "irregular"
        source = f"source id {self.source_id}, " if self.source_id else ""
        return (
            f"{self.name} ({self.type or 'no type'}, {self.channels} ch, {rate}) "
            f"from {source}{self.hostname or 'unknown host'}"
        )


def _usable(text: str) -> bool:
    # what --stream key=value can carry (no quotes, separators or control characters)
    return bool(text) and not any(c in text for c in "',=") and all(ord(c) >= 32 for c in text)


def list_streams(timeout: float = 1.0) -> list[StreamListing]:
    """The LSL streams on the network, by name.

    Parameters
    ----------
    timeout : float
        Seconds to listen for them (liblsl resolves for that long).

    Raises
    ------
    DeviceError
        One line if pylsl or its liblsl is missing, or the timeout is not 0 < s <= 60.
    """
    pylsl = _pylsl()
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and 0 < timeout <= 60):
        raise DeviceError(f"timeout must be 0 < seconds <= 60, got {timeout!r}")
    infos = {info.uid(): info for info in pylsl.resolve_streams(float(timeout))}.values()
    found = sorted(infos, key=lambda i: (i.name(), i.hostname(), i.source_id()))
    by_name: dict[str, int] = {}
    by_host: dict[tuple[str, str], int] = {}
    for info in found:
        by_name[info.name()] = by_name.get(info.name(), 0) + 1
        key = (info.name(), info.hostname())
        by_host[key] = by_host.get(key, 0) + 1
    out = []
    for info in found:
        name, host, sid = info.name(), info.hostname(), info.source_id()
        if by_name[name] == 1 or not (_usable(host) or _usable(sid)):
            spec = f"name={name}"
        elif by_host[(name, host)] == 1 and _usable(host):
            spec = f"name={name},hostname={host}"
        else:
            spec = f"source_id={sid}" if _usable(sid) else f"name={name}"
        if not _usable(name):
            spec = f"source_id={sid}" if _usable(sid) else ""
        out.append(
            StreamListing(
                name=name,
                type=info.type(),
                channels=int(info.channel_count()),
                sfreq=float(info.nominal_srate()),
                source_id=sid,
                hostname=host,
                spec=spec,
            )
        )
    return out


def _channels(info) -> tuple[list[int], list[str], list[float], list[str]]:
    """Signal columns of the stream, their labels, factors to µV and nfb channel types."""
    n = info.channel_count()
    ch = info.desc().child("channels").child("channel")
    cols, labels, scales, types, unknown_units, declared = [], [], [], [], set(), False
    for i in range(n):
        label = ch.child_value("label") if not ch.empty() else ""
        unit = ch.child_value("unit") if not ch.empty() else ""
        kind = ch.child_value("type") if not ch.empty() else ""
        ch = ch.next_sibling() if not ch.empty() else ch
        ch_type = LSL_TYPES.get(kind.strip().lower())
        if ch_type is None:
            continue
        key = unit.strip().lower()
        declared = declared or bool(key)
        if key not in UNIT_TO_UV:
            unknown_units.add(unit)
            continue
        cols.append(i)
        if not label.strip():
            label = f"{ch_type.upper()}{i + 1}"
        labels.append(label_from_name(label) if ch_type == "eeg" else label.strip())
        scales.append(UNIT_TO_UV[key])
        types.append(ch_type)
    if "eeg" not in types:
        why = f"; units not in volts: {sorted(unknown_units)}" if unknown_units else ""
        raise DeviceError(f"LSL stream {info.name()!r} has no EEG channel{why}")
    if len(set(labels)) != len(labels):  # duplicates (or none given): number them
        labels = [f"{t.upper()}{c + 1}" for c, t in zip(cols, types, strict=True)]
    if not declared:
        logger.info("LSL stream %r declares no units: its values are taken as µV", info.name())
    return cols, labels, scales, types


class LslSource:
    """An LSL stream of EEG as a :class:`~nfb.sources.Source`.

    Parameters
    ----------
    stream_name, stream_type, source_id, hostname : str
        Which stream (:func:`find_stream`); resolved at construction, so that
        :attr:`layout` is known.
    markers_name : str
        An LSL marker stream to read beside it (empty: none).
    timeout : float
        Seconds to look for the stream, and to open it.
    name : str | None
        Name used in messages.
    """

    def __init__(
        self,
        stream_name: str = "",
        stream_type: str = "EEG",
        source_id: str = "",
        *,
        hostname: str = "",
        markers_name: str = "",
        timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        pylsl = _pylsl()
        found = find_stream(stream_name, stream_type, source_id, timeout, hostname)
        self.timeout = float(timeout)
        self.name = name or f"LSL stream {found.name()!r}"
        if found.channel_format() == pylsl.cf_string:
            raise DeviceError(f"{self.name} carries text, not EEG samples")
        rate = found.nominal_srate()
        if not rate > 0:
            raise DeviceError(f"{self.name} has no regular sampling rate (irregular stream)")
        # the full description (channel labels, units) comes with an inlet
        self._inlet_args = dict(
            max_buflen=BUFFER_S,
            recover=True,
            processing_flags=pylsl.proc_clocksync,
        )
        inlet = pylsl.StreamInlet(found, **self._inlet_args)
        try:
            info = inlet.info(self.timeout)
        except Exception:  # liblsl's TimeoutError, or the stream gone meanwhile
            raise DeviceError(f"{self.name} did not describe itself within {timeout:g} s") from None
        finally:
            del inlet
        self.info = info
        self._found = found
        self._cols, labels, scales, types = _channels(info)
        self._scales = np.asarray(scales)[:, None]
        self.layout: BoardLayout = file_layout(rate, labels, types)
        self._markers_info = None
        if markers_name:
            self._markers_info = find_stream(markers_name, "", "", timeout)
            if self._markers_info.nominal_srate() > 0 and self._markers_info.channel_count() != 1:
                raise DeviceError(f"LSL stream {markers_name!r} is not a marker stream")
        self._gap_s = max(GAP_MIN_S, GAP_MIN_PERIODS / rate)
        self._last_stamp: float | None = None
        self._gaps: list[tuple[int, float, int]] = []  # steps not yet confirmed as losses
        self._history = np.zeros((0, 2))  # (sample number, LSL stamp) of recent samples
        self._pending_markers: list[tuple[str, float]] = []
        self._events: list[tuple[str, int, dict]] = []
        self._marker_inlet = None
        self._inlet = None
        self._n = 0  # samples delivered (the counter row)
        self._lsl_to_wall = 0.0
        self._markers: list[float] = []
        self._lock = threading.Lock()
        logger.info("LSL: %s", _describe(info))
        logger.info(
            "LSL: no packet counter; samples the sender lost are found as gaps over %.0f ms "
            "in its timestamps",
            1000 * self._gap_s,
        )

    def __repr__(self) -> str:
        return f"<LslSource | {self.name}, {self.layout.n_eeg} EEG channels, {self._n} samples>"

    def open(self) -> None:
        """Open the stream and measure the LSL-to-wall clock offset."""
        pylsl = _pylsl()
        with self._lock:
            if self._inlet is not None:
                return
            inlet = pylsl.StreamInlet(self._found, **self._inlet_args)
            try:
                inlet.open_stream(self.timeout)
            except Exception as err:  # liblsl's TimeoutError / LostError
                raise DeviceError(f"cannot open {self.name}: {err or type(err).__name__}") from None
            before = pylsl.local_clock()
            wall = time.time()
            self._lsl_to_wall = wall - (before + pylsl.local_clock()) / 2
            if self._markers_info is not None:
                markers = pylsl.StreamInlet(self._markers_info, **self._inlet_args)
                try:
                    markers.open_stream(self.timeout)
                except Exception as err:
                    raise DeviceError(
                        f"cannot open the marker stream {self._markers_info.name()!r}: {err}"
                    ) from None
                self._marker_inlet = markers
            self._last_stamp = None  # after a reconnect: no gap across the outage itself
            self._gaps = []
            self._inlet = inlet

    def read(self) -> np.ndarray:
        """All samples received since the last read, ``(n_rows, n)``."""
        with self._lock:
            inlet = self._inlet
            if inlet is None:
                raise DeviceError(f"{self.name} is not open")
            chunks, stamps = [], []
            while True:
                data, ts = inlet.pull_chunk(timeout=0.0, max_samples=4096)
                if not ts:
                    break
                chunks.append(np.asarray(data, dtype=float))
                stamps.extend(ts)
                if len(ts) < 4096:
                    break
            n = len(stamps)
            out = np.zeros((self.layout.n_rows, n))
            if n:
                self._find_gaps(np.asarray(stamps))
                samples = np.concatenate(chunks, axis=0).T  # (channels, n)
                out[0] = np.arange(self._n, self._n + n)
                out[1 : 1 + len(self._cols)] = samples[self._cols] * self._scales
                out[self.layout.timestamp_row] = np.asarray(stamps) + self._lsl_to_wall
                k = min(n, len(self._markers))
                if k:
                    out[self.layout.marker_row, :k] = self._markers[:k]
                    del self._markers[:k]
                self._n += n
            self._read_markers()
            return out

    def _find_gaps(self, stamps: np.ndarray) -> None:
        """Report steps in the timestamps that the samples never catch up with as losses.

        A sender that stamps chunks when it pushes them (as most LSL apps do) shows a late
        burst as a step forward followed by samples closer than a period: no loss. So a step
        is a candidate, confirmed one second of samples later by the deficit that is left:
        ``round((t_now - t_before) × rate) − samples between``.
        """
        rate = self.layout.sfreq
        full = stamps if self._last_stamp is None else np.r_[self._last_stamp, stamps]
        first = self._n - (0 if self._last_stamp is None else 1)
        steps = np.diff(full)
        for i in np.flatnonzero(steps > self._gap_s):
            lost = round(float(steps[i]) * rate) - 1
            if lost > 0:  # (sample number before the step, its stamp, the estimate)
                self._gaps.append((first + int(i), float(full[i]), lost))
        self._last_stamp = float(stamps[-1])
        newest_number, newest_stamp = self._n + stamps.size - 1, float(stamps[-1])
        keep = []
        for before, t_before, lost in self._gaps:
            if newest_number - before < rate:
                keep.append((before, t_before, lost))  # not a second of samples since
                continue
            deficit = round((newest_stamp - t_before) * rate) - (newest_number - before)
            if deficit > 0:
                self._events.append(("dropped", before + 1, {"count": min(lost, deficit)}))
        self._gaps = keep
        numbers = np.arange(self._n, self._n + stamps.size, dtype=float)
        history = np.concatenate((self._history, np.column_stack((numbers, stamps))))
        self._history = history[history[:, 1] >= stamps[-1] - MARKER_HISTORY_S]

    def _read_markers(self) -> None:
        """Place the markers received so far at their samples (or keep them for later)."""
        if self._marker_inlet is not None:
            while True:
                values, stamps = self._marker_inlet.pull_chunk(timeout=0.0, max_samples=256)
                if not stamps:
                    break
                for value, stamp in zip(values, stamps, strict=True):
                    label = value[0] if isinstance(value, list | tuple) else value
                    self._pending_markers.append((str(label)[:200], float(stamp)))
        if not self._pending_markers or not self._history.size:
            return
        newest = self._history[-1, 1]
        keep = []
        for label, stamp in self._pending_markers:
            if stamp > newest:
                keep.append((label, stamp))  # its sample has not arrived yet
                continue
            # the nearest sample: each inlet has its own clock correction, so a marker stamped
            # with a sample's exact time may arrive a microsecond to either side of it
            k = int(np.argmin(np.abs(self._history[:, 1] - stamp)))
            number = int(self._history[k, 0])
            self._events.append(("stream_marker", number, {"label": label}))
        self._pending_markers = keep

    def take_events(self) -> list[tuple[str, int, dict]]:
        """Gaps and markers found since the last call: ``(kind, sample number, info)``."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def insert_marker(self, value: float) -> None:
        """Mark the next delivered sample with ``value`` (non-zero)."""
        value = check_marker(value)
        with self._lock:
            if self._inlet is None:
                raise DeviceError(f"cannot insert a marker: {self.name} is not open")
            self._markers.append(value)

    def close(self) -> None:
        """Close the stream; idempotent, never raises."""
        with self._lock:
            inlets = (self._inlet, self._marker_inlet)
            self._inlet = self._marker_inlet = None
        for inlet in inlets:
            if inlet is None:
                continue
            try:
                inlet.close_stream()
            except Exception:  # a source's close never raises
                logger.debug("closing the LSL inlet", exc_info=True)
