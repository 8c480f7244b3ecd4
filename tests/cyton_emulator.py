"""An OpenBCI Cyton on a pseudo-terminal, for BrainFlow's real Cyton driver.

It speaks the Cyton's serial protocol as BrainFlow uses it: ``v`` (soft reset) and ``d``
(default channel settings) are answered with text ending in ``$$$``; after ``b`` it streams
33-byte packets (0xA0, sample number, 8 channels of 24-bit big-endian two's complement ADC
counts, 6 aux bytes, 0xC0) at 250 Hz, paced by the monotonic clock; ``s`` stops the stream.
``power_off()`` makes the board fall silent as a Cyton does when its battery is pulled or it
leaves radio range (the USB dongle, hence the serial port, stays); ``power_on()`` brings it
back, and it streams again once the driver sends ``b``. With ``power_off(keep_clock=True)``
the board keeps sampling meanwhile (out of range, not switched off): its sample numbers run
on with its clock, and :attr:`CytonEmulator.outages` says which samples never reached the
driver, the emulator's own measure of the outage.

Run it by hand to try nfb without a board::

    python tests/cyton_emulator.py        # prints the port; Ctrl-C to quit
    python tests/cyton_emulator.py --trickle   # a board whose connection never completes
    nfb run --device cyton --serial-port /dev/pts/N --protocol alpha-up --client demo
"""

from __future__ import annotations

import os
import pty
import select
import threading
import time
import tty
from collections.abc import Callable

import numpy as np

SFREQ = 250
#: µV per ADC count at the default gain of 24, as BrainFlow converts
UV_PER_COUNT = 4.5 / 24 / (2**23 - 1) * 1e6


def alpha_counts(k: np.ndarray) -> np.ndarray:
    """Default signal: 20 µV RMS 10 Hz alpha on every channel plus 3 µV noise (seeded by k)."""
    t = k / SFREQ
    alpha = np.sqrt(2) * 20 * np.sin(2 * np.pi * 10 * t)
    noise = np.random.default_rng(k[0] if k.size else 0).standard_normal((8, k.size)) * 3
    return np.round((alpha + noise) / UV_PER_COUNT).astype(np.int64)


class CytonEmulator:
    """A Cyton board behind a pseudo-terminal.

    Parameters
    ----------
    counts : callable
        Maps sample numbers (an int array, counted from 0 since the emulator started) to an
        (8, n) array of ADC counts.
    skip : set of int
        Packets never sent (lost on the radio); the sample numbers still advance.
    n_samples : int | None
        Stop streaming after this many samples (``None``: forever).
    trickle : bool
        Answer ``d`` with an endless trickle of bytes, one every 0.2 s and never the ``$$$``
        that ends an answer (a board whose firmware is stuck, noise on the radio link):
        BrainFlow's ``prepare_session`` then reads for about 4096 × 0.2 s (14 minutes)
        before it gives up, which to nfb is a connection that never returns.
    """

    def __init__(
        self,
        counts: Callable[[np.ndarray], np.ndarray] = alpha_counts,
        *,
        skip: set[int] | frozenset[int] = frozenset(),
        n_samples: int | None = None,
        trickle: bool = False,
        impedance_ohm: dict[int, float] | None = None,
    ) -> None:
        self.counts = counts
        self.trickle = trickle
        self.commands = ""  # every command byte the driver sent, in order
        self._trickling = False
        self._next_trickle = 0.0
        self.skip = set(skip)
        self.n_samples = n_samples
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.sent = 0  # samples streamed so far (including skipped ones)
        self.packets = 0  # packets actually written
        self._on = threading.Event()
        self._on.set()
        self._stop = threading.Event()
        self._streaming_since: float | None = None
        self._base = 0
        self._kept_clock: tuple[float, int] | None = None  # (since, base) of a board out of range
        #: (first sample lost, first sample sent again) of each outage with keep_clock
        self.outages: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._pending = ""  # a channel-settings or lead-off command split across two reads
        self.settings: list[str] = []  # channel-settings and lead-off commands, whole
        self.channel_settings: dict[int, str] = {}
        self.lead_off: dict[int, str] = {}
        # electrode impedance per channel (1-8): with lead-off on, the 6 nA drive at 31.25 Hz
        # through it and the board's 2.2 kΩ series resistor shows as a sine on that channel
        self.impedance_ohm = dict(impedance_ohm or {})
        self._thread = threading.Thread(target=self._run, name="cyton-emulator", daemon=True)
        self._thread.start()

    # --- the board -------------------------------------------------------------------------
    def _packets(self, first: int, last: int) -> bytes:
        k = np.arange(first, last)
        counts = self.counts(k)
        for channel, setting in self.lead_off.items():
            if "1" in setting:
                amp_uv = (self.impedance_ohm.get(channel, 1e6) + 2200) * 6e-9 * 1e6
                wave = amp_uv * np.sin(2 * np.pi * (SFREQ / 8) * k / SFREQ)
                counts[channel - 1] = counts[channel - 1] + np.round(wave / UV_PER_COUNT).astype(
                    np.int64
                )
        out = bytearray()
        for j, n in enumerate(k):
            if int(n) in self.skip:
                continue
            out += bytes([0xA0, int(n) % 256])
            for value in counts[:, j]:
                out += int(value & 0xFFFFFF).to_bytes(3, "big")
            out += bytes(6) + b"\xc0"
            self.packets += 1
        return bytes(out)

    def _answer(self, cmd: bytes) -> None:
        text = self._pending + cmd.decode(errors="ignore")
        self.commands += cmd.decode(errors="ignore")
        self._pending = ""
        while text:
            c, text = text[0], text[1:]
            # channel settings x (CH PD GAIN INPUT BIAS SRB2 SRB1) X; lead-off z (CH P N) Z
            if c in "xz":
                end = text.find(c.upper())
                if end < 0:
                    self._pending = c + text  # the rest comes in the next read
                    return
                self._setting(c, text[:end])
                text = text[end + 1 :]
            elif c == "d" and self.trickle:
                self._trickling = True
            elif c == "v":
                os.write(self.master, b"OpenBCI V3 8-16 channel\nFirmware: v3.1.2\n$$$")
            elif c == "d":
                os.write(self.master, b"updating channel settings to default$$$")
            elif c == "b" and self._kept_clock is not None:
                # out of range, the board went on sampling: it resumes at its clock's sample
                since, base = self._kept_clock
                self._kept_clock = None
                now_sample = base + int((time.monotonic() - since) * SFREQ)
                self.outages.append((self.sent, now_sample))
                self.sent = now_sample
                self._streaming_since, self._base = since, base
            elif c == "b":
                self._streaming_since, self._base = time.monotonic(), self.sent
            elif c == "s":
                self._streaming_since = None

    def _setting(self, kind: str, args: str) -> None:
        """Answer a channel-settings or lead-off command as the Cyton firmware does."""
        self.settings.append(f"{kind}{args}{kind.upper()}")
        channel = "12345678".find(args[:1]) + 1
        # while streaming the firmware answers nothing (and BrainFlow reads nothing)
        quiet = self._streaming_since is not None
        if len(args) != (7 if kind == "x" else 3) or channel == 0:
            if not quiet:
                os.write(self.master, b"Failure: too few chars$$$")
            return
        if kind == "x":
            self.channel_settings[channel] = args[1:]
            answer = f"Success: Channel set for {channel}$$$"
        else:
            self.lead_off[channel] = args[1:]
            answer = f"Success: Lead off set for {channel}$$$"
        if not quiet:
            os.write(self.master, answer.encode())

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.002)
            with self._lock:
                if ready:
                    try:
                        cmd = os.read(self.master, 256)
                    except OSError:
                        return
                    if self._on.is_set():
                        self._answer(cmd)  # a board that is off hears nothing
                if self._trickling and time.monotonic() >= self._next_trickle:
                    self._next_trickle = time.monotonic() + 0.2
                    try:
                        os.write(self.master, b".")
                    except OSError:
                        return
                if self._streaming_since is None or not self._on.is_set():
                    continue
                due = self._base + int((time.monotonic() - self._streaming_since) * SFREQ)
                if self.n_samples is not None:
                    due = min(due, self.n_samples)
                if due > self.sent:
                    try:
                        os.write(self.master, self._packets(self.sent, due))
                    except OSError:
                        return
                    self.sent = due

    # --- what a test does to it ------------------------------------------------------------
    def power_off(self, *, keep_clock: bool = False) -> int:
        """The board falls silent (battery out, out of range); returns samples sent so far.

        With ``keep_clock`` the board goes on sampling (out of radio range): once the driver
        starts the stream again, it sends the sample its clock has reached, and the samples
        between are an entry of :attr:`outages`.
        """
        with self._lock:
            self._on.clear()
            if keep_clock and self._streaming_since is not None:
                self._kept_clock = (self._streaming_since, self._base)
            self._streaming_since = None
            return self.sent

    def board_clock(self) -> int:
        """The sample number the board's clock has reached (while it keeps its clock)."""
        with self._lock:
            kept = self._kept_clock
            if kept is None:
                return self.sent
            return kept[1] + int((time.monotonic() - kept[0]) * SFREQ)

    def power_on(self) -> None:
        """The board is back; it streams once the driver starts the stream again."""
        with self._lock:
            self._on.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)

    def __enter__(self) -> CytonEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":  # pragma: no cover - a tool for people
    import sys

    with CytonEmulator(trickle="--trickle" in sys.argv) as emu:
        print(emu.port, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
