"""Device profiles: one TOML file per board, validated on load.

The built-in profiles are the repository's ``devices/``, shipped as package data; the user's
own are ``devices/*.toml`` in the per-user config folder and add to or replace them (see
:mod:`nfb.paths`).

A profile names a BrainFlow board (or ``"file"``: an EEG file played as a live device), the
labels of its EEG rows, the mains frequency and how to connect::

    description = "OpenBCI Cyton, 8 channels at 250 Hz, USB dongle."
    board = "CYTON_BOARD"            # a BrainFlow BoardIds name (or board_id = 0)
    channels = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
    sampling_rate = 250              # optional; checked against BrainFlow
    mains_hz = 50                    # 50 or 60
    [connection]
    serial_port = "/dev/ttyUSB0"     # overridden per run with --serial-port

A row is EEG with a 10-20 label, or, as an inline table, another type with any label: an
electrode above the eye as EOG, an arm electrode as EMG (types: :data:`CHANNEL_TYPES`)::

    channels = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", { label = "VEOG", type = "eog" }]

A board's other BrainFlow presets are recorded as streams of their own, each at its own rate,
when the profile lists them (names: :data:`~nfb.session.format.STREAM_PRESETS`; only those
``BoardShim.get_board_presets`` gives for the board)::

    streams = ["auxiliary", "ancillary"]   # Muse 2: accelerometer/gyro 52 Hz, PPG 64 Hz

Every mistake is a :class:`~nfb.errors.ConfigError` of one line naming the file, the field and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import math
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import fs, paths, ports
from .errors import ConfigError
from .session.format import CHANNEL_TYPES, STREAM_PRESETS
from .sources import (
    CONNECTION_PARAMS,
    BrainFlowSource,
    FileSource,
    Source,
    board_streams,
    canonical_label,
)

#: Top-level fields of a profile.
FIELDS = (
    "description",
    "board",
    "board_id",
    "channels",
    "sampling_rate",
    "mains_hz",
    "connection",
    "config",
    "streams",
)
#: Limits of a profile's ``[config] commands`` (BrainFlow ``config_board`` strings).
MAX_CONFIG_COMMANDS, MAX_CONFIG_COMMAND_CHARS = 64, 64
#: ``board`` value of the MNE file source.
FILE_BOARD = "file"
#: ``[connection]`` keys of the MNE file source.
FILE_CONNECTION = ("file", "speed", "loop")
#: ``board`` value of an LSL stream as a device (:mod:`nfb.lsl_source`).
LSL_BOARD = "lsl"
#: ``[connection]`` keys of an LSL stream: which stream, and how long to look for it (s).
LSL_CONNECTION = ("stream_name", "stream_type", "source_id", "hostname", "markers_name", "timeout")
#: Keys of ``--stream key=value,...`` and the connection fields they set.
LSL_SPEC_KEYS = {
    "name": "stream_name",
    "type": "stream_type",
    "source_id": "source_id",
    "hostname": "hostname",
}
#: Connection keys that must hold a value when the device is opened (else: optional).
REQUIRED_WHEN_LISTED = ("serial_port", "file")

_STR_KEYS = (
    "serial_port",
    "mac_address",
    "serial_number",
    "ip_address",
    "file",
    "file_aux",
    "file_anc",
    "other_info",
    "stream_name",
    "stream_type",
    "source_id",
    "hostname",
    "markers_name",
)
_INT_KEYS = ("ip_port", "ip_protocol", "timeout")
#: BrainFlow's IpProtocolTypes: none, UDP, TCP.
_IP_PROTOCOLS = (0, 1, 2)
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9A-Fa-f:]{2,39}$")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")  # macOS BLE ids


@dataclass(frozen=True)
class DeviceProfile:
    """A validated device profile.

    Attributes
    ----------
    name : str
        The file stem (``"cyton"``).
    description : str
    board_id : int | None
        BrainFlow ``BoardIds`` value; None for the MNE file source and LSL streams.
    channels : tuple of str
        Labels in EEG-row order (empty for ``"file"``: taken from the file): 10-20 for EEG
        rows, any for the others.
    sampling_rate : float | None
        Hz; None for ``"file"`` (taken from the file).
    mains_hz : float
        50 or 60.
    connection : dict
        ``serial_port``, ``mac_address``, ``serial_number``, ``timeout``, ``file``,
        ``master_board``, ... as the board needs; ``""`` means not set.
    path : Path | None
        The TOML file.
    origin : str
        ``"built-in"`` (shipped with nfb), ``"user"`` (the user's config folder; ``"user
        (replaces built-in)"`` for one that has a built-in's name) or ``"file"`` (a path).
    channel_types : tuple of str
        Type of each of ``channels`` (``"eeg"``, ``"eog"``, ``"emg"``, ``"ecg"``, ``"misc"``).
    streams : tuple of str
        The board's extra BrainFlow presets recorded beside the EEG (``"auxiliary"``,
        ``"ancillary"``).
    """

    name: str
    description: str
    board_id: int | None
    channels: tuple[str, ...]
    sampling_rate: float | None
    mains_hz: float
    connection: dict = field(default_factory=dict)
    path: Path | None = None
    kind: str = "brainflow"
    config: tuple[str, ...] = ()
    origin: str = "file"
    channel_types: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()

    @property
    def board(self) -> str:
        """BrainFlow board name (``"CYTON_BOARD"``), or ``"file"``, or ``"lsl"``."""
        if self.board_id is None:
            return self.kind
        from .sources import board_name

        return board_name(self.board_id)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        return {
            "name": self.name,
            "description": self.description,
            "board": self.board,
            "board_id": self.board_id,
            "channels": list(self.channels),
            "channel_types": list(self.channel_types),
            "sampling_rate": self.sampling_rate,
            "mains_hz": self.mains_hz,
            "connection": dict(self.connection),
            "config": list(self.config),
            "streams": list(self.streams),
            "path": str(self.path) if self.path is not None else None,
            "origin": self.origin,
        }


# ---------------------------------------------------------------------------------------------
# Finding profiles


def devices_dir() -> Path:
    """The folder of the built-in profiles (package data; ``$NFB_DEVICES_DIR`` replaces it)."""
    return paths.builtin_dir("devices")


def user_devices_dir() -> Path:
    """The folder of the user's own profiles (``devices`` in the per-user config folder)."""
    return paths.user_dir("devices")


def _available() -> list[str]:
    return list(paths.presets("devices"))


def list_profiles() -> list[DeviceProfile]:
    """Load every profile, built-in and the user's (which replace built-in ones), by name."""
    return [load_profile(str(p.path)) for p in paths.presets("devices").values()]


def _where_profiles() -> str:
    return f"{devices_dir()} or {user_devices_dir()}"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _resolve(name_or_path: str) -> Path:
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ConfigError(f"device must be a profile name or a .toml path, got {name_or_path!r}")
    s = str(name_or_path)
    if s.endswith(".toml") or os.sep in s or "/" in s:
        path = Path(s).expanduser()
        if not path.exists():
            raise ConfigError(f"device file {s!r} does not exist")
        return path  # a folder, FIFO or device is refused by the read, saying which
    found = paths.presets("devices").get(s)
    if found is None:
        avail = _available()
        close = difflib.get_close_matches(s, avail, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(avail) or f"none in {_where_profiles()}"
        raise ConfigError(f"unknown device {s!r}{hint}; available: {listing}")
    return found.path


# ---------------------------------------------------------------------------------------------
# Validation


def _board_names() -> list[str]:
    from brainflow.board_shim import BoardIds

    return [b.name for b in BoardIds]


def _board_from_field(where: str, key: str, value) -> int | None:
    from brainflow.board_shim import BoardIds

    if key == "board_id":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: field 'board_id' must be an integer, got {value!r}")
        try:
            return int(BoardIds(value))
        except ValueError:
            raise ConfigError(
                f"{where}: field 'board_id' {value} is not a BrainFlow board id"
            ) from None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: field 'board' must be a string, got {value!r}")
    if value in (FILE_BOARD, LSL_BOARD):
        return None
    if value in BoardIds.__members__:
        return int(BoardIds[value])
    close = difflib.get_close_matches(value.upper(), _board_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"{where}: field 'board' must be a BrainFlow BoardIds name such as CYTON_BOARD, "
        f"GANGLION_BOARD, MUSE_2_BOARD, SYNTHETIC_BOARD, or 'file' or 'lsl'; got {value!r}{hint}"
    )


def _descr(board_id: int) -> dict:
    from brainflow.board_shim import BoardShim

    return BoardShim.get_board_descr(board_id)


def _check_connection(where: str, conn, board_id: int | None, kind: str = "brainflow") -> dict:
    from brainflow.board_shim import BoardIds

    if not isinstance(conn, Mapping):
        raise ConfigError(f"{where}: field 'connection' must be a table ([connection])")
    allowed = {"file": FILE_CONNECTION, "lsl": LSL_CONNECTION}.get(kind, tuple(CONNECTION_PARAMS))
    out: dict = {}
    for key, value in conn.items():
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown field 'connection.{key}'; allowed: {', '.join(allowed)}"
            )
        f = f"{where}: field 'connection.{key}'"
        if key in _STR_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"{f} must be a string, got {value!r}")
            if kind == LSL_BOARD and ("'" in value or any(ord(c) < 32 for c in value)):
                raise ConfigError(f"{f} must be text without quotes, got {value!r}")
        elif key in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{f} must be an integer >= 0, got {value!r}")
            if kind == LSL_BOARD and not 1 <= value <= 60:
                raise ConfigError(f"{f} must be 1 to 60 seconds, got {value!r}")
            if key == "ip_port" and value > 65535:
                raise ConfigError(f"{f} must be a port number 0 to 65535, got {value!r}")
            if key == "ip_protocol" and value not in _IP_PROTOCOLS:
                raise ConfigError(f"{f} must be 0 (none), 1 (UDP) or 2 (TCP), got {value!r}")
        elif key == "master_board":
            mb = _board_from_field(where, "board_id" if isinstance(value, int) else "board", value)
            if mb is None or mb in (BoardIds.PLAYBACK_FILE_BOARD, BoardIds.STREAMING_BOARD):
                raise ConfigError(f"{f} must name the board that recorded the file, got {value!r}")
            value = BoardIds(mb).name
        elif key == "speed":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value > 0)
            ):
                raise ConfigError(f"{f} must be a number > 0, got {value!r}")
            value = float(value)
        elif key == "loop" and not isinstance(value, bool):
            raise ConfigError(f"{f} must be true or false, got {value!r}")
        out[key] = value
    if out.get("mac_address"):
        _check_mac(f"{where}: field 'connection.mac_address'", out["mac_address"])
    return out


def _check_config(where: str, config) -> tuple[str, ...]:
    """``[config] commands = [...]``: BrainFlow ``config_board`` strings sent at connect."""
    if not isinstance(config, Mapping) or set(config) - {"commands"}:
        raise ConfigError(
            f"{where}: field 'config' must be a table with one key, commands "
            f'(e.g. [config] commands = ["x1060110X"])'
        )
    commands = config.get("commands", [])
    f = f"{where}: field 'config.commands'"
    if not isinstance(commands, list) or len(commands) > MAX_CONFIG_COMMANDS:
        raise ConfigError(f"{f} must be a list of at most {MAX_CONFIG_COMMANDS} commands")
    for cmd in commands:
        if (
            not isinstance(cmd, str)
            or not cmd
            or len(cmd) > MAX_CONFIG_COMMAND_CHARS
            or not all(32 < ord(c) < 127 for c in cmd)
        ):
            raise ConfigError(
                f"{f} has {cmd!r:.40}; a command is 1 to {MAX_CONFIG_COMMAND_CHARS} printable "
                f"ASCII characters without spaces, as the board's documentation gives it"
            )
    return tuple(commands)


def _check_streams(where: str, streams, board_id: int) -> tuple[str, ...]:
    """``streams = ["auxiliary", "ancillary"]``: presets the board really has, once each."""
    from .sources import board_name

    offered = board_streams(board_id)
    f = f"{where}: field 'streams'"
    allowed = ", ".join(f'"{n}"' for n in offered) or "none"
    if not isinstance(streams, list) or not all(isinstance(n, str) for n in streams):
        raise ConfigError(
            f"{f} must be a list of preset names; {board_name(board_id)} has {allowed}"
        )
    for name in streams:
        if name not in STREAM_PRESETS:
            raise ConfigError(
                f"{f} has {name!r:.40}, not a BrainFlow preset (allowed: "
                f"{', '.join(STREAM_PRESETS)}; {board_name(board_id)} has {allowed})"
            )
        if name not in offered:
            raise ConfigError(f"{f} has {name!r}, but {board_name(board_id)} has {allowed}")
    if len(set(streams)) != len(streams):
        raise ConfigError(f"{f} lists a preset twice")
    return tuple(streams)


def _check_mac(what: str, mac: str) -> None:
    if not (_MAC_RE.match(mac) or _UUID_RE.match(mac)):
        raise ConfigError(
            f"{what} must look like 00:55:DA:B0:12:34 (or a macOS BLE UUID), got {mac!r}"
        )


def _check_channels(where: str, channels) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The labels and types of ``channels``: 10-20 strings, or ``{label, type}`` tables."""
    if not isinstance(channels, list):
        raise ConfigError(
            f"{where}: field 'channels' must be a list of 10-20 labels such as "
            f'["Fp1", "Fp2", "C3"], got {channels!r}'
        )
    labels: list[str] = []
    types: list[str] = []
    for i, entry in enumerate(channels):
        f = f"{where}: field 'channels[{i}]'"
        if isinstance(entry, Mapping):
            label, kind = entry.get("label"), entry.get("type", "eeg")
            if set(entry) - {"label", "type"} or not isinstance(label, str):
                raise ConfigError(
                    f'{f} must be a 10-20 label or a table {{ label = "VEOG", type = '
                    f'"eog" }} with keys label and type, got {dict(entry)!r}'
                )
            if kind not in CHANNEL_TYPES:
                raise ConfigError(
                    f"{f}: type must be one of {', '.join(CHANNEL_TYPES)}, got {kind!r}"
                )
        elif isinstance(entry, str):
            label, kind = entry, "eeg"
        else:
            raise ConfigError(f"{f} must be a 10-20 label or a {{ label, type }} table")
        if kind == "eeg":
            canon = canonical_label(label)
            if canon is None:
                raise ConfigError(
                    f"{where}: field 'channels' has {label!r}, which is not a 10-20 label "
                    f"(allowed: 10-20/10-10 names such as Fp1, Fz, C3, Cz, P4, O2, TP9, AF7; "
                    f'a row of another type: {{ label = "{label}", type = "eog" }}, types '
                    f"{', '.join(CHANNEL_TYPES[1:])})"
                )
        else:
            canon = label.strip()
            if not (0 < len(canon) <= 32 and canon.isprintable() and "," not in canon):
                raise ConfigError(
                    f"{f}: label must be 1 to 32 printable characters without commas, got {label!r}"
                )
        if canon.lower() in (c.lower() for c in labels):
            raise ConfigError(f"{where}: field 'channels' lists {canon!r} twice")
        labels.append(canon)
        types.append(kind)
    return tuple(labels), tuple(types)


def parse_profile(data: Mapping, *, name: str, path: Path | None = None) -> DeviceProfile:
    """Validate the content of a profile TOML file and build the :class:`DeviceProfile`.

    Parameters
    ----------
    data : mapping
        The parsed TOML.
    name : str
        Profile name (the file stem).
    path : Path | None
        The file, named in error messages.
    """
    where = _display(path) if path is not None else f"device {name!r}"
    for key in data:
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown field {key!r}{hint}; allowed: {', '.join(FIELDS)}")
    # description
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: field 'description' must be a string, got {description!r}")
    # board
    if ("board" in data) == ("board_id" in data):
        raise ConfigError(
            f"{where}: give exactly one of 'board' (a BrainFlow BoardIds name such as "
            f"CYTON_BOARD, or 'file') and 'board_id' (an integer)"
        )
    key = "board" if "board" in data else "board_id"
    board_id = _board_from_field(where, key, data[key])
    kind = data[key] if board_id is None else "brainflow"
    # mains
    mains = data.get("mains_hz", 50)
    if isinstance(mains, bool) or mains not in (50, 60):
        raise ConfigError(f"{where}: field 'mains_hz' must be 50 or 60, got {mains!r}")
    # connection
    connection = _check_connection(where, data.get("connection", {}), board_id, kind)
    # channels and rate, against BrainFlow's description of the board
    rate = data.get("sampling_rate")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0
    ):
        raise ConfigError(f"{where}: field 'sampling_rate' must be a number > 0, got {rate!r}")
    config = _check_config(where, data["config"]) if "config" in data else ()
    if board_id is None:
        if config:
            raise ConfigError(f"{where}: field 'config' is only for BrainFlow boards")
        if "streams" in data:
            raise ConfigError(f"{where}: field 'streams' is only for BrainFlow boards")
        origin = "the file" if kind == FILE_BOARD else "the stream"
        if "channels" in data:
            raise ConfigError(
                f"{where}: field 'channels' is not allowed for board {kind!r} (labels come "
                f"from {origin})"
            )
        if rate is not None:
            raise ConfigError(
                f"{where}: field 'sampling_rate' is not allowed for board {kind!r} (the rate "
                f"comes from {origin})"
            )
        return DeviceProfile(
            name, description, None, (), None, float(mains), connection, path, kind
        )
    from brainflow.board_shim import BoardIds

    data_board = board_id
    if board_id in (BoardIds.PLAYBACK_FILE_BOARD, BoardIds.STREAMING_BOARD):
        master = connection.setdefault("master_board", "SYNTHETIC_BOARD")
        data_board = int(BoardIds[master])
    descr = _descr(data_board)
    board_label = BoardIds(data_board).name
    n_eeg = len(descr.get("eeg_channels", ()))
    if n_eeg == 0:
        raise ConfigError(f"{where}: board {board_label} streams no EEG")
    if "channels" in data:
        channels, types = _check_channels(where, data["channels"])
        if len(channels) != n_eeg:
            raise ConfigError(
                f"{where}: field 'channels' has {len(channels)} labels but {board_label} has "
                f"{n_eeg} EEG channels; give {n_eeg}"
            )
    elif descr.get("eeg_names"):
        try:
            channels, types = _check_channels(where, descr["eeg_names"].split(","))
        except ConfigError:
            raise ConfigError(
                f"{where}: field 'channels' is required for {board_label}: BrainFlow names its "
                f"rows {descr['eeg_names']}, not all 10-20; give {n_eeg} labels, the others "
                f'as {{ label = "X1", type = "emg" }}'
            ) from None
    else:
        raise ConfigError(
            f"{where}: field 'channels' is required for {board_label} (BrainFlow has no labels "
            f"for it); give {n_eeg} 10-20 labels"
        )
    streams = _check_streams(where, data["streams"], data_board) if "streams" in data else ()
    brainflow_rate = float(descr["sampling_rate"])
    if rate is not None and float(rate) != brainflow_rate:
        raise ConfigError(
            f"{where}: field 'sampling_rate' is {rate:g} but {board_label} streams at "
            f"{brainflow_rate:g} Hz"
        )
    return DeviceProfile(
        name,
        description,
        board_id,
        channels,
        brainflow_rate,
        float(mains),
        connection,
        path,
        config=config,
        channel_types=types,
        streams=streams,
    )


def _check_port_exists(what: str, port: str, error=ConfigError) -> None:
    """A port named by path (``/dev/ttyUSB0``) or Windows name (``COM3``) must exist here."""
    if not ports.is_port_name(port) or sys.platform == "win32":
        return  # a COM port is no file: opening it says whether it exists
    if not port.startswith("/") or not os.path.exists(port):
        raise error(f"{what} {ports.port_problem(port)}")


def load_profile(
    name_or_path: str,
    *,
    serial_port: str | None = None,
    mac: str | None = None,
    file: str | None = None,
    mains_hz: float | None = None,
    lsl_stream: str | None = None,
    lsl_markers: str | None = None,
    ip_address: str | None = None,
    ip_port: int | None = None,
) -> DeviceProfile:
    """Load and validate a device profile, with per-run overrides.

    Parameters
    ----------
    name_or_path : str
        A profile name in :func:`devices_dir` (``"cyton"``) or a path to a ``.toml`` file.
    serial_port, mac, file : str | None
        Override ``connection.serial_port`` / ``mac_address`` / ``file``; only for devices
        that list that key, and the port or file must exist.
    lsl_stream, lsl_markers : str | None
        An LSL device's stream: a name, or ``key=value`` pairs separated by commas (keys
        ``name``, ``type``, ``source_id``, ``hostname``: ``type=EEG``); and the name of an
        LSL marker stream whose markers become events.
    ip_address, ip_port : str | int | None
        Override ``connection.ip_address`` / ``ip_port`` of a network board (WiFi Shield,
        Crown): a host name or IP address, a port 1 to 65535.
    mains_hz : float | None
        Override ``mains_hz`` (50 or 60).

    Raises
    ------
    ConfigError
        One line naming the file or option, the field and what is allowed.
    """
    path = _resolve(name_or_path)
    where = _display(path)
    try:
        data = tomllib.loads(fs.read_text(path, fs.MAX_CONFIG_BYTES, follow=True))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid TOML (nested too deeply)") from None
    except OSError as err:
        if err.errno == errno.EILSEQ:
            raise ConfigError(f"{where}: not valid TOML (not UTF-8 text)") from None
        raise ConfigError(f"{where}: cannot read ({err.strerror})") from None
    profile = parse_profile(data, name=path.stem, path=path)
    # relative files in the profile are relative to the profile
    conn = dict(profile.connection)
    for key in ("file", "file_aux", "file_anc"):
        if conn.get(key) and not Path(conn[key]).expanduser().is_absolute():
            conn[key] = str((path.parent / conn[key]).resolve())
    overrides = {"connection": conn, "origin": paths.origin_of("devices", path)}
    uses = ", ".join(k for k in conn if k != "master_board") or "nothing"
    for option, key, value in (
        ("--serial-port", "serial_port", serial_port),
        ("--mac", "mac_address", mac),
        ("--file", "file", file),
        ("--stream", "stream_name", lsl_stream),
        ("--lsl-markers", "markers_name", lsl_markers),
        ("--ip-address", "ip_address", ip_address),
        ("--ip-port", "ip_port", ip_port),
    ):
        if value is None:
            continue
        if key not in conn:
            raise ConfigError(
                f"{option}: device {profile.name!r} has no {key} (its connection uses: {uses})"
            )
        if key == "ip_port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise ConfigError(f"{option}: a port number 1 to 65535, got {value!r}")
            conn[key] = value
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{option}: expected a non-empty value, got {value!r}")
        if key == "serial_port":
            _check_port_exists(f"{option}:", value)
        elif key == "mac_address":
            _check_mac(option, value)
        elif key == "ip_address" and not _HOST_RE.match(value):
            raise ConfigError(
                f"{option}: a host name or an IP address such as 192.168.4.1, got {value!r}"
            )
        elif key in ("stream_name", "markers_name"):
            if "'" in value or any(ord(c) < 32 for c in value):
                raise ConfigError(f"{option}: a stream name without quotes, got {value!r}")
            if key == "stream_name" and "=" in value:
                conn.update(_stream_spec(option, value))
                continue
        elif key == "file":
            p = Path(value).expanduser()
            if not p.exists():
                raise ConfigError(f"{option}: {value!r} does not exist")
            if p.is_dir() and profile.board_id is not None:
                raise ConfigError(f"{option}: {value!r} is a folder, expected a file")
            what = fs.describe_target(p)
            if what not in (None, "a folder"):  # /dev/zero, a FIFO: reads that never end
                raise ConfigError(f"{option}: {value!r} is {what}, expected a file")
            value = str(p.resolve())
        conn[key] = value
    if mains_hz is not None:
        if isinstance(mains_hz, bool) or mains_hz not in (50, 60):
            raise ConfigError(f"--mains-hz: must be 50 or 60, got {mains_hz!r}")
        overrides["mains_hz"] = float(mains_hz)
    return dataclasses.replace(profile, **overrides)


def _stream_spec(option: str, spec: str) -> dict:
    """``name=X,type=EEG`` -> the LSL connection fields it sets."""
    out = {"stream_name": "", "stream_type": ""}
    for part in spec.split(","):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or key not in LSL_SPEC_KEYS or not value:
            raise ConfigError(
                f"{option}: expected a stream name or key=value pairs with keys "
                f"{', '.join(LSL_SPEC_KEYS)} (e.g. type=EEG), got {part.strip()!r}"
            )
        out[LSL_SPEC_KEYS[key]] = value
    return out


def open_source(profile: DeviceProfile) -> Source:
    """Build the :class:`~nfb.sources.Source` of a profile (not yet opened).

    Raises
    ------
    ConfigError
        If a required connection value (serial port, file) is missing, or the file is gone.
    """
    conn = profile.connection
    for key, option in (("serial_port", "--serial-port"), ("file", "--file")):
        if key in conn and not conn[key]:
            raise ConfigError(
                f"device {profile.name!r} needs a {key.replace('_', ' ')}: pass {option}"
            )
    for key in ("file", "file_aux", "file_anc"):
        if conn.get(key) and not Path(conn[key]).exists():
            raise ConfigError(f"device {profile.name!r}: {key} {conn[key]!r} does not exist")
    if profile.kind == LSL_BOARD:
        from .lsl_source import LslSource  # pylsl only when an LSL device is used

        return LslSource(
            conn.get("stream_name", ""),
            conn.get("stream_type", "EEG"),
            conn.get("source_id", ""),
            hostname=conn.get("hostname", ""),
            markers_name=conn.get("markers_name", ""),
            timeout=conn.get("timeout", 5),
            name=profile.name,
        )
    if profile.board_id is None:
        return FileSource(
            conn["file"],
            speed=conn.get("speed", 1.0),
            loop=conn.get("loop", False),
            name=Path(conn["file"]).name,
        )
    return BrainFlowSource(
        profile.board_id,
        connection=conn,
        ch_names=profile.channels,
        ch_types=profile.channel_types or None,
        name=profile.name,
        config=profile.config,
        streams=profile.streams,
    )
