"""``nfb gui``: the desktop app for supervised sessions."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "gui",
        help="open the practitioner console and the client's feedback window",
        description="Open the desktop app: connect a device, check the signal, run sessions "
        "with visual and auditory feedback on a second screen.",
    )
    p.add_argument("--device", "-d", metavar="NAME", help="preselect a device profile")
    p.add_argument("--protocol", metavar="NAME", help="preselect a protocol")
    p.add_argument("--client", metavar="ID", help="preselect a client")
    p.add_argument(
        "--mains-hz",
        type=int,
        choices=(50, 60),
        help="the mains frequency for this run (else the console's remembered choice)",
    )
    p.add_argument("--connect", action="store_true", help="connect the device at start")
    p.add_argument("--no-sound", action="store_true", help="do not open an audio output")
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR, else the per-user data folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ..errors import DeviceError

    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        # Qt would abort with a page of plugin advice; a practitioner on SSH needs one line
        raise DeviceError(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): the desktop app needs "
            "a desktop session or `ssh -X`; `nfb run` runs a session without one"
        )
    try:
        from ..gui.app import main
    except ImportError as err:  # a broken Qt install: one line, not a traceback
        raise DeviceError(f"the desktop app cannot start: {err}") from None
    return main(
        sessions_dir=args.sessions_dir,
        device=args.device,
        protocol=args.protocol,
        client=args.client,
        connect=args.connect,
        mains_hz=args.mains_hz,
        sound=not args.no_sound,
    )
