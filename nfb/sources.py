"""Sources of EEG samples: BrainFlow boards and EEG files played as a live device.

A source delivers blocks in BrainFlow's convention: rows are channels (EEG in µV, the package
counter, the timestamp, the marker, ...), columns are samples. :class:`BoardLayout` says which
row is which; :class:`~nfb.acquisition.Acquisition` drives any object with the :class:`Source`
methods.

Package counters, as BrainFlow fills them (read from BrainFlow's drivers, and measured for the
synthetic board):

* synthetic board: one count per sample, 0 … 255 then wraps (modulo 256).
* Cyton: the board's sample number byte, one count per sample, 0 … 255 (modulo 256).
* Cyton + Daisy: two radio packets are merged into one sample, which keeps the odd number of
  the first: the counter advances by 2 per sample (1, 3, … 255), modulo 256.
* Cyton + Daisy over the WiFi Shield: the shield sends the Cyton's and the Daisy's packet of
  a sample under one sample number, which BrainFlow keeps: one count per sample, modulo 256
  (``cyton_daisy_wifi.cpp``; measured on the repository's shield emulator).
* Ganglion: one BLE packet carries two samples that share its packet id, so the counter advances
  by 1 every 2 samples. Ids run 1 … 100 (18-bit packets) or 101 … 200 (19-bit packets), or 0 … 99
  / 100 … 199 with firmware 3; in every case consecutive ids differ by 1 modulo 100.
* Muse 2 / Muse S: a 16-bit packet number per BLE notification of 12 samples, shared by those
  12 samples, modulo 65536.
* MNE file source (:class:`FileSource`): the absolute sample number; it never wraps.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowError, BrainFlowInputParams

from . import ports
from ._logging import logger, terminal_level
from .errors import ConfigError, DeviceError, NfbError, SessionError
from .session.format import CHANNEL_TYPES, COUNTER_RULES, STREAM_KINDS, STREAM_PRESETS

# ---------------------------------------------------------------------------------------------
# 10-20 labels

# Electrode-name prefixes of the 10-20, 10-10 and 10-5 systems (as in MNE's standard_1005),
# longest first so that "AFF" is tried before "AF" and "F".
_PREFIXES = (
    "AFF", "AFp", "CCP", "CPP", "FCC", "FFC", "FFT", "FTT", "POO", "PPO", "TPP", "TTP",
    "AF", "CP", "FC", "FT", "Fp", "OI", "PO", "TP",
    "A", "C", "F", "I", "M", "N", "O", "P", "T",
)  # fmt: skip
_PREFIX_CANON = {p.upper(): p for p in _PREFIXES}
_LABEL_RE = re.compile(
    r"^(" + "|".join(sorted(_PREFIX_CANON, key=len, reverse=True)) + r")(Z|[1-9][0-9]?H?)$"
)


def canonical_label(label: str) -> str | None:
    """Return the canonical spelling of a 10-20/10-10/10-5 electrode label, or None.

    Matching ignores case and surrounding blanks: ``"FP1"`` gives ``"Fp1"``, ``"cz"`` gives
    ``"Cz"``, ``"AFF1H"`` gives ``"AFF1h"``; ``"EEG1"`` and ``"Fp1-A1"`` give None.
    """
    if not isinstance(label, str):
        return None
    m = _LABEL_RE.match(label.strip().upper())
    if m is None:
        return None
    prefix, suffix = m.groups()
    return _PREFIX_CANON[prefix] + suffix.lower()


def label_from_name(name: str) -> str:
    """Best 10-20 label for a channel name found in a file ("EEG Fp1-REF" -> "Fp1")."""
    s = name.strip()
    s = re.sub(r"^(EEG)[\s_:-]*", "", s, flags=re.IGNORECASE)
    s = re.sub(r"[\s_-]*(REF|LE|AR|AVG|M1|M2|A1|A2|A1A2)$", "", s, flags=re.IGNORECASE)
    return canonical_label(s) or name


# ---------------------------------------------------------------------------------------------
# Board layout


@dataclass(frozen=True)
class StreamLayout:
    """Row layout of one extra BrainFlow preset a source delivers beside its EEG.

    Attributes
    ----------
    name : str
        A key of :data:`~nfb.session.format.STREAM_PRESETS` (``"auxiliary"``, ``"ancillary"``).
    preset : int
        BrainFlow's ``BrainFlowPresets`` value.
    sfreq : float
        Its own sampling rate in Hz (Muse: motion 52, PPG 64).
    n_rows : int
        Rows of every block of this preset.
    rows : tuple of int
        The signal rows, in row order.
    labels : tuple of str
        Their names: ``accel_x`` … ``gyro_z``, ``ppg_0``, ``optical_3``, ….
    kinds : tuple of str
        What each measures (a key of :data:`~nfb.session.format.STREAM_KINDS`).
    counter_row, timestamp_row : int | None
        Rows of the package counter and of the wall-clock timestamp.
    """

    name: str
    preset: int
    sfreq: float
    n_rows: int
    rows: tuple[int, ...]
    labels: tuple[str, ...]
    kinds: tuple[str, ...]
    counter_row: int | None = None
    timestamp_row: int | None = None

    def __post_init__(self) -> None:
        for key in ("rows", "labels", "kinds"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if self.name not in STREAM_PRESETS:
            raise ValueError(
                f"StreamLayout: name must be one of {', '.join(STREAM_PRESETS)}, "
                f"got {self.name!r}"
            )
        if not len(self.rows) == len(self.labels) == len(self.kinds):
            raise ValueError("StreamLayout: rows, labels and kinds differ in length")
        if not set(self.kinds) <= set(STREAM_KINDS):
            raise ValueError(f"StreamLayout: kinds must be among {', '.join(STREAM_KINDS)}")
        for row in (*self.rows, self.counter_row, self.timestamp_row):
            if row is not None and not 0 <= row < self.n_rows:
                raise ValueError(f"StreamLayout: row {row} outside 0 … {self.n_rows - 1}")
        if not self.sfreq > 0:
            raise ValueError(f"StreamLayout: sfreq must be > 0, got {self.sfreq}")

    def rows_of(self, kind: str) -> list[int]:
        """The rows measuring ``kind`` (``"accel"``, ``"gyro"``, ``"ppg"``, …)."""
        return [r for r, k in zip(self.rows, self.kinds, strict=True) if k == kind]

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        d = asdict(self)
        for key in ("rows", "labels", "kinds"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> StreamLayout:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"StreamLayout.from_dict: unknown keys {unknown}")
        return cls(**dict(d))


def stream_layout(board_id: int, name: str) -> StreamLayout:
    """The :class:`StreamLayout` of preset ``name`` of a BrainFlow board, from
    ``BoardShim.get_board_descr(board_id, preset)``.

    Raises
    ------
    ConfigError
        One line if the board has no such preset.
    """
    preset = STREAM_PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"unknown stream {name!r}; allowed: {', '.join(STREAM_PRESETS)}")
    board = board_name(board_id)
    try:
        has = BoardShim.get_board_presets(int(board_id))
        descr = BoardShim.get_board_descr(int(board_id), preset) if preset in has else None
    except BrainFlowError as err:
        raise ConfigError(f"BrainFlow has no board with id {board_id} ({err})") from None
    if not descr or "sampling_rate" not in descr:
        offered = [n for n, p in STREAM_PRESETS.items() if p in has]
        raise ConfigError(
            f"{board} has no {name} preset (its extra presets: {', '.join(offered) or 'none'})"
        )
    kind_of: dict[int, str] = {}
    for kind in STREAM_KINDS:  # a row shared by two kinds takes the first one's name
        rows = descr.get(f"{kind}_channels" if kind != "battery" else "battery_channel", [])
        for row in [rows] if isinstance(rows, int) else rows:
            kind_of.setdefault(int(row), kind)
    rows = sorted(kind_of)
    count: dict[str, int] = {}
    labels = []
    for row in rows:
        kind = kind_of[row]
        i = count[kind] = count.get(kind, -1) + 1
        axis = "xyz"[i] if kind in ("accel", "gyro") and i < 3 else str(i)
        labels.append(kind if kind == "battery" else f"{kind}_{axis}")
    return StreamLayout(
        name=name,
        preset=preset,
        sfreq=float(descr["sampling_rate"]),
        n_rows=int(descr["num_rows"]),
        rows=tuple(rows),
        labels=tuple(labels),
        kinds=tuple(kind_of[r] for r in rows),
        counter_row=descr.get("package_num_channel"),
        timestamp_row=descr.get("timestamp_channel"),
    )


def board_streams(board_id: int) -> tuple[str, ...]:
    """The extra presets (:data:`~nfb.session.format.STREAM_PRESETS` names) a board offers."""
    try:
        has = BoardShim.get_board_presets(int(board_id))
    except BrainFlowError:
        return ()
    return tuple(n for n, p in STREAM_PRESETS.items() if p in has)


@dataclass(frozen=True)
class BoardLayout:
    """Row layout of the data a source delivers.

    BrainFlow's convention: rows are channels, columns are samples.

    Attributes
    ----------
    board_id : int | None
        BrainFlow board id whose rows these are (for BrainFlow's playback-file board: the
        master board's id); None for the MNE file source.
    sfreq : float
        Sampling rate in Hz.
    n_rows : int
        Number of rows of every block.
    eeg_rows : tuple of int
        Rows holding the signals in µV (EEG, and EOG/EMG/ECG/misc rows), in channel order.
    ch_names : tuple of str
        Labels of ``eeg_rows``, same length: 10-20 for EEG rows, any for the others.
    counter_row : int | None
        Row of the package counter (drop detection), or None.
    counter_modulo : int | None
        The counter wraps at this value (e.g. 256); None if it never wraps.
    timestamp_row, marker_row : int | None
        Rows of the wall-clock timestamp (s since the epoch) and of the markers (0 = none).
    rail_uv : float | None
        Largest |µV| the ADC can represent (railed-channel detection); None if unknown.
    counter_step : int
        How much the counter advances from one counter value to the next (2 for Cyton+Daisy).
    counter_repeat : int
        How many consecutive samples share one counter value (2 for Ganglion, 12 for Muse).
    counter_rule : str
        How losses are read from the counter: ``"sequence"`` (a counter that advances by
        ``counter_step`` and wraps at ``counter_modulo``), ``"packet"`` (Muse S Athena:
        ``packet << 8 | sub-packet``, see :func:`~nfb.acquisition.count_dropped_packets`), or
        ``"none"`` (no known rule for the board: losses are not counted).
    ch_types : tuple of str
        Type of each of ``eeg_rows`` (:data:`~nfb.session.format.CHANNEL_TYPES`); default
        all ``"eeg"``.
    streams : tuple of StreamLayout
        The extra presets the source delivers (motion, PPG), each at its own rate; empty for
        most profiles (and then left out of :meth:`to_dict`).
    """

    board_id: int | None
    sfreq: float
    n_rows: int
    eeg_rows: tuple[int, ...]
    ch_names: tuple[str, ...]
    counter_row: int | None
    counter_modulo: int | None
    timestamp_row: int | None
    marker_row: int | None
    rail_uv: float | None
    counter_step: int = 1
    counter_repeat: int = 1
    counter_rule: str = "sequence"
    ch_types: tuple[str, ...] = ()
    streams: tuple[StreamLayout, ...] = ()

    def __post_init__(self) -> None:
        streams = tuple(
            st if isinstance(st, StreamLayout) else StreamLayout.from_dict(st)
            for st in self.streams
        )
        object.__setattr__(self, "streams", streams)
        if len({st.name for st in streams}) != len(streams):
            raise ValueError("BoardLayout: a stream is listed twice")
        object.__setattr__(self, "eeg_rows", tuple(int(r) for r in self.eeg_rows))
        object.__setattr__(self, "ch_names", tuple(str(c) for c in self.ch_names))
        types = tuple(str(t) for t in self.ch_types) or ("eeg",) * len(self.eeg_rows)
        object.__setattr__(self, "ch_types", types)
        if len(types) != len(self.eeg_rows) or not set(types) <= set(CHANNEL_TYPES):
            raise ValueError(
                f"BoardLayout: ch_types must give one of {', '.join(CHANNEL_TYPES)} for each "
                f"of the {len(self.eeg_rows)} eeg_rows, got {list(types)}"
            )
        if len(self.eeg_rows) != len(self.ch_names):
            raise ValueError(
                f"BoardLayout: {len(self.eeg_rows)} eeg_rows but {len(self.ch_names)} ch_names"
            )
        rows = [*self.eeg_rows, self.counter_row, self.timestamp_row, self.marker_row]
        for row in rows:
            if row is not None and not 0 <= row < self.n_rows:
                raise ValueError(f"BoardLayout: row {row} outside 0 … {self.n_rows - 1}")
        if not self.sfreq > 0:
            raise ValueError(f"BoardLayout: sfreq must be > 0, got {self.sfreq}")
        if self.counter_rule not in COUNTER_RULES:
            raise ValueError(
                f"BoardLayout: counter_rule must be one of {COUNTER_RULES}, "
                f"got {self.counter_rule!r}"
            )

    @property
    def n_eeg(self) -> int:
        """Number of EEG channels."""
        return len(self.eeg_rows)

    def stream(self, name: str) -> StreamLayout | None:
        """The extra stream ``name`` (``"auxiliary"``, ``"ancillary"``), None if not delivered."""
        return next((st for st in self.streams if st.name == name), None)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        d = asdict(self)
        d["eeg_rows"] = list(self.eeg_rows)
        d["ch_names"] = list(self.ch_names)
        d["ch_types"] = list(self.ch_types)
        d["streams"] = [st.to_dict() for st in self.streams]
        if not self.streams:  # the layout of a board without extra streams, as before
            del d["streams"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> BoardLayout:
        """Build a layout from :meth:`to_dict` output."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"BoardLayout.from_dict: unknown keys {unknown}")
        lists = ("eeg_rows", "ch_names", "ch_types", "streams")
        return cls(**{k: (tuple(v) if k in lists else v) for k, v in d.items()})


# Counter behaviour per BrainFlow board name: (modulo, step, repeat) of a "sequence" counter.
# The WiFi Shield numbers its packets 0-255 whatever board it carries. A board not listed
# here (or in _PACKET_COUNTERS) has no known rule: its losses are not counted (said once).
_COUNTERS: dict[str, tuple[int, int, int]] = {
    "SYNTHETIC_BOARD": (256, 1, 1),
    "CYTON_BOARD": (256, 1, 1),
    "CYTON_DAISY_BOARD": (256, 2, 1),
    "CYTON_WIFI_BOARD": (256, 1, 1),
    "CYTON_DAISY_WIFI_BOARD": (256, 1, 1),  # one number per sample pair, unlike the dongle
    "GANGLION_WIFI_BOARD": (256, 1, 1),
    "GANGLION_BOARD": (100, 1, 2),
    "GANGLION_NATIVE_BOARD": (100, 1, 2),
    "MUSE_2_BOARD": (65536, 1, 12),
    "MUSE_S_BOARD": (65536, 1, 12),
    "MUSE_2016_BOARD": (65536, 1, 12),
    "MUSE_2_BLED_BOARD": (65536, 1, 12),
    "MUSE_S_BLED_BOARD": (65536, 1, 12),
    "MUSE_2016_BLED_BOARD": (65536, 1, 12),
}
# Boards whose counter is ``packet << 8 | sub-packet`` (a "packet" counter).
_PACKET_COUNTERS = ("MUSE_S_ATHENA_BOARD",)
_warned_counters: set[str] = set()

# ADC full scale in µV, from BrainFlow's scale factors: Cyton (ADS1299) 4.5 V / gain 24;
# Ganglion (MCP3912) 1.2 V / (1.5 × 51); Muse 12-bit, (x - 2048) × 125 / 256 µV.
_RAILS_UV: dict[str, float] = {
    "CYTON_BOARD": 4.5 / 24 * 1e6,
    "CYTON_DAISY_BOARD": 4.5 / 24 * 1e6,
    "CYTON_WIFI_BOARD": 4.5 / 24 * 1e6,
    "CYTON_DAISY_WIFI_BOARD": 4.5 / 24 * 1e6,
    "GANGLION_BOARD": 1.2e6 / (1.5 * 51),
    "GANGLION_NATIVE_BOARD": 1.2e6 / (1.5 * 51),
    "GANGLION_WIFI_BOARD": 1.2e6 / (1.5 * 51),
    "MUSE_2_BOARD": 1000.0,
    "MUSE_S_BOARD": 1000.0,
    "MUSE_2016_BOARD": 1000.0,
    "MUSE_2_BLED_BOARD": 1000.0,
    "MUSE_S_BLED_BOARD": 1000.0,
    "MUSE_2016_BLED_BOARD": 1000.0,
}


def board_name(board_id: int) -> str:
    """BrainFlow's ``BoardIds`` name of a board id (``0`` -> ``"CYTON_BOARD"``)."""

    try:
        return BoardIds(int(board_id)).name
    except ValueError:
        return f"board {board_id}"


def board_layout(
    board_id: int,
    ch_names: Sequence[str] | None = None,
    ch_types: Sequence[str] | None = None,
    streams: Sequence[str] = (),
) -> BoardLayout:
    """Build the :class:`BoardLayout` of a BrainFlow board from ``BoardShim.get_board_descr``.

    Parameters
    ----------
    board_id : int
        A BrainFlow ``BoardIds`` value that streams EEG.
    ch_names : sequence of str | None
        Labels of the EEG rows; default BrainFlow's ``eeg_names``, else ``EEG1``, ``EEG2``, ….
    ch_types : sequence of str | None
        Their types (``"eeg"``, ``"eog"``, ...); default all EEG.
    streams : sequence of str
        Extra presets to deliver (``"auxiliary"``, ``"ancillary"``; see :func:`stream_layout`).
    """

    try:
        descr = BoardShim.get_board_descr(int(board_id))
    except BrainFlowError as err:
        raise ConfigError(f"BrainFlow has no board with id {board_id} ({err})") from None
    eeg_rows = tuple(descr.get("eeg_channels", ()))
    if not eeg_rows or "sampling_rate" not in descr:
        raise ConfigError(f"BrainFlow board {board_name(board_id)} has no EEG rows")
    if ch_names is None:
        names = descr.get("eeg_names")
        ch_names = names.split(",") if names else [f"EEG{i + 1}" for i in range(len(eeg_rows))]
    ch_names = tuple(ch_names)
    if len(ch_names) != len(eeg_rows):
        raise ConfigError(
            f"{board_name(board_id)} has {len(eeg_rows)} EEG channels, got {len(ch_names)} labels"
        )
    name = board_name(board_id)
    modulo, step, repeat = _COUNTERS.get(name, (None, 1, 1))
    rule = "sequence" if name in _COUNTERS else "packet" if name in _PACKET_COUNTERS else "none"
    counted = descr.get("package_num_channel") is not None
    if rule == "none" and counted and name not in _warned_counters:
        _warned_counters.add(name)
        logger.warning(
            "%s: no known rule for its package counter; dropped samples are not counted", name
        )
    return BoardLayout(
        board_id=int(board_id),
        sfreq=float(descr["sampling_rate"]),
        n_rows=int(descr["num_rows"]),
        eeg_rows=eeg_rows,
        ch_names=ch_names,
        counter_row=descr.get("package_num_channel"),
        counter_modulo=modulo,
        timestamp_row=descr.get("timestamp_channel"),
        marker_row=descr.get("marker_channel"),
        rail_uv=_RAILS_UV.get(name),
        counter_step=step,
        counter_repeat=repeat,
        counter_rule=rule,
        ch_types=tuple(ch_types or ()),
        streams=tuple(stream_layout(board_id, name) for name in streams),
    )


def file_layout(
    sfreq: float, ch_names: Sequence[str], ch_types: Sequence[str] | None = None
) -> BoardLayout:
    """Layout of :class:`FileSource` blocks: ``[counter, eeg..., timestamp, marker]``.

    ``ch_types`` types the signal rows (``"eeg"``, ``"eog"``, ...; default all EEG).
    """
    n = len(ch_names)
    return BoardLayout(
        board_id=None,
        sfreq=float(sfreq),
        n_rows=n + 3,
        eeg_rows=tuple(range(1, n + 1)),
        ch_names=tuple(ch_names),
        counter_row=0,
        counter_modulo=None,
        timestamp_row=n + 1,
        marker_row=n + 2,
        rail_uv=None,
        ch_types=tuple(ch_types or ()),
    )


# ---------------------------------------------------------------------------------------------
# The Source protocol


class EndOfStream(NfbError):
    """Raised by :meth:`Source.read` when a finite source has delivered all its samples."""


@runtime_checkable
class Source(Protocol):
    """What :class:`~nfb.acquisition.Acquisition` drives."""

    layout: BoardLayout

    def open(self) -> None:
        """Prepare and start streaming; :class:`~nfb.errors.DeviceError` on failure."""

    def read(self) -> np.ndarray:
        """All new samples, ``(layout.n_rows, n)`` float64, ``n`` may be 0."""

    def insert_marker(self, value: float) -> None:
        """Mark the next sample with ``value`` (non-zero)."""

    def close(self) -> None:
        """Stop and release the device; idempotent, never raises."""

    # A source whose layout lists extra streams (``layout.streams``) also has
    # ``read_streams() -> {name: (rows, n) array}``: the new samples of each, called by the
    # acquisition thread right after each :meth:`read`.


def check_marker(value: float) -> float:
    value = float(value)
    if value == 0 or not math.isfinite(value):
        raise ValueError(
            f"marker value must be finite and non-zero (0 means no marker), got {value}"
        )
    return value


# ---------------------------------------------------------------------------------------------
# BrainFlow boards

#: ``[connection]`` keys and the ``BrainFlowInputParams`` attribute each one sets.
CONNECTION_PARAMS = {
    "serial_port": "serial_port",
    "mac_address": "mac_address",
    "serial_number": "serial_number",
    "ip_address": "ip_address",
    "ip_port": "ip_port",
    "ip_protocol": "ip_protocol",
    "timeout": "timeout",
    "file": "file",
    "file_aux": "file_aux",
    "file_anc": "file_anc",
    "master_board": "master_board",
    "other_info": "other_info",
}

# What a BrainFlow exit code means to someone at the board.
_HINTS = {
    "UNABLE_TO_OPEN_PORT_ERROR": "cannot open the port (wrong port, or in use by another app?)",
    "SER_PORT_ERROR": "not a serial port the board can use",
    "SET_PORT_ERROR": "cannot configure the serial port",
    "BOARD_NOT_READY_ERROR": (
        "the board did not answer (switched on? dongle plugged in? right port?)"
    ),
    "BOARD_NOT_CREATED_ERROR": "the board session is gone",
    "BOARD_WRITE_ERROR": "cannot write to the board",
    "INVALID_ARGUMENTS_ERROR": "missing or invalid connection settings",
    "GENERAL_ERROR": "BrainFlow failed",
    "SYNC_TIMEOUT_ERROR": "no data from the board in time",
    "EMPTY_BUFFER_ERROR": "no data",
    "UNSUPPORTED_BOARD_ERROR": "this BrainFlow build does not support the board",
    "ANOTHER_BOARD_IS_CREATED_ERROR": "the board is already open in this process",
}


def _brainflow_reason(err: BaseException) -> str:
    from brainflow.exit_codes import BrainFlowExitCodes

    code = getattr(err, "exit_code", None)
    try:
        name = BrainFlowExitCodes(code).name
    except ValueError:
        name = f"error {code}"
    hint = _HINTS.get(name)
    return f"{hint} [{name}]" if hint else f"[{name}]"


def _port_exists(port: str) -> bool:
    """Whether a port named by the user may exist here (a Windows name is checked there)."""
    if sys.platform == "win32":
        return True  # COM ports are no files: BrainFlow's error is explained afterwards
    return port.startswith("/") and os.path.exists(port)


def _cannot_open(err: BaseException) -> bool:
    from brainflow.exit_codes import BrainFlowExitCodes

    code = getattr(err, "exit_code", None)
    names = ("UNABLE_TO_OPEN_PORT_ERROR", "SER_PORT_ERROR")
    return code in {getattr(BrainFlowExitCodes, n, None) for n in names}


def configure_brainflow_logging() -> None:
    """Keep BrainFlow's own log quiet unless ``nfb`` is verbose (INFO: info, DEBUG: trace).

    BrainFlow writes to the terminal, so the terminal's level decides, not the logger's: the
    desktop app's log file lowers the logger to INFO without making ``nfb gui`` verbose.
    """
    import logging

    level = terminal_level()
    try:
        if level <= logging.DEBUG:
            BoardShim.enable_dev_board_logger()
        elif level <= logging.INFO:
            BoardShim.enable_board_logger()
        else:
            BoardShim.disable_board_logger()
    except Exception:  # pragma: no cover - logging must never stop acquisition
        pass


class BrainFlowSource:
    """A BrainFlow board (``BoardShim``) as a :class:`Source`.

    Parameters
    ----------
    board_id : int
        BrainFlow ``BoardIds`` value.
    connection : mapping | None
        Connection settings, keys of :data:`CONNECTION_PARAMS` (``serial_port``,
        ``mac_address``, ``file``, ``master_board``, ...). Empty values are left unset.
    ch_names : sequence of str | None
        10-20 labels of the EEG rows; default BrainFlow's ``eeg_names``.
    ch_types : sequence of str | None
        Type of each row (``"eeg"``, ``"eog"``, ``"emg"``, ``"ecg"``, ``"misc"``); default EEG.
    name : str | None
        Name used in messages (the device profile name); default the board name.
    streams : sequence of str
        BrainFlow presets to read beside the default one (``"auxiliary"``: motion;
        ``"ancillary"``: PPG), each delivered by :meth:`read_streams` at its own rate.

    Notes
    -----
    The layout comes from ``BoardShim.get_board_descr``; for BrainFlow's playback-file and
    streaming boards it is the layout of ``connection["master_board"]`` (the playback board
    plays a file per preset: ``file``, ``file_aux``, ``file_anc``).
    """

    def __init__(
        self,
        board_id: int,
        *,
        connection: Mapping | None = None,
        ch_names: Sequence[str] | None = None,
        ch_types: Sequence[str] | None = None,
        name: str | None = None,
        config: Sequence[str] = (),
        streams: Sequence[str] = (),
    ) -> None:

        self.board_id = int(board_id)
        self.config = tuple(config)
        self.config_responses: list[str] = []
        self.connection = {k: v for k, v in dict(connection or {}).items() if v not in ("", None)}
        unknown = sorted(set(self.connection) - set(CONNECTION_PARAMS))
        if unknown:
            raise ConfigError(
                f"unknown connection setting(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(CONNECTION_PARAMS)}"
            )
        self.name = name or board_name(self.board_id)
        data_board = self.board_id
        if self.board_id in (BoardIds.PLAYBACK_FILE_BOARD, BoardIds.STREAMING_BOARD):
            master = self.connection.get("master_board", int(BoardIds.SYNTHETIC_BOARD))
            if isinstance(master, str):
                master = _board_id_from_name(master)
            self.connection["master_board"] = int(master)
            data_board = int(master)
        try:
            self.layout = board_layout(data_board, ch_names, ch_types, streams)
        except ValueError as err:
            raise ConfigError(f"{self.name}: {err}") from None
        self._board = None
        self._opening = False  # a thread is inside prepare_session/start_stream
        self._cancelled = False  # close() was called meanwhile: release what it opens
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "open" if self._board is not None else "closed"
        return f"<BrainFlowSource | {self.name} ({board_name(self.board_id)}), {state}>"

    def _params(self):
        params = BrainFlowInputParams()
        for key, value in self.connection.items():
            attr = CONNECTION_PARAMS[key]
            value = (
                int(value)
                if key in ("timeout", "ip_port", "ip_protocol", "master_board")
                else str(value)
            )
            setattr(params, attr, value)
        return params

    @property
    def label(self) -> str:
        """The device and its connection, for messages (``cyton (serial port /dev/ttyUSB0)``)."""
        return f"{self.name}{self._where()}"

    def _where(self) -> str:
        for key, label in (
            ("serial_port", "serial port"),
            ("mac_address", "MAC"),
            ("serial_number", "serial number"),
            ("ip_address", "IP"),
            ("file", "file"),
        ):
            if key in self.connection:
                return f" ({label} {self.connection[key]})"
        return ""

    def open(self) -> None:
        """Prepare the session and start streaming.

        Holds no lock while BrainFlow connects (which may take seconds, or never end): a
        :meth:`close` meanwhile returns at once, and the board this call then opens is
        released instead of kept.

        Raises
        ------
        DeviceError
            One line naming the device, its connection and BrainFlow's reason.
        """

        with self._lock:
            if self._board is not None:
                return
            if self._opening:
                raise DeviceError(f"{self.label}: already connecting")
            self._opening, self._cancelled = True, False
        board, opened = None, False
        try:
            port = str(self.connection.get("serial_port", ""))
            if port and ports.is_port_name(port) and not _port_exists(port):
                raise DeviceError(f"cannot open {self.name}: {ports.port_problem(port)}")
            self._choose_headset()
            configure_brainflow_logging()
            board = OwnedBoardShim(self.board_id, self._params())
            board.prepare_session()
            self.config_responses = [self._configure(board, cmd) for cmd in self.config]
            board.start_stream(max(int(self.layout.sfreq * 120), 10_000))
            opened = True
        except BrainFlowError as err:
            if board is not None:
                _release(board)
            # BrainFlow says "cannot open the port": find out why (absent, busy, permission)
            problem = ports.port_problem(port) if port and _cannot_open(err) else None
            if problem:
                raise DeviceError(f"cannot open {self.name}: {problem}") from None
            raise DeviceError(f"cannot open {self.label}: {_brainflow_reason(err)}") from None
        except BaseException:  # Ctrl-C while opening: never leave a prepared board
            if board is not None:
                _release(board)
            raise
        finally:
            with self._lock:
                self._opening = False
                cancelled = self._cancelled
                if opened and not cancelled:
                    self._board = board
        if cancelled:
            _release(board)
            raise DeviceError(f"{self.label}: closed while connecting")
        logger.info("opened %s", self.label)

    def send_config(self, command: str) -> str:
        """Send a ``config_board`` command to the open board (while it streams, too).

        Returns the board's answer (empty while streaming: the Cyton says nothing then).

        Raises
        ------
        DeviceError
            One line if the board is not open or refuses the command.
        """
        with self._lock:
            if self._board is None:
                raise DeviceError(f"cannot configure {self.name}: it is not open")
            return self._configure(self._board, command)

    def _configure(self, board, command: str) -> str:
        """Send one ``config_board`` command; the board's answer, or a one-line error."""
        try:
            answer = str(board.config_board(command) or "").replace("$$$", "").strip()
        except BrainFlowError as err:
            # BrainFlow turns the board's "Failure: ..." into INVALID_ARGUMENTS_ERROR
            reason = _brainflow_reason(err).split(" [")[-1].rstrip("]")
            raise DeviceError(
                f"cannot configure {self.name}: the board refused command {command!r} "
                f"[{reason}] (see the board's documentation of its commands)"
            ) from None
        if answer.lower().startswith("failure"):
            raise DeviceError(f"cannot configure {self.name}: command {command!r}: {answer}")
        logger.info("%s: config %r -> %r", self.name, command, answer)
        return answer

    def _choose_headset(self) -> None:
        """A BLE headset with a blank MAC: the one in range, refused if there are several.

        The address found is kept, so a reconnect goes back to the same headset.
        """
        kind = ports.board_headset_kind(self.board_id)
        if kind is None or self.connection.get("mac_address"):
            return
        if self.connection.get("serial_number"):  # the headset's name (Muse-1A2B) chooses it
            return
        headset = ports.choose_headset(kind, what=f"cannot open {self.name}")
        if headset is not None:
            logger.info("%s: the one %s in range is %s", self.name, kind, headset.name)
            self.connection["mac_address"] = headset.address

    def read(self) -> np.ndarray:
        """Return all samples received since the last call, ``(n_rows, n)`` float64."""

        with self._lock:
            board = self._board
            if board is None:
                raise DeviceError(f"{self.name} is not open")
            try:
                data = board.get_board_data()
            except BrainFlowError as err:
                raise DeviceError(f"lost {self.name}: {_brainflow_reason(err)}") from err
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != self.layout.n_rows:
            raise DeviceError(
                f"{self.name} delivered {data.shape[0] if data.ndim == 2 else '?'} rows, "
                f"expected {self.layout.n_rows}"
            )
        return data

    def read_streams(self) -> dict[str, np.ndarray]:
        """The samples of each extra preset received since the last call, by stream name."""
        out: dict[str, np.ndarray] = {}
        if not self.layout.streams:
            return out
        with self._lock:
            board = self._board
            if board is None:
                raise DeviceError(f"{self.name} is not open")
            for st in self.layout.streams:
                try:
                    data = board.get_board_data(preset=st.preset)
                except BrainFlowError as err:
                    raise DeviceError(
                        f"lost {self.name} ({st.name} stream): {_brainflow_reason(err)}"
                    ) from err
                data = np.asarray(data, dtype=np.float64)
                if data.ndim != 2 or data.shape[0] != st.n_rows:
                    raise DeviceError(
                        f"{self.name} delivered {data.shape[0] if data.ndim == 2 else '?'} "
                        f"rows in its {st.name} stream, expected {st.n_rows}"
                    )
                out[st.name] = data
        return out

    def insert_marker(self, value: float) -> None:
        """Mark the next sample with ``value`` (non-zero)."""

        value = check_marker(value)
        with self._lock:
            if self._board is None:
                raise DeviceError(f"cannot insert a marker: {self.name} is not open")
            try:
                self._board.insert_marker(value)
            except BrainFlowError as err:
                raise DeviceError(f"cannot insert a marker: {_brainflow_reason(err)}") from None

    def close(self) -> None:
        """Stop streaming and release the board; idempotent, never raises, never waits for a
        connection in progress (that board is released when its connection ends)."""
        with self._lock:
            board, self._board = self._board, None
            if self._opening:
                self._cancelled = True
        if board is not None:
            _release(board)
            logger.info("released %s", self.name)


class OwnedBoardShim(BoardShim):
    """``BoardShim`` whose destructor releases only the session it prepared itself.

    BrainFlow keys sessions by (board id, input params), and ``BoardShim.__del__`` releases
    whatever session has that key: a stale handle (kept alive, say, by a traceback) collected
    after a re-open would release the *new* session. Release sessions explicitly; the
    destructor only cleans up a handle that still owns one.
    """

    _owned = False

    def prepare_session(self) -> None:
        super().prepare_session()
        self._owned = True

    def release_session(self) -> None:
        self._owned = False
        super().release_session()

    def __del__(self) -> None:
        if self._owned:
            with contextlib.suppress(Exception):
                self.release_session()


def _release(board) -> None:
    # releasing must never raise
    for method in ("stop_stream", "release_session"):
        with contextlib.suppress(Exception):
            getattr(board, method)()


def _board_id_from_name(name: str) -> int:
    try:
        return int(BoardIds[name.strip().upper()])
    except KeyError:
        raise ConfigError(f"unknown BrainFlow board {name!r}") from None


# ---------------------------------------------------------------------------------------------
# Files


@dataclass
class EEGRecording:
    """EEG read from a file, in the row layout of a source.

    Attributes
    ----------
    data : array, shape (layout.n_rows, n)
        float64; EEG rows in µV.
    layout : BoardLayout
    annotations : list of (onset_s, duration_s, description)
        Onsets in seconds from the first sample.
    meas_date : datetime | None
    """

    data: np.ndarray
    layout: BoardLayout
    annotations: list[tuple[float, float, str]] = field(default_factory=list)
    meas_date: datetime | None = None

    @property
    def eeg(self) -> np.ndarray:
        """The EEG rows, ``(n_channels, n)`` in µV (a view)."""
        return self.data[list(self.layout.eeg_rows)]

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])


_MNE_FORMATS = "EDF, BDF, FIF, BrainVision (.vhdr) or any format mne.io.read_raw reads"


def _read_raw(path: Path, preload: bool):
    import mne

    if not path.exists():
        raise SessionError(f"{path}: no such file")
    if path.is_dir():
        raise SessionError(f"{path}: is a folder, expected an EEG file ({_MNE_FORMATS})")
    try:
        raw = mne.io.read_raw(path, preload=preload, verbose="error")
    except Exception as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SessionError(f"{path}: cannot read as EEG ({msg}); expected {_MNE_FORMATS}") from None
    if len(mne.pick_types(raw.info, eeg=True, exclude=[])) == 0:
        raise SessionError(f"{path}: has no EEG channels (types: {set(raw.get_channel_types())})")
    # EOG, EMG and ECG channels come along with their types (MNE keeps them in volts); a
    # misc channel only where the file says volts (misc is often a trigger or a sensor)
    picks = mne.pick_types(raw.info, eeg=True, eog=True, emg=True, ecg=True, misc=True, exclude=[])
    kinds = raw.get_channel_types()
    volts = mne.io.constants.FIFF.FIFF_UNIT_V
    picks = [int(i) for i in picks if kinds[i] != "misc" or raw.info["chs"][i]["unit"] == volts]
    names = [raw.ch_names[i] for i in picks]
    types = [kinds[i] for i in picks]
    labels = [label_from_name(n) if t == "eeg" else n for n, t in zip(names, types, strict=True)]
    if len(set(labels)) != len(labels):
        labels = names
    return raw, picks, labels, types


def read_eeg_file(path: str | Path) -> EEGRecording:
    """Read an EEG file that MNE reads (EDF, BDF, FIF, BrainVision, ...).

    The EEG channels, and the EOG, EMG, ECG (and volt-valued misc) channels with their types,
    become rows 1 … n of a :func:`file_layout` (in µV), row 0 the sample number, then the
    timestamp (s since the epoch if the file has a measurement date, else since the first
    sample) and a marker row of zeros; annotations are kept separately.

    Raises
    ------
    SessionError
        One line if the file is missing, unreadable or has no EEG channel.
    """
    path = Path(path)
    raw, picks, labels, types = _read_raw(path, preload=True)
    eeg = raw.get_data(picks=picks) * 1e6
    sfreq = float(raw.info["sfreq"])
    layout = file_layout(sfreq, labels, types)
    n = eeg.shape[1]
    data = np.zeros((layout.n_rows, n))
    data[0] = np.arange(n)
    data[list(layout.eeg_rows)] = eeg
    meas_date = raw.info["meas_date"]
    t0 = meas_date.timestamp() + raw.first_time if meas_date is not None else 0.0
    data[layout.timestamp_row] = t0 + np.arange(n) / sfreq
    ann = raw.annotations
    offset = raw.first_time if ann.orig_time is not None else 0.0
    annotations = [
        (float(o - offset), float(d), str(desc))
        for o, d, desc in zip(ann.onset, ann.duration, ann.description, strict=True)
    ]
    return EEGRecording(data=data, layout=layout, annotations=annotations, meas_date=meas_date)


def read_brainflow_file(
    path: str | Path,
    board_id: int,
    ch_names: Sequence[str] | None = None,
    ch_types: Sequence[str] | None = None,
) -> EEGRecording:
    """Read a ``DataFilter.write_file`` CSV written from a BrainFlow board.

    Parameters
    ----------
    path : path-like
        The file.
    board_id : int
        The board that produced it (its rows are that board's rows).
    ch_names : sequence of str | None
        Labels of the EEG rows; default BrainFlow's.
    ch_types : sequence of str | None
        Their types (the profile's ``channel_types``); default all EEG.

    Returns
    -------
    EEGRecording
        Non-zero markers become annotations; ``meas_date`` is the first timestamp.
    """
    from brainflow.data_filter import DataFilter

    path = Path(path)
    if not path.is_file():
        raise SessionError(f"{path}: no such file")
    layout = board_layout(board_id, ch_names, ch_types)
    try:
        DataFilter.disable_data_logger()  # its C++ log would print past our one-line error
        data = DataFilter.read_file(str(path))
    except BrainFlowError as err:
        raise SessionError(f"{path}: cannot read as a BrainFlow file ({err})") from None
    data = np.atleast_2d(np.asarray(data, dtype=np.float64))
    if data.shape[0] != layout.n_rows:
        raise SessionError(
            f"{path}: has {data.shape[0]} rows, but {board_name(board_id)} data has {layout.n_rows}"
        )
    annotations: list[tuple[float, float, str]] = []
    if layout.marker_row is not None:
        for i in np.flatnonzero(data[layout.marker_row]):
            annotations.append((i / layout.sfreq, 0.0, f"{data[layout.marker_row, i]:g}"))
    meas_date = None
    if layout.timestamp_row is not None and data.shape[1] and data[layout.timestamp_row, 0] > 0:
        meas_date = datetime.fromtimestamp(data[layout.timestamp_row, 0], tz=timezone.utc)
    return EEGRecording(data=data, layout=layout, annotations=annotations, meas_date=meas_date)


class FileSource:
    """An EEG file played as a live device, paced by the wall clock.

    Parameters
    ----------
    path : path-like
        Any EEG file :func:`read_eeg_file` reads.
    speed : float
        Playback speed (``2.0`` delivers two seconds of EEG per second).
    loop : bool
        Start again at the end instead of ending (the sample counter keeps counting).
    name : str | None
        Name used in messages.

    Notes
    -----
    Rows are ``[counter, eeg..., timestamp, marker]`` (:func:`file_layout`), EEG in µV. The
    header is read at construction (so :attr:`layout` is known), the samples at
    :meth:`open`. A re-open (after a failure) resumes where playback stopped. At the end of a
    file that does not loop, :meth:`read` raises :class:`EndOfStream`.
    """

    def __init__(
        self, path: str | Path, *, speed: float = 1.0, loop: bool = False, name: str | None = None
    ) -> None:
        if (
            isinstance(speed, bool)
            or not isinstance(speed, (int, float))
            or not (math.isfinite(speed) and speed > 0)
        ):
            raise ConfigError(f"FileSource: speed must be a number > 0, got {speed!r}")
        if not isinstance(loop, bool):
            raise ConfigError(f"FileSource: loop must be true or false, got {loop!r}")
        self.path = Path(path)
        self.speed = float(speed)
        self.loop = loop
        self.name = name or self.path.name
        raw, _, labels, types = _read_raw(self.path, preload=False)
        self.layout = file_layout(float(raw.info["sfreq"]), labels, types)
        self._eeg: np.ndarray | None = None
        self._pos = 0  # next sample number to deliver (counts on across loops)
        self._t0 = 0.0
        self._wall0 = 0.0
        self._pos0 = 0
        self._markers: list[float] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<FileSource | {self.path.name}, {self.speed:g}×, {self._pos} samples played>"

    @property
    def label(self) -> str:
        """The source, for messages."""
        return self.name

    @property
    def n_played(self) -> int:
        """Samples delivered so far."""
        return self._pos

    def open(self) -> None:
        """Load the samples and start the clock (resuming at the current position)."""
        with self._lock:
            if self._eeg is not None:
                return
            try:
                rec = read_eeg_file(self.path)
            except NfbError as err:
                raise DeviceError(f"cannot open {self.name}: {err}") from None
            if rec.layout != self.layout:
                raise DeviceError(f"cannot open {self.name}: {self.path} changed its channels")
            if rec.n_samples == 0:
                raise DeviceError(f"cannot open {self.name}: {self.path} holds no samples")
            self._eeg = np.ascontiguousarray(rec.eeg)
            self._t0 = time.monotonic()
            self._wall0 = time.time()
            self._pos0 = self._pos

    def read(self) -> np.ndarray:
        """Return the samples due by now, ``(n_rows, n)``."""
        with self._lock:
            eeg = self._eeg
            if eeg is None:
                raise DeviceError(f"{self.name} is not open")
            total = eeg.shape[1]
            rate = self.layout.sfreq * self.speed
            due = self._pos0 + int((time.monotonic() - self._t0) * rate)
            if not self.loop:
                if self._pos >= total:
                    raise EndOfStream(f"{self.name}: end of file after {total} samples")
                due = min(due, total)
            n = max(due - self._pos, 0)
            idx = np.arange(self._pos, self._pos + n)
            out = np.zeros((self.layout.n_rows, n))
            out[0] = idx
            out[1 : 1 + eeg.shape[0]] = eeg[:, idx % total]
            out[self.layout.timestamp_row] = self._wall0 + (idx - self._pos0) / rate
            k = min(n, len(self._markers))
            if k:
                out[self.layout.marker_row, :k] = self._markers[:k]
                del self._markers[:k]
            self._pos += n
            return out

    def insert_marker(self, value: float) -> None:
        """Mark the next delivered sample with ``value`` (non-zero)."""
        value = check_marker(value)
        with self._lock:
            if self._eeg is None:
                raise DeviceError(f"cannot insert a marker: {self.name} is not open")
            self._markers.append(value)

    def close(self) -> None:
        """Forget the samples (the position is kept); idempotent, never raises."""
        with self._lock:
            self._eeg = None
