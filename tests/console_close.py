"""``nfb ...`` with a stand-in for Windows' console API, for tests on other systems.

``python tests/console_close.py RESULT nfb-args...`` runs the nfb command line with
:func:`nfb.stopping.default_console_api` returning a fake ``SetConsoleCtrlHandler`` (a real
:mod:`ctypes` callback type). A line on stdin "closes the console": a thread calls the
registered handler with ``CTRL_CLOSE_EVENT`` as Windows does, and the moment it returns,
writes to RESULT what it returned and the ``status`` of every ``session.json`` in the store
(``$NFB_SESSIONS_DIR``), then ends the process at once with exit code 58, as Windows ends a
process whose console closed once the handler has returned.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
from pathlib import Path

import nfb.stopping as stopping
from nfb.cli import main

handlers: list = []
closing = threading.Event()


def set_handler(handler, add: int) -> int:
    if add:
        handlers.append(handler)
    elif handler in handlers:
        handlers.remove(handler)
    return 1


stopping.default_console_api = lambda: (set_handler, ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_ulong))


def close_console(result: Path) -> None:
    sys.stdin.readline()
    closing.set()
    (handler,) = handlers
    started = time.monotonic()
    returned = handler(stopping.CTRL_CLOSE_EVENT)
    took = time.monotonic() - started
    store = Path(os.environ["NFB_SESSIONS_DIR"])
    statuses = [json.loads(p.read_text())["status"] for p in store.glob("*/*/session.json")]
    result.write_text(json.dumps({"returned": returned, "took_s": took, "statuses": statuses}))
    os._exit(58)


if __name__ == "__main__":
    closer = threading.Thread(target=close_console, args=(Path(sys.argv[1]),), daemon=True)
    closer.start()
    code = main(sys.argv[2:])
    if closing.is_set():  # Windows ends the process once the handler returns: not main
        closer.join(30)
    sys.exit(code)
