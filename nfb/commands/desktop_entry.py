"""``nfb desktop-entry``: a launcher for the desktop app where the platform has a standard.

Linux: a ``.desktop`` file in ``$XDG_DATA_HOME/applications`` (default
``~/.local/share/applications``), which desktop menus pick up. Windows and macOS: the steps
that make the equivalent (a Start-menu or Dock shortcut to ``nfb-gui``) are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from .. import fs
from .._logging import logger
from ..errors import ConfigError

FILE_NAME = "nfb.desktop"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "desktop-entry",
        help="install a launcher for the desktop app (Linux), or print how (Windows, macOS)",
        description="Linux: write nfb.desktop into $XDG_DATA_HOME/applications so the desktop "
        "menu lists the app. Windows and macOS: print the steps for a shortcut to nfb-gui.",
    )
    p.add_argument(
        "--print",
        dest="dry_run",
        action="store_true",
        help="print the file and where it would go; write nothing",
    )
    p.set_defaults(func=run)


def launcher() -> str:
    """The absolute path of the ``nfb-gui`` launcher of this installation."""
    scripts = Path(sys.executable).parent
    for name in ("nfb-gui", "nfb-gui.exe"):
        if (scripts / name).is_file():
            return str(scripts / name)
    found = shutil.which("nfb-gui")
    if found:
        return str(Path(found).resolve())
    raise ConfigError(
        "cannot find the nfb-gui launcher beside this Python; reinstall nfb (pipx install nfb)"
    )


def applications_dir() -> Path:
    """``$XDG_DATA_HOME/applications`` (default ``~/.local/share/applications``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "applications"


def desktop_file(exec_path: str) -> str:
    """The text of the ``.desktop`` file (freedesktop.org Desktop Entry 1.4).

    1.4, not 1.5: the file uses nothing newer, and ``desktop-file-validate`` before 0.27
    (Debian 12, Ubuntu 22.04) rejects 1.5 as unknown. One main category (Science), so that
    menus list nfb once.
    """
    # quoted as the spec asks: inside quotes, \ " ` $ are escaped with a backslash
    inner = "".join("\\" + c if c in '\\"`$' else c for c in exec_path)
    quoted = '"' + inner.replace("\\", "\\\\") + '"'  # and a string value escapes \ again
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",
            "Name=nfb",
            "GenericName=Neurofeedback workstation",
            "Comment=Supervised neurofeedback sessions (not a medical device)",
            f"Exec={quoted}",
            "Icon=applications-science",
            "Terminal=false",
            "Categories=Science;MedicalSoftware;",
            "StartupNotify=true",
            "",
        ]
    )


def other_platform_steps(exec_path: str) -> str:
    """What to do on Windows or macOS, where nfb writes no launcher itself."""
    if sys.platform == "win32":
        return "\n".join(
            [
                "Windows: make a Start-menu shortcut to the desktop app:",
                f"  1. Right-click {exec_path} in Explorer, Show more options > Create shortcut.",
                "  2. Move the shortcut to %APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs",
                "     (or pin it: right-click > Pin to Start).",
                "nfb-gui opens no console window; errors go to the log (nfb's log folder).",
            ]
        )
    return "\n".join(
        [
            "macOS: start the desktop app from the Dock:",
            f"  1. In Script Editor, write: do shell script quoted form of \"{exec_path}\"",
            "  2. File > Export, File Format: Application, save as nfb.app in Applications.",
            "  3. Open it once, then drag it to the Dock. Allow Bluetooth when macOS asks.",
            f"Or from a terminal: {exec_path}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Install (or print) the launcher; 0 on success."""
    exec_path = launcher()
    if not sys.platform.startswith("linux"):
        print(other_platform_steps(exec_path))
        return 0
    target = applications_dir() / FILE_NAME
    text = desktop_file(exec_path)
    if args.dry_run:
        print(f"# would write {target}")
        print(text, end="")
        return 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.write_atomic(target, text.encode("utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot write {target}: {err.strerror or err}") from None
    logger.info("wrote %s", target)
    print(f"installed {target}: the desktop menu lists nfb (it runs {exec_path})")
    return 0
