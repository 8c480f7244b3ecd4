"""Screenshots of the desktop app during a synthetic session, for the README.

Run under a real X server: ``xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python
tools/screenshots.py docs/``. It connects the synthetic board, starts a short session and
grabs the console (at 1366x768 and at 1920x1080) and the client window once the first
training block has run a while.
"""

import sys
import tempfile
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from nfb.gui.app import build

SHORT = """
name = "Alpha/beta ratio up (short demo)"
description = "Relaxation training: reward a rising alpha/beta amplitude ratio at Pz."
[signal]
channels = ["Pz"]
[feedback]
feature = "alpha / beta"
[[inhibit]]
kind = "band"
band = "theta"
max = "auto"
max_z = 2.5
[script]
baseline_eyes_open = 0.15
baseline_eyes_closed = 0.1
blocks = 3
block_min = 0.5
rest_min = 0.1
"""


def main(out: Path, mode: str = "bar") -> None:
    app = QtWidgets.QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp())
    protocols = tmp / "protocols"
    protocols.mkdir()
    (protocols / "alpha-beta-up-short.toml").write_text(SHORT)
    import os

    os.environ["NFB_PROTOCOLS_DIR"] = str(protocols)
    settings = QtCore.QSettings(str(tmp / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = build(tmp / "sessions", settings=settings, sound=False)
    console.resize(1600, 1000)
    console.show()
    client = console.client_window
    client.resize(900, 700)
    client.set_mode(mode)
    client.show()
    console.device_box.setCurrentText("synthetic")
    console.client_box.setCurrentText("demo")
    console.mode_box.setCurrentText(mode)
    console.rating_before.setValue(6)
    steps = {"phase": "connect"}

    def tick():
        phase = steps["phase"]
        if phase == "connect":
            console.connect_device()
            steps["phase"] = "wait-data"
        elif phase == "wait-data" and console.stream and console.stream.n_samples > 1500:
            console.check_signal()
            console.start_session()
            steps["phase"] = "wait-block"
        elif phase == "wait-block" and console.session is not None:
            snap = console.session.snapshot()
            if snap.step is not None and snap.step.name == "block" and snap.step_elapsed_s > 15:
                console.marker_note.setText("client reports calm")
                console.add_marker()
                QtCore.QTimer.singleShot(500, grab)
                steps["phase"] = "done"

    sizes = [(1366, 768), (1920, 1080)]

    def grab():
        # each screen size practitioners have: resized, laid out and redrawn, then grabbed
        width, height = sizes.pop(0)
        console.resize(width, height)
        QtCore.QTimer.singleShot(700, lambda: save(width, height))

    def save(width, height):
        name = "console.png" if (width, height) == (1920, 1080) else f"console-{width}.png"
        console.grab().save(str(out / name))
        if sizes:
            grab()
            return
        client.grab().save(str(out / f"client-{mode}.png"))
        console.shutdown()
        app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(tick)
    timer.start(100)
    QtCore.QTimer.singleShot(120_000, app.quit)  # never hang a CI or a terminal
    app.exec()


if __name__ == "__main__":
    main(
        Path(sys.argv[1] if len(sys.argv) > 1 else "docs"),
        sys.argv[2] if len(sys.argv) > 2 else "bar",
    )
