"""Electrode impedance of a Ganglion, from its impedance mode.

The Ganglion firmware's ``z`` command starts its impedance test and ``Z`` stops it. While it
runs, the board sends no EEG: it drives a small AC current through each input in turn
(channels 1-4, then the reference) and sends one BLE packet per input:

    byte 0      packet id: 201-204 for channels 1-4, 205 for the reference
    bytes 1...  the value as ASCII decimal digits (optionally signed), then ``Z``

(OpenBCI's "Ganglion Data Format", Packet ID cheat sheet.) The documentation says "ohms",
but the firmware (``OpenBCI_Ganglion::testImpedance``) divides its measured ohms by 1000
and passes the kΩ through an empirical correction before it prints the integer: the value
is in kΩ, which is how OpenBCI GUI shows it. The measured path runs from the input through
the driven-ground (D_G) electrode, so OpenBCI GUI halves it, "assuming that the D_G electrode
is comparable in impedance"; so does :func:`electrode_kohm`.

BrainFlow (``GANGLION_BOARD`` through the BLED112 dongle, ``GANGLION_NATIVE_BOARD`` over the
computer's Bluetooth) parses these packets itself: ``config_board("z")`` stops the stream,
makes ``z``/``Z`` its start/stop commands and restarts it; every impedance packet then
becomes a row whose package counter is the packet id and whose resistance rows
(``get_resistance_channels``) hold the newest value of each of the five inputs (EEG rows
zero). ``config_board("Z")`` goes back to ``b``/``s``: the board streams EEG again.
:func:`measure` reads those rows; :func:`parse_packet` reads the raw packets (recordings of
the BLE traffic, and the tests).

Verdicts are those of the Cyton (:func:`nfb.impedance.verdict`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ._logging import logger
from .errors import DeviceError
from .impedance import ElectrodeImpedance, verdict

#: Packet ids of the impedance packets: channels 1-4, then the reference.
FIRST_ID, LAST_ID = 201, 205
#: The inputs they measure, in id order (the reference has no EEG row).
N_INPUTS = LAST_ID - FIRST_ID + 1
#: Name of the reference input in results.
REFERENCE = "REF"
#: Readings of every input before its value is taken (the first may be settling).
ROUNDS = 2
#: Longest value the firmware prints (BrainFlow looks for the ``Z`` in bytes 1-5).
MAX_DIGITS = 5


def parse_packet(packet: bytes) -> tuple[int, float]:
    """Read one raw impedance packet.

    Parameters
    ----------
    packet : bytes
        One BLE notification: the packet id, ASCII digits and ``Z`` (BLE may pad the
        notification after the ``Z``; the padding is ignored).

    Returns
    -------
    input : int
        0-3 for channels 1-4, 4 for the reference.
    raw_kohm : float
        The value the board sent (kΩ, electrode and D_G in series; see the module notes).

    Raises
    ------
    ValueError
        One line saying what is wrong: empty, not an impedance packet id, no ``Z``
        terminator, no digits, or something else than digits before the ``Z``.
    """
    data = bytes(packet)
    if not data:
        raise ValueError("Ganglion impedance packet: empty")
    pid = data[0]
    if not FIRST_ID <= pid <= LAST_ID:
        raise ValueError(
            f"Ganglion impedance packet: id {pid} is not an impedance id ({FIRST_ID}-{LAST_ID})"
        )
    end = data.find(b"Z", 1)
    if end < 0:
        raise ValueError(f"Ganglion impedance packet {pid}: no 'Z' after the value")
    text = data[1:end]
    digits = text[1:] if text[:1] == b"-" else text
    if not digits:
        raise ValueError(f"Ganglion impedance packet {pid}: no digits before the 'Z'")
    if len(text) > MAX_DIGITS or not digits.isdigit():
        shown = text[:12].decode("ascii", "backslashreplace")
        raise ValueError(
            f"Ganglion impedance packet {pid}: value {shown!r} is not up to {MAX_DIGITS} "
            "ASCII digits"
        )
    return pid - FIRST_ID, float(int(text))


def electrode_kohm(raw_kohm: float) -> float:
    """The electrode's impedance (kΩ) from the value the board sent.

    Half the measured path (input to D_G), as OpenBCI GUI shows it; the firmware's empirical
    correction can go below zero for a near-short, which is 0 kΩ.
    """
    return max(float(raw_kohm), 0.0) / 2.0


class Readings:
    """The readings of one impedance test, input by input, from packets or BrainFlow rows.

    Parameters
    ----------
    names : sequence of str
        Labels of the four channels (the layout's); the reference is :data:`REFERENCE`.
    rounds : int
        Readings of each input before it counts as measured.
    """

    def __init__(self, names, rounds: int = ROUNDS) -> None:
        names = list(names)
        if len(names) != N_INPUTS - 1:
            raise ValueError(f"a Ganglion has {N_INPUTS - 1} channels, got names {names}")
        self.names = [*names, REFERENCE]
        self.rounds = int(rounds)
        self.values: list[list[float]] = [[] for _ in range(N_INPUTS)]

    def add(self, index: int, raw_kohm: float) -> None:
        """One reading of input ``index`` (0-4)."""
        if math.isfinite(raw_kohm):
            self.values[index].append(float(raw_kohm))

    def add_packet(self, packet: bytes) -> None:
        """One raw packet (:func:`parse_packet`); a malformed one is logged and skipped."""
        try:
            index, raw = parse_packet(packet)
        except ValueError as err:
            logger.warning("%s (skipped)", err)
            return
        self.add(index, raw)

    def add_rows(self, counter: np.ndarray, resistance: np.ndarray) -> None:
        """Rows as BrainFlow delivers them: package counters and the five resistance rows.

        A row whose counter is an impedance id carries a new reading of that input (the
        other four resistance values are held from earlier packets); EEG rows are skipped.
        """
        for j, pid in enumerate(np.asarray(counter, dtype=float)):
            if math.isfinite(pid) and FIRST_ID <= pid <= LAST_ID and pid == int(pid):
                index = int(pid) - FIRST_ID
                self.add(index, float(resistance[index, j]))

    @property
    def complete(self) -> bool:
        """Every input read at least :attr:`rounds` times."""
        return all(len(v) >= self.rounds for v in self.values)

    def missing(self) -> list[str]:
        """The inputs not read :attr:`rounds` times yet."""
        return [n for n, v in zip(self.names, self.values, strict=True) if len(v) < self.rounds]

    def result(self) -> list[ElectrodeImpedance]:
        """Each input's newest reading as an electrode impedance (``inf`` if never read)."""
        out = []
        for name, values in zip(self.names, self.values, strict=True):
            kohm = electrode_kohm(values[-1]) if values else math.inf
            out.append(ElectrodeImpedance(name, kohm, verdict(kohm)))
        return out


def resistance_rows(board_id: int) -> list[int]:
    """The rows of BrainFlow's data that hold a board's five impedance values."""
    from brainflow.board_shim import BoardShim

    rows = list(BoardShim.get_resistance_channels(int(board_id)))
    if len(rows) != N_INPUTS:
        raise DeviceError(f"BrainFlow gives board {board_id} {len(rows)} resistance rows, not 5")
    return rows


def measure(
    stream, *, rounds: int = ROUNDS, timeout: float = 60.0, poll: float = 0.05
) -> list[ElectrodeImpedance]:
    """Run a streaming Ganglion's impedance test and return each input's impedance.

    Sends ``z``, reads the impedance rows until every input was read ``rounds`` times, sends
    ``Z`` (always, also after an error) and waits for the EEG stream to come back. Losses
    are not counted meanwhile (:meth:`~nfb.acquisition.Acquisition.count_drops`): the
    impedance rows' counters are packet ids, not sample numbers.

    Parameters
    ----------
    stream : DeviceStream
        Connected and streaming; its board one of :data:`nfb.impedance.GANGLION_BOARDS`.
    rounds : int
        Readings of each input before its newest one is taken.
    timeout : float
        Seconds to wait for the readings, and again for the EEG stream afterwards.
    poll : float
        Seconds between two looks at the ring buffer.

    Returns
    -------
    list of ElectrodeImpedance
        The four channels (the layout's labels), then the reference (``REF``).

    Raises
    ------
    DeviceError
        One line: the board refused a command, sent no impedance for an input within
        ``timeout``, or did not stream EEG again.
    """
    layout = stream.layout
    rows = resistance_rows(layout.board_id)
    counter_row = layout.counter_row
    readings = Readings(layout.ch_names, rounds)
    start = stream.n_samples
    # impedance rows are numbered 201-205: no samples, so no losses to read from them
    stream.acquisition.count_drops(False)
    measured = False
    try:
        stream.configure("z")
        _collect(stream, readings, start, rows, counter_row, timeout, poll)
        measured = True
    finally:
        try:
            stream.configure("Z")
            _wait_for_eeg(stream, counter_row, timeout, poll)
        except DeviceError:
            if measured:  # else the reason the test failed is the one to tell
                raise
        finally:
            stream.acquisition.count_drops(True)
    return readings.result()


def _collect(stream, readings: Readings, seen: int, rows, counter_row, timeout, poll) -> None:
    """Feed the impedance rows arriving after sample ``seen`` to ``readings`` until every
    input was read."""
    deadline = time.monotonic() + timeout
    while not readings.complete:
        if time.monotonic() > deadline:
            raise DeviceError(
                f"{stream.profile.name} sent no impedance for {', '.join(readings.missing())} "
                f"within {timeout:g} s"
            )
        _wait(stream, seen, poll)
        now = stream.n_samples
        if now > seen:
            block = stream.ring.get(max(seen, stream.ring.first_available), now)
            readings.add_rows(block[counter_row], block[rows])
            seen = now


def _wait_for_eeg(stream, counter_row: int, timeout: float, poll: float) -> None:
    """Wait for a row of EEG (a counter below the impedance ids) after ``Z``."""
    deadline = time.monotonic() + timeout
    seen = stream.n_samples
    while time.monotonic() < deadline:
        _wait(stream, seen, poll)
        now = stream.n_samples
        if now > seen:
            block = stream.ring.get(max(seen, stream.ring.first_available), now)
            if np.any(block[counter_row] < FIRST_ID):
                return
            seen = now
    raise DeviceError(f"{stream.profile.name} did not stream EEG again after its impedance test")


def _wait(stream, seen: int, poll: float) -> None:
    """Wait up to ``poll`` s for a sample past ``seen``; a stream that ended is an error."""
    ended = not stream.acquisition.wait_samples(seen + 1, timeout=poll)
    if ended and not stream.acquisition.is_alive:
        raise DeviceError(f"{stream.profile.name} stopped streaming during the check")
