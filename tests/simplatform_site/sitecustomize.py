"""Put on ``PYTHONPATH`` (with ``tests``) so that every Python process of a simulated-platform
run, nfb subprocesses included, starts as on that platform (see ``tests/simplatform.py``)."""

import os

if os.environ.get("NFB_SIMULATE_PLATFORM"):
    import simplatform  # noqa: F401  (installs itself on import)
