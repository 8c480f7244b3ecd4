"""``nfb run``: a headless session on a device, with one compact live line."""

from __future__ import annotations

import argparse
import math
import sys
import time

from ._common import add_device_args, add_protocol_args, add_sham_arg, load_device

#: Longest ``--duration`` (seconds): a day; a longer session is a mistyped number.
MAX_DURATION_S = 86_400
#: ``--connect-timeout``: default and range (s). A Bluetooth board may take 15 s to connect.
DEFAULT_CONNECT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_RANGE_S = (1.0, 600.0)
#: ``--reconnect-timeout``: default and range (s).
DEFAULT_RECONNECT_TIMEOUT_S = 120.0
RECONNECT_TIMEOUT_RANGE_S = (1.0, 86_400.0)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a session headless (live line; prints the session folder)",
        description="Run a neurofeedback session on a device without the GUI. "
        "Ctrl-C (SIGTERM, Ctrl-Break, closing the console) stops it cleanly; the last line is "
        "the session folder.",
    )
    add_device_args(p)
    add_protocol_args(p)
    add_sham_arg(p)
    p.add_argument(
        "--client",
        required=True,
        help="the client's name or id; sessions are filed under a pseudonymous id "
        "(the name stays in the store's clients.json)",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds of signal, whatever the script says",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help="give up when the board has not finished connecting after this long "
        f"(default {DEFAULT_CONNECT_TIMEOUT_S:g} s)",
    )
    p.add_argument(
        "--reconnect-timeout",
        type=float,
        default=DEFAULT_RECONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help="end the session (failed, the data kept) when a lost board has sent nothing "
        f"for this long (default {DEFAULT_RECONNECT_TIMEOUT_S:g} s)",
    )
    p.add_argument(
        "--sessions-dir",
        metavar="DIR",
        help="session store (default $NFB_SESSIONS_DIR, else the per-user data folder)",
    )
    p.add_argument(
        "--lsl",
        action="store_true",
        help="stream frames (nfb-frames) and events (nfb-markers) over Lab Streaming Layer "
        "on the local network; off by default",
    )
    p.add_argument(
        "--lsl-raw",
        action="store_true",
        help="also stream the raw EEG in µV (nfb-eeg); implies --lsl",
    )
    p.set_defaults(func=run)


class LiveLine:
    """The one line of terminal chrome: rewritten in place on a TTY, every 5 s otherwise."""

    def __init__(self, sfreq: float, stream=None) -> None:
        self.sfreq = sfreq
        # the current stderr, not the one of import time (an in-process run after a redirect)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._width = 0

    def show(self, snap, state: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and not force and now - self._last < 5.0:
            return
        self._last = now
        step = snap.step.label if snap.step else ("finished" if snap.finished else "starting")
        t = max(snap.sample_index, 0)
        rate = (
            f"{snap.block_reward_rate * 100:3.0f}%" if snap.block_reward_rate is not None else "  -"
        )
        flags = " PAUSED" if snap.paused else ""
        flags += " INHIBIT" if snap.inhibited else ""
        flags += f" [{state}]" if state not in ("streaming", "stopped") else ""
        text = (
            f"{self._clock(t)}  {step:<20} {snap.step_elapsed_s:5.0f}/"
            f"{snap.step_elapsed_s + snap.step_remaining_s:<4.0f}s  value {snap.value:8.3f}  "
            f"thr {snap.threshold:8.3f}  reward {rate}{flags}"
        )
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _clock(self, sample_index: int) -> str:
        secs = int(sample_index / self.sfreq)
        return f"{secs // 60:02d}:{secs % 60:02d}"

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, NfbError
    from ..protocol import load_protocol
    from ..session.clients import resolve_client
    from ..session.live import LiveSession, run_until_done
    from ..session.store import recover_store
    from ..stopping import CleanStop
    from ..stream import DeviceStream

    if args.duration is not None and not (
        math.isfinite(args.duration) and 1 <= args.duration <= MAX_DURATION_S
    ):
        raise _arg_error(
            f"--duration must be seconds from 1 to {MAX_DURATION_S} (a day), got {args.duration:g}"
        )
    for option, value, (lo, hi) in (
        ("--connect-timeout", args.connect_timeout, CONNECT_TIMEOUT_RANGE_S),
        ("--reconnect-timeout", args.reconnect_timeout, RECONNECT_TIMEOUT_RANGE_S),
    ):
        if not (math.isfinite(value) and lo <= value <= hi):
            raise _arg_error(f"{option} must be seconds from {lo:g} to {hi:g}, got {value:g}")
    profile = load_device(args)
    protocol = load_protocol(args.protocol, args.overrides)
    observers = []
    if args.lsl or args.lsl_raw:
        # imported only when asked: without --lsl nothing of LSL is loaded or listening
        from ..lsl import LslOutlet, check_available

        check_available()
        observers.append(LslOutlet(raw=args.lsl_raw))
    recover_store(args.sessions_dir)  # sessions a killed run left open: one warning line each
    # the name stays in the store's index; folders, files and streams carry the id only
    client = resolve_client(args.client, args.sessions_dir)
    stream = DeviceStream(profile, open_timeout=args.connect_timeout)
    session = LiveSession(
        stream,
        protocol,
        client,
        sessions_dir=args.sessions_dir,
        duration_s=args.duration,
        sham_source=args.sham_source,
        observers=observers,
    )
    line = LiveLine(session.layout.sfreq)
    reason = "user"
    # Ctrl-C, SIGTERM, Ctrl-Break and a closing console (Windows) all stop cleanly: the
    # board is released and the folder closed
    with CleanStop() as stop:
        try:
            # the board opens before the folder exists: a wrong port leaves no empty session
            stream.connect()
            session.start()
            run_until_done(
                session,
                lambda snap: line.show(snap, session.state),
                give_up_s=args.reconnect_timeout,
            )
            reason = "complete"
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            # a second Ctrl-C must not interrupt the clean-up that closes the folder and board
            with stop.shield():
                status = session.stop(reason)
                stream.disconnect()
                if session.path is not None:
                    line.show(session.snapshot(), session.state, force=True)
                line.close()
    kept = ""
    if session.path is not None:
        # the samples on disk (session.json's count), not those accepted: a full disk
        # drops what it could not write
        on_disk = session.recorder.meta.get("n_samples", session.recorder.n_samples)
        kept = f"; {on_disk} samples ({on_disk / session.layout.sfreq:.1f} s) kept"
        if session.error is None:
            print(f"session {status}: {on_disk} samples", file=sys.stderr)
        print(session.path)
    if session.error is not None:
        # one line: what went wrong, and what is on disk
        err = session.error
        cls = type(err) if isinstance(err, NfbError) else ConfigError
        raise cls(f"{err}{kept}")
    if reason == "interrupted":
        if session.path is None:
            print("nfb run: interrupted before the session started", file=sys.stderr)
        return 130
    return 0


def _arg_error(msg: str):
    from ..errors import ConfigError

    return ConfigError(msg)
