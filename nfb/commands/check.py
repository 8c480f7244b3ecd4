"""``nfb check``: acquire a few seconds from a device and report the signal quality."""

from __future__ import annotations

import argparse
import json
import math
import time

from ..acquisition import Acquisition
from ..devices import DeviceProfile, open_source
from ..errors import ConfigError, DeviceError
from ..ports import connection_warnings
from ..quality import SignalCheck, check_signal
from ._common import add_device_args, load_device

#: Give up when no new sample arrived for this long (s).
NO_DATA_TIMEOUT = 10.0
#: Longest check (s).
MAX_SECONDS = 600.0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Create the ``check`` subparser."""
    p = subparsers.add_parser(
        "check",
        help="check the signal quality of a device",
        description=(
            "Acquire a few seconds from a device and print, per channel, the 1-40 Hz RMS, the "
            "mains noise, flat and railed channels and a verdict (good / check / bad). The "
            "exit code is 0 whatever the verdict; non-zero only on errors."
        ),
    )
    add_device_args(p)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of EEG to check (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--impedance",
        action="store_true",
        help="Cyton and Ganglion boards: measure each electrode's impedance (kΩ) instead of "
        "the signal check (Cyton: the lead-off drive, one electrode at a time, about 2.5 s "
        "each; Ganglion: its impedance mode, channels 1-4 and the reference)",
    )
    p.set_defaults(func=run)
    return p


def measure(
    profile: DeviceProfile, seconds: float, *, no_data_timeout: float = NO_DATA_TIMEOUT
) -> tuple[SignalCheck, dict]:
    """Acquire ``seconds`` of samples from a profile's device and check them.

    Seconds are counted by samples received, not by wall time.

    Returns
    -------
    check : SignalCheck
    stats : dict
        ``samples`` received, ``dropped`` samples, ``device`` name.

    Raises
    ------
    DeviceError
        If the device cannot be opened, fails, or sends no data for ``no_data_timeout`` s.
    """
    source = open_source(profile)
    layout = source.layout
    need = math.ceil(seconds * layout.sfreq)
    acq = Acquisition(
        source,
        buffer_seconds=seconds + 5.0,
        reconnect=False,
        stall_timeout=min(5.0, no_data_timeout),
    )
    with acq:
        last_n, last_t = -1, time.monotonic()
        while not acq.wait_samples(need, timeout=0.25):
            if acq.state in ("failed", "stopped"):
                break
            if acq.n_samples != last_n:
                last_n, last_t = acq.n_samples, time.monotonic()
            elif time.monotonic() - last_t > no_data_timeout:
                break
    if acq.state == "failed" or acq.n_samples < layout.sfreq:
        why = f": {acq.error}" if acq.error is not None else ""
        got = acq.n_samples / layout.sfreq
        raise DeviceError(
            f"{profile.name}: no data; got {acq.n_samples} of {need} samples "
            f"({got:.1f} of {seconds:g} s){why}"
        )
    data, _ = acq.ring.latest(min(need, acq.n_samples))
    eeg = data[list(layout.eeg_rows)]
    result = check_signal(
        eeg, layout.sfreq, layout.ch_names, mains_hz=profile.mains_hz, rail_uv=layout.rail_uv
    )
    stats = {"device": profile.name, "samples": acq.n_samples, "dropped": acq.n_dropped}
    return result, stats


def run(args: argparse.Namespace) -> int:
    """Run the check and print the table; 0 whatever the verdict."""
    seconds = args.seconds
    if not (math.isfinite(seconds) and 1.0 <= seconds <= MAX_SECONDS):
        raise ConfigError(f"--seconds: must be between 1 and {MAX_SECONDS:g}, got {seconds:g}")
    profile = load_device(args)
    if args.impedance:
        return _impedance(profile, args.json)
    warnings = connection_warnings(profile.connection)  # the FTDI latency timer
    result, stats = measure(profile, seconds)
    if args.json:
        out = {**stats, "profile": profile.to_dict(), **result.to_dict(), "warnings": warnings}
        print(json.dumps(out, indent=2))
    else:
        print(f"Device: {profile.name} ({profile.board}), mains {profile.mains_hz:g} Hz")
        for warning in warnings:
            print(f"Warning: {warning}")
        print(result.format_table())
        if result.seconds < seconds - 1 / result.sfreq:
            print(
                f"Note: only {result.seconds:.1f} of {seconds:g} s were checked: the source ended."
            )
        if stats["dropped"]:
            print(f"Dropped: {stats['dropped']} samples lost on the link during the check.")
    return 0


def _impedance(profile: DeviceProfile, as_json: bool) -> int:
    from .. import impedance
    from ..stream import DeviceStream

    if profile.board not in impedance.IMPEDANCE_BOARDS:  # before the board is opened
        raise DeviceError(
            f"--impedance: the impedance check is for the Cyton and Ganglion boards; "
            f"{profile.name} is "
            f"{profile.board}"
        )
    with DeviceStream(profile) as stream:
        result = impedance.measure(stream)
    if as_json:
        print(
            json.dumps({"profile": profile.to_dict(), "impedance": [r.to_dict() for r in result]})
        )
    else:
        print(f"Device: {profile.name} ({profile.board}), electrode impedance")
        print(impedance.format_table(result))
    return 0
