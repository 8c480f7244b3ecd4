"""An OpenBCI WiFi Shield on loopback, for BrainFlow's real WiFi Shield drivers.

It speaks the shield's protocol as BrainFlow's ``openbci_wifi_shield_board.cpp``,
``cyton_wifi.cpp`` and ``ganglion_wifi.cpp`` use it:

* an HTTP server on port 80 of a loopback address (the driver's URLs carry no port):
  ``GET /board`` (what is attached), ``POST /tcp`` (JSON ``ip``, ``port``, ``output``,
  ``delimiter``, ``latency``: the shield connects over TCP to that address, where the driver
  listens), ``POST /command`` (JSON ``command``: a board command such as ``~4`` or ``d``),
  ``GET /stream/start`` and ``GET /stream/stop``;
* on that TCP connection, once streaming: 33-byte packets (0xA0, sample number 0-255, 24-bit
  big-endian two's complement ADC counts, 8 for a Cyton, 4 then zeros for a Ganglion, 6 aux
  bytes, 0xC0), sent every ``latency`` µs as the shield buffers them. A Cyton + Daisy sends
  two packets per sample under the same sample number, the Cyton's 8 channels then the
  Daisy's 8 (``cyton_daisy_wifi.cpp`` joins a packet to the next one of its number); its
  sample number advances by one per sample.

Packets in ``skip`` are lost on the way (the sample numbers still advance), so losses across
the counter's 255 -> 0 wrap can be made on purpose.

Run it by hand (as root: port 80) to try nfb without a board::

    python tests/wifi_shield_emulator.py            # a Cyton at 127.0.0.1; Ctrl-C to quit
    nfb run --device cyton-wifi --ip-address 127.0.0.1 --ip-port 6677 --protocol alpha-up ...
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

#: Per board: EEG channels in a packet, sampling rate (BrainFlow sets ``~4``), µV per count.
BOARDS = {
    "cyton": (8, 1000, 4.5 / 24 / (2**23 - 1) * 1e6),
    "ganglion": (4, 1600, 1.2e6 / (8388607.0 * 1.5 * 51.0)),
    "daisy": (16, 1000, 4.5 / 24 / (2**23 - 1) * 1e6),
}
#: EEG channels per packet: a Cyton + Daisy's 16 go out as two packets of 8.
PER_PACKET = 8
PACKET_SIZE = 33


def ramp_counts(k: np.ndarray, n_channels: int) -> np.ndarray:
    """Default signal: distinct known counts per channel and sample, both signs, full 24 bits.

    Channel ``c`` of sample ``k`` is ``(k · 7919 + c · 1_000_003) mod 2**24 − 2**23``.
    """
    k = np.asarray(k, dtype=np.int64)
    c = np.arange(n_channels, dtype=np.int64)[:, None]
    return (k[None, :] * 7919 + c * 1_000_003) % (1 << 24) - (1 << 23)


def packet(sample: int, counts: np.ndarray) -> bytes:
    """One 33-byte packet: sample number ``sample mod 256`` and up to 8 channels of counts."""
    out = bytearray(PACKET_SIZE)
    out[0] = 0xA0
    out[1] = sample % 256
    for i, value in enumerate(counts):
        out[2 + 3 * i : 5 + 3 * i] = (int(value) & 0xFFFFFF).to_bytes(3, "big")
    out[32] = 0xC0  # standard end byte: accelerometer in the aux bytes (zeros here)
    return bytes(out)


class WifiShieldEmulator:
    """A WiFi Shield with a Cyton, a Cyton + Daisy or a Ganglion attached, on ``host:80``.

    Parameters
    ----------
    board : ``"cyton"`` | ``"daisy"`` | ``"ganglion"``
    host : str
        Loopback address of the HTTP server (the driver's ``--ip-address``).
    counts : callable
        ``counts(k, n_channels)`` maps sample numbers (int array, from 0 at stream start) to
        an ``(n_channels, n)`` array of ADC counts.
    skip : set of int
        Sample numbers never sent.
    skip_daisy : set of int
        Sample numbers whose Daisy packet (channels 9-16) is lost, the Cyton's sent.
    n_samples : int | None
        Stop streaming after this many sample numbers (``None``: forever).
    speed : float
        Send samples this many times faster than the board's rate (the driver cannot tell).
    http_port : int
        80, where BrainFlow looks.

    Raises
    ------
    OSError
        If ``host:http_port`` cannot be bound (in use, or port 80 needs privileges here).
    """

    def __init__(
        self,
        board: str = "cyton",
        *,
        host: str = "127.0.0.1",
        counts: Callable[[np.ndarray, int], np.ndarray] = ramp_counts,
        skip: set[int] | frozenset[int] = frozenset(),
        skip_daisy: set[int] | frozenset[int] = frozenset(),
        n_samples: int | None = None,
        speed: float = 1.0,
        http_port: int = 80,
    ) -> None:
        if board not in BOARDS:
            raise ValueError(f"board must be one of {', '.join(BOARDS)}, got {board!r}")
        self.board = board
        self.n_channels, self.sfreq, self.uv_per_count = BOARDS[board]
        self.host = host
        self.counts = counts
        self.skip = set(skip)
        self.skip_daisy = set(skip_daisy)
        self.n_samples = n_samples
        self.speed = float(speed)
        self.commands: list[str] = []  # every /command the driver posted, in order
        self.requests: list[str] = []  # "GET /board", "POST /tcp", ... in order
        self.tcp_config: dict | None = None  # what the driver posted to /tcp
        self.sent = 0  # sample numbers streamed so far (skipped ones included)
        self._sock: socket.socket | None = None
        self._streaming = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, http_port), self._handler())
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="shield-http", daemon=True),
            threading.Thread(target=self._stream, name="shield-tcp", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ HTTP side
    def _handler(self):
        shield = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the test output is the log
                pass

            def _reply(self, body: dict | str, status: int = 200) -> None:
                data = (json.dumps(body) if isinstance(body, dict) else body).encode()
                ctype = "application/json" if isinstance(body, dict) else "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def _json(self) -> dict:
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    return json.loads(self.rfile.read(n) or b"{}")
                except ValueError:
                    return {}

            def do_GET(self) -> None:
                shield.requests.append(f"GET {self.path}")
                if self.path == "/board":
                    self._reply(
                        {
                            "board_connected": True,
                            "board_type": shield.board,
                            "gains": [24] * shield.n_channels,
                            "num_channels": shield.n_channels,
                        }
                    )
                elif self.path == "/stream/start":
                    shield._streaming.set()
                    self._reply("Stream started")
                elif self.path == "/stream/stop":
                    shield._streaming.clear()
                    self._reply("Stream stopped")
                else:
                    self._reply("Route not found", 404)

            def do_POST(self) -> None:
                shield.requests.append(f"POST {self.path}")
                body = self._json()
                if self.path == "/tcp":
                    shield._connect(body)
                    self._reply({"connected": shield._sock is not None, **body})
                elif self.path == "/command":
                    shield.commands.append(str(body.get("command", "")))
                    self._reply("Success: command sent")
                else:
                    self._reply("Route not found", 404)

        return Handler

    def _connect(self, config: dict) -> None:
        self.tcp_config = config
        sock = socket.create_connection((str(config["ip"]), int(config["port"])), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            old, self._sock = self._sock, sock
        if old is not None:
            old.close()

    # ------------------------------------------------------------------ TCP side
    def _stream(self) -> None:
        t0 = None
        while not self._closed.is_set():
            if not self._streaming.wait(0.05):
                t0 = None
                continue
            latency = (self.tcp_config or {}).get("latency", 10000) / 1e6
            now = time.monotonic()
            if t0 is None:
                t0, first = now, self.sent
            due = first + int((now - t0) * self.sfreq * self.speed)
            if self.n_samples is not None:
                due = min(due, self.n_samples)
            if due > self.sent:
                k = np.arange(self.sent, due)
                counts = self.counts(k, self.n_channels)
                data = b"".join(
                    packet(int(s), counts[c0 : c0 + PER_PACKET, i])
                    for i, s in enumerate(k)
                    if int(s) not in self.skip
                    for c0 in range(0, self.n_channels, PER_PACKET)
                    if not (c0 and int(s) in self.skip_daisy)
                )
                with self._lock:
                    sock = self._sock
                try:
                    if sock is not None and data:
                        sock.sendall(data)
                except OSError:  # the driver went away: wait for the next /tcp
                    with self._lock:
                        self._sock = None
                self.sent = due
            time.sleep(min(latency, 0.01))

    def expected_uv(self, k: np.ndarray) -> np.ndarray:
        """The µV BrainFlow should give for sample numbers ``k``: ``(n_channels, n)``."""
        return self.counts(np.asarray(k), self.n_channels) * self.uv_per_count

    def close(self) -> None:
        """Stop the servers and drop the TCP connection; idempotent."""
        self._closed.set()
        self._streaming.clear()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> WifiShieldEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":  # pragma: no cover - a manual tool
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", choices=sorted(BOARDS), default="cyton")
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    with WifiShieldEmulator(args.board, host=args.host) as shield:
        print(f"WiFi Shield ({args.board}) at http://{args.host}/; Ctrl-C to quit", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
