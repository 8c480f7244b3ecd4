"""``nfb bench latency``: from fetching a frame's newest sample to the frame being ready.

The real live path: BrainFlow's synthetic board through a :class:`DeviceStream` and a
:class:`LiveSession` (recorder, runner, frame history) on the default protocol, recording to a
temporary session store. Every frame carries ``wall_time``, the ``time.time()`` at which the
acquisition thread fetched its newest sample; the benchmark wraps the runner's ``on_frames``
callback (the live session's own, which records the frames and feeds the displays) and stamps
``time.time()`` as each batch of frames is handed over. Frame ready − fetch, for every frame,
gives the percentiles. Nothing in the engine changes for this.

With ``gui``, a second session is run the same way, but started and watched by the
practitioner console (and the client's window), offscreen, driven through their own controls
(connect, protocol, client, start), with their 60 Hz refresh: frame ready − fetch again (now
with the GUI thread competing for the interpreter), and after each refresh the console's own
figure: the age of the newest frame when the feature plot's ``setData`` ran (now − that
frame's ``wall_time``). While the session runs, the console's refreshes per second
(``draws_per_s``), the repaints of its traces per second (``paints_per_s``) and the
main-thread time of each refresh (``refresh_p50_ms``, ``refresh_p95_ms``; the paints that
follow it are not included) are counted too.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..protocol import load_protocol
from ..session.runner import COLUMN
from .throughput import DEFAULT_PROTOCOL

#: The console's figures of the ``gui-age-at-draw`` row (see the module's docstring).
GUI_RATES = ("draws_per_s", "paints_per_s", "refresh_p50_ms", "refresh_p95_ms")


class FrameProbe:
    """Wraps an ``on_frames`` callback; records ready − fetch for every frame it passes on."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self._lags: list[np.ndarray] = []
        self._lock = threading.Lock()
        self.n_frames = 0

    def __call__(self, rows: np.ndarray) -> None:
        ready = time.time()
        lag = ready - rows[:, COLUMN["wall_time"]]
        with self._lock:
            self._lags.append(lag)
            self.n_frames += len(rows)
        if self.inner is not None:
            self.inner(rows)

    def lags_ms(self) -> np.ndarray:
        with self._lock:
            return 1000.0 * np.concatenate(self._lags) if self._lags else np.empty(0)


def percentiles(ms: np.ndarray) -> dict:
    """``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms`` and ``n_frames``."""
    ms = np.asarray(ms, dtype=float)
    ms = ms[np.isfinite(ms)]
    if not ms.size:
        raise RuntimeError("latency: no frame was measured")
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
        "n_frames": int(ms.size),
    }


def gui_available() -> tuple[bool, str]:
    """Whether the console can run here (offscreen), and why not."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PyQt6 import QtWidgets  # noqa: F401

        from ..gui import console  # noqa: F401
    except Exception as err:  # a missing or broken Qt: the benchmark runs headless
        return False, f"{type(err).__name__}: {err}"
    return True, ""


def _headless(seconds: float, protocol: str, sessions_dir: Path) -> tuple[FrameProbe, dict]:
    from ..devices import load_profile
    from ..session.live import LiveSession
    from ..stream import DeviceStream

    stream = DeviceStream(load_profile("synthetic"))
    stream.connect()
    try:
        session = LiveSession(
            stream, load_protocol(protocol), "bench", sessions_dir=sessions_dir, duration_s=seconds
        )
        probe = FrameProbe(session.runner.on_frames)
        session.runner.on_frames = probe
        session.start()
        session.wait(seconds + 60.0)
        status = session.stop("user")
        return probe, {"status": status, "dropped": stream.n_dropped}
    finally:
        stream.disconnect()


def _paint_counter():
    from PyQt6 import QtCore

    class PaintCounter(QtCore.QObject):
        """Counts the paint events of the widget it filters (and lets them through)."""

        count = 0

        def eventFilter(self, _obj, event) -> bool:
            if event.type() == QtCore.QEvent.Type.Paint:
                self.count += 1
            return False

    return PaintCounter()


def _with_gui(seconds: float, protocol: str, sessions_dir: Path) -> tuple[FrameProbe, dict]:
    from PyQt6 import QtCore, QtWidgets

    from ..gui.app import build, close_windows, tune_process
    from ..gui.lifetime import GuiThreadCollector

    tune_process()  # as the app does
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["nfb-bench"])
    settings = QtCore.QSettings(
        str(sessions_dir / "settings.ini"), QtCore.QSettings.Format.IniFormat
    )
    collector = GuiThreadCollector(parent=app)
    collector.start()
    console = build(sessions_dir, settings=settings, sound=False)
    client = console.client_window
    ages: list[float] = []
    refresh_ms: list[float] = []
    probe: FrameProbe | None = None

    def timed_refresh() -> None:
        t = time.perf_counter()
        console.refresh()
        if probe is None:  # counted while the session is measured only
            return
        refresh_ms.append(1000.0 * (time.perf_counter() - t))
        if console.session is not None and console.latency_ms is not None:
            ages.append(console.latency_ms)

    # the console's own refresh, timed: the same call in the same place of the event loop
    console.timer.timeout.disconnect(console.refresh)
    console.timer.timeout.connect(timed_refresh)
    paints = _paint_counter()
    loop = QtCore.QEventLoop()

    def run_until(cond, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        timer = QtCore.QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: (cond() or time.monotonic() > deadline) and loop.quit())
        timer.start()
        loop.exec()
        timer.stop()
        return bool(cond())

    try:
        console.show()
        client.show()
        console.device_box.setCurrentText("synthetic")
        console.connect_device()
        if not run_until(lambda: console.stream is not None, 30.0):
            raise RuntimeError("latency --gui: the console did not connect the synthetic board")
        console.protocol_box.setCurrentText(protocol)
        console.client_box.setCurrentText("bench")
        console.start_session()
        if not run_until(lambda: console.session is not None, 30.0):
            raise RuntimeError("latency --gui: the console did not start a session")
        session = console.session
        console.traces.viewport().installEventFilter(paints)
        probe = FrameProbe(session.runner.on_frames)
        session.runner.on_frames = probe
        t0 = time.monotonic()
        need = int(seconds * session.runner.frame_rate)
        run_until(lambda: probe.n_frames >= need or session.finished, seconds + 60.0)
        elapsed = max(time.monotonic() - t0, 1e-9)
        n_paints = paints.count
        console.traces.viewport().removeEventFilter(paints)
        refresh = np.asarray(refresh_ms)
        info = {
            "status": "measured",
            "dropped": console.stream.n_dropped,
            "ages_ms": np.asarray(ages),
            "draws_per_s": len(refresh) / elapsed,
            "paints_per_s": n_paints / elapsed,
            "refresh_p50_ms": float(np.median(refresh)) if refresh.size else float("nan"),
            "refresh_p95_ms": float(np.percentile(refresh, 95)) if refresh.size else float("nan"),
        }
    finally:
        close_windows(console)
        collector.stop()
    return probe, info


def run(seconds: float = 60.0, gui: bool | None = None, protocol: str = DEFAULT_PROTOCOL):
    """Rows ``nfb-default`` (frame ready − fetch, headless) and, with the GUI, a second session
    watched by the console: ``nfb-default-gui`` (the same figure while it draws) and
    ``gui-age-at-draw``.

    Returns (rows, notes)."""
    if seconds <= 0:
        raise ValueError("latency: seconds must be > 0")
    notes = []
    if gui is None or gui:
        ok, why = gui_available()
        if not ok:
            if gui:
                raise RuntimeError(f"latency --gui: PyQt6 does not work here ({why})")
            notes.append(f"latency: no GUI ({why})")
        gui = ok
    common = {"seconds": seconds, "device": "synthetic", "protocol": protocol}
    with tempfile.TemporaryDirectory(prefix="nfb-bench-") as tmp:
        probe, info = _headless(seconds, protocol, Path(tmp))
        rows = [
            {
                "name": "nfb-default",
                **percentiles(probe.lags_ms()),
                **common,
                "gui": False,
                "dropped": int(info["dropped"]),
                "load_avg_1min": os.getloadavg()[0],
            }
        ]
        if gui:
            probe, info = _with_gui(seconds, protocol, Path(tmp))
            rows.append(
                {
                    "name": "nfb-default-gui",
                    **percentiles(probe.lags_ms()),
                    **common,
                    "gui": True,
                    "dropped": int(info["dropped"]),
                    "load_avg_1min": os.getloadavg()[0],
                }
            )
            age = percentiles(info["ages_ms"])
            age["n_draws"] = age.pop("n_frames")
            rows.append(
                {
                    "name": "gui-age-at-draw",
                    **age,
                    **{key: float(info[key]) for key in GUI_RATES},
                    **common,
                    "gui": True,
                }
            )
    return rows, notes
