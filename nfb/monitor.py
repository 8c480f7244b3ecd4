"""Display-ready views of a device stream, computed off the GUI thread.

The practitioner console draws traces and a spectrum at 60 Hz but must not filter or
transform anything itself. :class:`SignalMonitor` runs a thread that, a few times a second,
turns the newest seconds of the ring buffer into band-passed traces (DC offsets removed, so a
Cyton's large electrode offsets do not push the traces off screen) and the spectrum of one
channel, and publishes them as immutable snapshots the GUI only copies into its plots.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from scipy import signal

from .stream import DeviceStream


@dataclass(frozen=True)
class MonitorView:
    """One published view: traces (n_channels, n) in µV with their times, and a spectrum."""

    times: np.ndarray
    traces: np.ndarray
    freqs: np.ndarray
    psd_db: np.ndarray  # 10·log10(µV²/Hz) of the spectrum channel
    spectrum_channel: int
    newest_index: int


class SignalMonitor:
    """Compute display views of ``stream`` in a background thread.

    Parameters
    ----------
    stream : DeviceStream
        The connected device.
    window_s : float
        Seconds of traces (5–10 for the console).
    interval_s : float
        Seconds between views (the traces scroll at this rate).
    spectrum_interval_s : float
        Seconds between spectra (a Welch estimate over 2 s need not move at 60 Hz).
    band_hz : (float, float)
        Display band-pass.
    """

    def __init__(
        self,
        stream: DeviceStream,
        *,
        window_s: float = 8.0,
        interval_s: float = 1 / 60,
        spectrum_interval_s: float = 0.25,
        band_hz: tuple[float, float] = (1.0, 40.0),
    ) -> None:
        self.stream = stream
        self.window_s = float(window_s)
        self.interval_s = float(interval_s)
        self.spectrum_interval_s = float(spectrum_interval_s)
        self._spectrum: tuple[np.ndarray, np.ndarray, int, float] | None = None
        self.spectrum_channel = 0
        sfreq = stream.layout.sfreq
        hi = min(band_hz[1], 0.45 * sfreq)
        self._sos = signal.butter(2, [band_hz[0], hi], btype="bandpass", fs=sfreq, output="sos")
        self._view: MonitorView | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="nfb-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def view(self) -> MonitorView | None:
        """The newest view (None until the first one)."""
        return self._view

    def _run(self) -> None:
        deadline = time.monotonic()
        while True:
            # a fixed cadence: the computation's own time is not added to the interval
            deadline = max(deadline + self.interval_s, time.monotonic())
            if self._stop.wait(deadline - time.monotonic()):
                return
            view = self.compute()
            if view is not None:
                self._view = view

    def compute(self) -> MonitorView | None:
        """One view from the newest samples (also callable directly, e.g. in tests)."""
        sfreq = self.stream.layout.sfreq
        # a little more than shown, so that the filter's start-up is off screen
        eeg, first = self.stream.latest_eeg(self.window_s + 1.0)
        n = eeg.shape[1]
        if n < 2:
            return None
        x = eeg - eeg[:, :1]
        traces = signal.sosfilt(self._sos, x, axis=1)
        shown = min(n, int(self.window_s * sfreq))
        traces = traces[:, n - shown :]
        newest = first + n - 1
        times = (np.arange(newest - shown + 1, newest + 1)) / sfreq
        ch = min(self.spectrum_channel, eeg.shape[0] - 1)
        now = time.monotonic()
        cached = self._spectrum
        if cached is None or cached[2] != ch or now - cached[3] >= self.spectrum_interval_s:
            seg = eeg[ch, -int(min(n, 4 * sfreq)) :]
            nper = int(min(len(seg), 2 * sfreq))
            if nper >= 16:
                freqs, psd = signal.welch(seg - seg.mean(), fs=sfreq, nperseg=nper)
                psd_db = 10 * np.log10(np.maximum(psd, 1e-12))
            else:
                freqs, psd_db = np.empty(0), np.empty(0)
            cached = self._spectrum = (freqs, psd_db, ch, now)
        return MonitorView(times, traces, cached[0], cached[1], ch, newest)
