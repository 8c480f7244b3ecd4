"""Electrode impedance of a Cyton (and Cyton + Daisy), as OpenBCI measures it.

(The Ganglion's impedance mode is :mod:`nfb.ganglion_impedance`; :func:`measure` runs
whichever the board has.)

The ADS1299 drives a known AC current through an electrode when its lead-off detection is
on (Cyton firmware command ``z (CHANNEL, PCHAN, NCHAN) Z``): 6 nA at a quarter of the
Nyquist frequency (31.25 Hz at 250 Hz). The voltage that current makes across the electrode
and the board's 2.2 kΩ series resistor is measured on the channel itself::

    Z = sqrt(2) × RMS(31.25 Hz) / 6 nA − 2.2 kΩ

(OpenBCI GUI's computation, with the RMS of the channel band-passed around the drive
frequency). Channels are measured one at a time, so one electrode's drive does not leak
into its neighbours' readings; the board streams all along and returns to normal after
each channel. Electrodes on the N inputs (OpenBCI's default wiring, SRB2 as reference) are
driven on the N side; ``side="P"`` for the P inputs.

Verdicts (wet or gel electrodes; dry electrodes run higher): ``good`` up to
:data:`GOOD_KOHM`, ``check`` up to :data:`CHECK_KOHM`, ``bad`` above (or no contact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from .errors import DeviceError

#: Lead-off drive current of the ADS1299 as the Cyton sets it (A).
LEADOFF_CURRENT_A = 6e-9
#: The Cyton's series resistor on each input (Ω).
SERIES_RESISTOR_OHM = 2200.0
#: Impedance verdict thresholds (kΩ).
GOOD_KOHM, CHECK_KOHM = 10.0, 50.0
#: Seconds measured per channel, after :data:`SETTLE_S` for the filters of the board.
MEASURE_S, SETTLE_S = 2.0, 0.5
#: Channel characters of the Cyton command set: 1-8 on the Cyton, Q-I on the Daisy.
CHANNEL_CHARS = "12345678QWERTYUI"
#: Boards with the Cyton's lead-off commands.
CYTON_BOARDS = ("CYTON_BOARD", "CYTON_DAISY_BOARD", "CYTON_WIFI_BOARD", "CYTON_DAISY_WIFI_BOARD")
#: Boards with the Ganglion's impedance mode (:mod:`nfb.ganglion_impedance`).
GANGLION_BOARDS = ("GANGLION_BOARD", "GANGLION_NATIVE_BOARD")
#: Every board with an impedance check.
IMPEDANCE_BOARDS = CYTON_BOARDS + GANGLION_BOARDS


@dataclass(frozen=True)
class ElectrodeImpedance:
    """One electrode's impedance.

    Attributes
    ----------
    name : str
        Its label.
    kohm : float
        Impedance in kΩ (``inf`` without contact).
    verdict : str
        ``good``, ``check`` or ``bad``.
    """

    name: str
    kohm: float
    verdict: str

    def to_dict(self) -> dict:
        return {"name": self.name, "kohm": self.kohm, "verdict": self.verdict}


def verdict(kohm: float) -> str:
    """``good``, ``check`` or ``bad`` for an impedance in kΩ."""
    if not np.isfinite(kohm) or kohm > CHECK_KOHM:
        return "bad"
    return "good" if kohm <= GOOD_KOHM else "check"


def impedance_kohm(x_uv: np.ndarray, sfreq: float) -> float:
    """Impedance (kΩ) from a channel recorded with its lead-off drive on.

    Parameters
    ----------
    x_uv : array, shape (n,)
        The channel, µV, at least a second.
    sfreq : float
        Its sampling rate; the drive is at ``sfreq / 8``.
    """
    x = np.asarray(x_uv, dtype=float)
    if x.size < sfreq or not np.all(np.isfinite(x)):
        raise DeviceError("impedance needs a second of finite samples per electrode")
    drive = sfreq / 8
    sos = signal.butter(4, (drive - 3, drive + 3), btype="bandpass", fs=sfreq, output="sos")
    y = signal.sosfiltfilt(sos, signal.detrend(x))
    edge = int(0.25 * sfreq)  # the filter's edges
    rms_v = float(np.std(y[edge:-edge])) * 1e-6
    ohm = np.sqrt(2) * rms_v / LEADOFF_CURRENT_A - SERIES_RESISTOR_OHM
    return max(ohm, 0.0) / 1e3


def leadoff_command(channel: int, on: bool, side: str = "N") -> str:
    """The Cyton command that switches channel ``channel`` (0-based) lead-off on or off."""
    if side not in ("N", "P"):
        raise ValueError(f"side must be 'N' or 'P', got {side!r}")
    p, n = ("1", "0") if side == "P" else ("0", "1")
    return f"z{CHANNEL_CHARS[channel]}{p if on else '0'}{n if on else '0'}Z"


def measure(
    stream, channels: list[int] | None = None, *, side: str = "N"
) -> list[ElectrodeImpedance]:
    """Measure the electrodes of a streaming Cyton one at a time, or run a Ganglion's test.

    Parameters
    ----------
    stream : DeviceStream
        Connected and streaming; its board one of :data:`IMPEDANCE_BOARDS`.
    channels : list of int | None
        Cyton: 0-based EEG channels (default all). A Ganglion measures all its inputs and
        the reference (:func:`nfb.ganglion_impedance.measure`).
    side : str
        Cyton: ``"N"`` (electrodes on the N inputs, OpenBCI's default) or ``"P"``.

    Raises
    ------
    DeviceError
        One line: no impedance check for this board, the board refused a command, or it
        stopped streaming.
    """
    board = stream.profile.board
    if board in GANGLION_BOARDS:
        from . import ganglion_impedance  # it builds on this module's verdicts

        return ganglion_impedance.measure(stream)
    if board not in CYTON_BOARDS:
        raise DeviceError(
            f"the impedance check is for the Cyton and Ganglion boards "
            f"({', '.join(IMPEDANCE_BOARDS)}); {stream.profile.name} is {board}"
        )
    layout = stream.layout
    chans = list(range(layout.n_eeg)) if channels is None else list(channels)
    sfreq = layout.sfreq
    out = []
    for ch in chans:
        stream.configure(leadoff_command(ch, True, side))
        try:
            start = stream.n_samples
            need = int((SETTLE_S + MEASURE_S) * sfreq)
            if not stream.acquisition.wait_samples(start + need, timeout=SETTLE_S + 10 * MEASURE_S):
                raise DeviceError(f"{stream.profile.name} stopped streaming during the check")
            eeg, _ = stream.latest_eeg(MEASURE_S)
        finally:
            stream.configure(leadoff_command(ch, False, side))
        kohm = impedance_kohm(eeg[ch], sfreq)
        out.append(ElectrodeImpedance(layout.ch_names[ch], kohm, verdict(kohm)))
    return out


def format_table(result: list[ElectrodeImpedance]) -> str:
    """The table ``nfb check --impedance`` prints."""
    lines = [f"{'channel':<8}  {'kΩ':>8}  verdict"]
    lines += [f"{r.name:<8}  {r.kohm:>8.1f}  {r.verdict}" for r in result]
    lines.append(
        f"good ≤ {GOOD_KOHM:g} kΩ, check ≤ {CHECK_KOHM:g} kΩ, bad above (wet/gel electrodes)"
    )
    return "\n".join(lines)
