"""Protocols: what to compute, what to reward, and the session script.

A protocol is a TOML file: a built-in preset (the repository's ``protocols/``, shipped as
package data) or the user's own in the per-user config folder (see :mod:`nfb.paths`); the
README has the schema. It is validated on load against :data:`SCHEMA`; any value can be
overridden from the command line (``--set reward.target_rate=0.7``); the protocol *as used*
is recorded in the session.
"""

from __future__ import annotations

import copy
import math
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import fs, paths
from .bands import resolve_bands
from .dsp.envelope import DEFAULT_ESTIMATOR, ESTIMATORS
from .dsp.features import BandRef, FeatureExpr
from .errors import ConfigError, quoted

INHIBIT_KINDS = ("amplitude", "emg", "flat", "railed", "band", "eog", "motion")
#: The values a field of a fixed set of words may take (the schema's checks use these; an
#: editor lists them).
CHOICES: dict[str, tuple[str, ...]] = {
    "feedback.direction": ("up", "down"),
    "feedback.measure": ("amplitude", "power"),
    "feedback.estimator": tuple(ESTIMATORS),
    "feedback.baseline": ("eyes_open", "eyes_closed"),
    "feedback.mode": ("visual", "audio", "visual+audio"),
    "script.eyes": ("open", "closed"),
}


def protocols_dir() -> Path:
    """The folder of the built-in presets (package data; ``$NFB_PROTOCOLS_DIR`` replaces it)."""
    return paths.builtin_dir("protocols")


def user_protocols_dir() -> Path:
    """The folder of the user's own presets (``protocols`` in the per-user config folder)."""
    return paths.user_dir("protocols")


# --- schema -------------------------------------------------------------------------------
# Each leaf: (kind, default, check, what is allowed). kinds: str, num, int, bool, list, any.
def _pos(v):
    return v > 0


def _nonneg(v):
    return v >= 0


def _rate(v):
    return 0 < v < 1


#: Longest step of a script, in minutes (10 hours): longer ones are typos.
MAX_STEP_MIN = 600


def _minutes(v):
    return 0 <= v <= MAX_STEP_MIN


def _pos_minutes(v):
    return 0 < v <= MAX_STEP_MIN


_CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z][A-Za-z0-9]*)?$")


def _channels_ok(v):
    # one label or one bipolar pair as a string; or a list of plain labels to average
    if isinstance(v, str):
        pair = v.lower().split("-")
        return bool(_CHANNEL_RE.match(v)) and len(set(pair)) == len(pair)
    return (
        isinstance(v, list)
        and 0 < len(v) <= 32
        and all(isinstance(c, str) and _CHANNEL_RE.match(c) and "-" not in c for c in v)
    )


def _notch_ok(v):
    return v == "mains" or v is False or (isinstance(v, int | float) and v in (50, 60))


def _bandpass_ok(v):
    return v is False or (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        and 0 < v[0] < v[1]
    )


def _threshold_ok(v):
    return v == "auto" or (
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    )


def _name_ok(v):
    # shown in one line everywhere (lists, the live line, errors, reports): no line breaks
    # or control characters from a paste or a hand edit (a tab shows as a space: fine)
    return (
        isinstance(v, str)
        and 0 < len(v.strip()) <= 200
        and not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\t" for c in v)
    )


SCHEMA: dict[str, dict[str, tuple]] = {
    "": {
        "name": ("str", None, _name_ok, "one line of text, at most 200 characters"),
        "description": ("str", "", None, "text"),
    },
    "signal": {
        "channels": (
            "any",
            None,
            _channels_ok,
            'a 10-20 label, a list of labels (averaged) or a bipolar pair "Cz-Pz"',
        ),
        "notch_hz": ("any", "mains", _notch_ok, '50, 60, "mains" (the device\'s) or false'),
        "bandpass_hz": ("any", [1, 40], _bandpass_ok, "[low_hz, high_hz] or false"),
        "step_ms": ("num", 16, lambda v: 1 <= v <= 1000, "1 to 1000 ms between frames"),
    },
    "feedback": {
        "feature": ("str", None, None, "an expression such as 'alpha / beta'"),
        "direction": (
            "str",
            "up",
            lambda v: v in CHOICES["feedback.direction"],
            '"up" or "down"',
        ),
        "measure": (
            "str",
            "amplitude",
            lambda v: v in CHOICES["feedback.measure"],
            '"amplitude" (µV) or "power" (µV²)',
        ),
        "estimator": (
            "str",
            DEFAULT_ESTIMATOR,
            lambda v: v in CHOICES["feedback.estimator"],
            " or ".join(ESTIMATORS),
        ),
        "smooth_ms": ("num", 250, lambda v: 0 <= v <= 10000, "0 to 10000 ms"),
        "zscore": ("bool", False, None, "true or false"),
        "baseline": (
            "str",
            "eyes_open",
            lambda v: v in CHOICES["feedback.baseline"],
            '"eyes_open" or "eyes_closed"',
        ),
        "mode": (
            "str",
            "visual+audio",
            lambda v: v in CHOICES["feedback.mode"],
            '"visual", "audio" or "visual+audio"',
        ),
    },
    "reward": {
        "threshold": ("any", "auto", _threshold_ok, '"auto" or a number'),
        "target_rate": ("num", 0.65, _rate, "a fraction between 0 and 1"),
        "window_s": ("num", 30, lambda v: 1 <= v <= 600, "1 to 600 s"),
        "update_s": ("num", 5, lambda v: 0.1 <= v <= 600, "0.1 to 600 s"),
        "hold_ms": ("num", 250, lambda v: 0 <= v <= 10000, "0 to 10000 ms"),
    },
    "script": {
        "baseline_eyes_open": ("num", 2, _minutes, "minutes, 0 to 600"),
        "baseline_eyes_closed": ("num", 2, _minutes, "minutes, 0 to 600"),
        "blocks": ("int", 6, lambda v: 1 <= v <= 100, "1 to 100"),
        "block_min": ("num", 3, _pos_minutes, "minutes, > 0 and <= 600"),
        "rest_min": ("num", 0.5, _minutes, "minutes, 0 to 600"),
        "eyes": (
            "str",
            "open",
            lambda v: v in CHOICES["script.eyes"],
            '"open" or "closed"',
        ),
    },
}


def _hold_ms(v):
    return 0 <= v <= 10000


def _sham_blocks_ok(v):
    return (
        isinstance(v, list)
        and all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in v)
        and len(set(v)) == len(v)
    )


#: ``[sham]``: blocks whose feedback is yoked to another recording (placebo control).
SHAM_SCHEMA: dict[str, tuple] = {
    "blocks": ("any", [], _sham_blocks_ok, "a list of distinct block numbers from 1"),
    "count": ("int", 0, _nonneg, "a number of blocks chosen at random at the start, >= 0"),
}


def _eog_channel_ok(v):
    # the labels of a device's own rows: an EOG row may be called anything
    labels = [v] if isinstance(v, str) else v
    return (
        isinstance(labels, list)
        and 0 < len(labels) <= 8
        and all(isinstance(c, str) and 0 < len(c.strip()) <= 32 for c in labels)
    )


INHIBIT_SCHEMA: dict[str, dict[str, tuple]] = {
    "amplitude": {
        "max_uv": ("num", 100, _pos, "µV > 0"),
        "hold_ms": ("num", 500, _hold_ms, "0 to 10000 ms"),
    },
    "emg": {
        "max_uv": ("num", 15, _pos, "µV > 0"),
        "band": ("any", "emg", lambda v: isinstance(v, str), "a band name"),
        "hold_ms": ("num", 500, _hold_ms, "0 to 10000 ms"),
    },
    "flat": {
        "min_uv": ("num", 0.5, _pos, "µV > 0"),
        "window_s": ("num", 1, lambda v: 0 < v <= 60, "s, > 0 and <= 60"),
    },
    "railed": {
        "fraction": ("num", 0.95, _rate, "a fraction of the ADC range between 0 and 1"),
        "max_uv": ("num", 0, _nonneg, "µV (0 = from the device's ADC range)"),
    },
    "eog": {
        "channel": (
            "any",
            None,
            _eog_channel_ok,
            'a channel label of the device ("VEOG", "Fp1") or a list of them',
        ),
        "max_uv": ("num", 100, _pos, "µV > 0"),
        "hold_ms": ("num", 500, _hold_ms, "0 to 10000 ms"),
    },
    # head motion from the device's auxiliary stream (accelerometer, gyro): nfb/dsp/motion.py
    "motion": {
        "max_accel_g": ("num", 0.15, _nonneg, "g >= 0 off 1 g (0: not used)"),
        "max_gyro_dps": ("num", 15, _nonneg, "deg/s >= 0 (0: not used)"),
        "hold_ms": ("num", 500, _hold_ms, "0 to 10000 ms"),
    },
    "band": {
        "band": ("str", None, None, "a band name"),
        "max": ("any", "auto", _threshold_ok, '"auto" (baseline mean + max_z·sd) or a value'),
        "max_z": ("num", 1.5, _pos, "> 0"),
        "hold_ms": ("num", 0, _hold_ms, "0 to 10000 ms"),
        # flicker is not an episode: see nfb/reward.py
        "min_episode_ms": ("num", 100, _hold_ms, "0 to 10000 ms"),
        "release": ("num", 0.8, lambda v: 0 < v <= 1, "a fraction of the limit, > 0 and <= 1"),
    },
}

_TYPES = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "num": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        "a number",
    ),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "any": (lambda v: True, ""),
}


def _check_table(table: dict, schema: dict, where: str, src: str) -> dict:
    out = {}
    unknown = set(table) - set(schema)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"{src}: unknown field '{where}{key}'; allowed: {', '.join(sorted(schema))}"
        )
    for key, (kind, default, check, allowed) in schema.items():
        if key not in table:
            if default is None:
                raise ConfigError(f"{src}: missing field '{where}{key}' ({allowed})")
            out[key] = copy.deepcopy(default)
            continue
        value = table[key]
        ok_type, type_name = _TYPES[kind]
        if not ok_type(value) or (check is not None and not check(value)):
            raise ConfigError(
                f"{src}: field '{where}{key}' must be {allowed or type_name}, got {_got(value)}"
            )
        out[key] = value
    return out


def _got(value: Any, limit: int = 80) -> str:
    """``value`` as shown in an error: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _one_line(text: str) -> str:
    """``text`` on one line: control characters (a newline in a key) are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def validate(data: dict, src: str = "protocol") -> dict:
    """Validate a protocol dict and return it with defaults filled in.

    Raises
    ------
    ConfigError
        One line naming ``src``, the field and what is allowed.
    """
    try:
        return _validate(data, src)
    except ConfigError as err:
        raise ConfigError(_one_line(str(err))) from None


def _validate(data: dict, src: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: a protocol is a TOML table")
    allowed_top = {
        "name",
        "description",
        "signal",
        "bands",
        "feedback",
        "reward",
        "inhibit",
        "script",
        "sham",
    }
    unknown = set(data) - allowed_top
    if unknown:
        allowed = ", ".join(sorted(allowed_top))
        raise ConfigError(f"{src}: unknown field '{sorted(unknown)[0]}'; allowed: {allowed}")
    out = _check_table(
        {k: data[k] for k in ("name", "description") if k in data}, SCHEMA[""], "", src
    )
    for section in ("signal", "feedback", "reward", "script"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{src}: '{section}' must be a table")
        out[section] = _check_table(table, SCHEMA[section], f"{section}.", src)
    if "sham" in data:
        out["sham"] = _check_sham(data["sham"], out["script"]["blocks"], src)
    bands = data.get("bands", {})
    if not isinstance(bands, dict):
        raise ConfigError(f"{src}: 'bands' must be a table of name = [low_hz, high_hz]")
    resolve_bands(bands, sfreq=1e9, where=f"{src}: bands")  # edges; Nyquist checked per device
    out["bands"] = bands
    inhibits = data.get("inhibit", [])
    if not isinstance(inhibits, list) or not all(isinstance(t, dict) for t in inhibits):
        raise ConfigError(f"{src}: 'inhibit' must be an array of tables ([[inhibit]])")
    out["inhibit"] = []
    for i, table in enumerate(inhibits):
        kind = table.get("kind")
        if kind not in INHIBIT_KINDS:
            raise ConfigError(
                f"{src}: field 'inhibit[{i}].kind' must be one of {', '.join(INHIBIT_KINDS)}, "
                f"got {kind!r}"
            )
        rest = {k: v for k, v in table.items() if k != "kind"}
        out["inhibit"].append(
            {"kind": kind, **_check_table(rest, INHIBIT_SCHEMA[kind], f"inhibit[{i}].", src)}
        )
    # the expression and band names are checked here too, so errors surface at load time
    names = resolve_bands(bands, sfreq=1e9)
    FeatureExpr(out["feedback"]["feature"], names, where=f"{src}: feedback.feature")
    seen: dict[str, int] = {}
    for i, inh in enumerate(out["inhibit"]):
        # one rule per kind (per band for band inhibits): a second one would not be applied
        key = f"band {inh['band']}" if inh["kind"] == "band" else inh["kind"]
        if key in seen:
            raise ConfigError(
                f"{src}: field 'inhibit[{i}]' repeats the {key!r} inhibit of "
                f"'inhibit[{seen[key]}]'; one per kind (per band for band inhibits)"
            )
        seen[key] = i
    for i, inh in enumerate(out["inhibit"]):
        if inh["kind"] == "motion" and not (inh["max_accel_g"] or inh["max_gyro_dps"]):
            raise ConfigError(
                f"{src}: field 'inhibit[{i}]': a motion inhibit needs max_accel_g or "
                "max_gyro_dps above 0"
            )
        if inh["kind"] in ("band", "emg") and inh["band"] not in names:
            raise ConfigError(
                f"{src}: field 'inhibit[{i}].band' names unknown band {inh['band']!r}; "
                f"known: {', '.join(sorted(names))}"
            )
    return out


def _check_sham(table: Any, n_blocks: int, src: str) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"{src}: 'sham' must be a table (blocks = [2, 4] or count = 2)")
    sham = _check_table(table, SHAM_SCHEMA, "sham.", src)
    if sham["blocks"] and sham["count"]:
        raise ConfigError(f"{src}: give either 'sham.blocks' or 'sham.count', not both")
    late = [b for b in sham["blocks"] if b > n_blocks]
    if late:
        raise ConfigError(
            f"{src}: field 'sham.blocks' names block {late[0]} but the script has {n_blocks}"
        )
    n_sham = len(sham["blocks"]) or sham["count"]
    if n_sham >= n_blocks:
        raise ConfigError(
            f"{src}: {n_sham} sham blocks leave no real block of the script's {n_blocks}; "
            "keep at least one real block"
        )
    return sham


# --- overrides ----------------------------------------------------------------------------
#: Longest ``--set`` value (characters): a protocol field is a number, a word or a short list.
MAX_OVERRIDE_CHARS = 10_000


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value`` with the value in TOML syntax (bare words become strings)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. reward.target_rate=0.7")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".")]
    if not all(path):
        raise ConfigError(f"--set {text!r}: empty key component")
    if len(raw) > MAX_OVERRIDE_CHARS:
        raise ConfigError(f"--set {key}: the value is longer than {MAX_OVERRIDE_CHARS} characters")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except RecursionError:
        raise ConfigError(f"--set {key}: the value is nested too deeply") from None
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-+* ./@()]*", raw.strip()):
            value = raw.strip()
        else:
            raise ConfigError(
                f"--set {key}: {quoted(raw)} is not a TOML value (quote strings, e.g. '\"O1\"')"
            ) from None
    return path, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Return a copy of ``data`` with each ``--set`` override applied (before validation)."""
    data = copy.deepcopy(data)
    for text in overrides or []:
        path, value = parse_override(text)
        key = ".".join(path)
        node: Any = data
        for part in path[:-1]:
            if isinstance(node, list):
                node = node[_list_index(node, part, key)]
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, dict | list):
                raise ConfigError(f"--set {key}: '{part}' is a value, not a table or a list")
        if isinstance(node, list):
            node[_list_index(node, path[-1], key)] = value
        else:
            node[path[-1]] = value
    return data


def _list_index(items: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"--set {key}: no item {part!r} (the list has {len(items)}, from 0)")
    return int(part)


# --- loading ------------------------------------------------------------------------------
def list_protocols() -> list[Path]:
    """The preset files by name: the built-in ones, extended or replaced by the user's."""
    return [p.path for p in paths.presets("protocols").values()]


def protocol_origin(path: Path | None) -> str:
    """``"built-in"``, ``"user"``, ``"user (replaces built-in)"`` or ``"file"``."""
    return paths.origin_of("protocols", path)


def load_protocol(name_or_path: str | os.PathLike, overrides: list[str] | None = None) -> Protocol:
    """Load a protocol preset by name (``alpha-up``) or by path, apply overrides, validate."""
    try:
        return _load_protocol(name_or_path, overrides)
    except ConfigError as err:  # a name, key or value may hold a newline: keep one line
        raise ConfigError(_one_line(str(err))) from None


def _load_protocol(name_or_path: str | os.PathLike, overrides: list[str] | None) -> Protocol:
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or os.sep in text) or not path.exists():
        preset = paths.presets("protocols").get(text)
        if preset is not None:
            path = preset.path
        elif text.endswith(".toml") or os.sep in text:
            raise ConfigError(f"protocol file {text} does not exist")
        else:
            names = ", ".join(p.stem for p in list_protocols())
            raise ConfigError(
                f"unknown protocol {text!r}; available: {names} "
                f"(your own go in {user_protocols_dir()} as NAME.toml)"
            )
    try:
        data = tomllib.loads(fs.read_text(path, fs.MAX_CONFIG_BYTES, follow=True))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: malformed TOML: nested too deeply") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    data = apply_overrides(data, overrides or [])
    return Protocol(validate(data, src=str(path)), source=path, slug=path.stem)


@dataclass(frozen=True)
class Protocol:
    """A validated protocol.

    Attributes
    ----------
    data : dict
        The protocol as used (defaults filled in, overrides applied): what is recorded.
    source : Path | None
        The file it came from.
    slug : str
        Short name for folder names (the file stem).
    """

    data: dict
    source: Path | None = None
    slug: str = "protocol"

    @classmethod
    def from_dict(cls, data: dict, slug: str = "protocol") -> Protocol:
        return cls(validate(data, src="protocol"), None, slug)

    @property
    def name(self) -> str:
        return self.data["name"]

    def __getitem__(self, section: str) -> Any:
        return self.data[section]

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)

    def feature(self, bands) -> FeatureExpr:
        return FeatureExpr(self.data["feedback"]["feature"], bands)

    @property
    def has_sham(self) -> bool:
        """Whether some training blocks give yoked (sham) feedback."""
        sham = self.data.get("sham") or {}
        return bool(sham.get("blocks") or sham.get("count"))

    def band_refs(self, bands) -> tuple[BandRef, ...]:
        """All band references: the feature's and the band inhibits'."""
        refs = list(self.feature(bands).refs)
        for inh in self.data["inhibit"]:
            if inh["kind"] == "band" and BandRef(inh["band"], None) not in refs:
                refs.append(BandRef(inh["band"], None))
        return tuple(refs)


# --- writing ------------------------------------------------------------------------------
#: Order of a written protocol's tables: as the presets have them.
_WRITE_ORDER = ("signal", "bands", "feedback", "reward", "inhibit", "script", "sham")
#: File names Windows keeps for devices, whatever the extension (``con.toml`` is the console).
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:  # TOML allows no other control character raw
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ConfigError(f"{where}: cannot write {type(value).__name__} {_got(value)} to TOML")


def _toml_table(table: dict, where: str) -> list[str]:
    lines = []
    for key, value in table.items():
        if isinstance(value, dict):
            raise ConfigError(f"{where}.{key}: a protocol has no tables this deep")
        lines.append(f"{_toml_key(key)} = {_toml_value(value, f'{where}.{key}')}")
    return lines


def dumps_protocol(data: dict) -> str:
    """A protocol dict as TOML text that reads back (``tomllib``) as the same dict.

    Parameters
    ----------
    data : dict
        A protocol: top-level values, tables (``[signal]``...) and arrays of tables
        (``[[inhibit]]``), as :func:`validate` returns it.

    Returns
    -------
    str
        The TOML text, the tables in the presets' order.
    """
    keys = sorted(data, key=lambda k: _WRITE_ORDER.index(k) if k in _WRITE_ORDER else 99)

    def is_tables(v):
        return isinstance(v, list) and v and all(isinstance(t, dict) for t in v)

    top = {k: data[k] for k in keys if not isinstance(data[k], dict) and not is_tables(data[k])}
    lines = _toml_table(top, "protocol")
    for key in keys:
        value = data[key]
        if isinstance(value, dict):
            lines += ["", f"[{_toml_key(key)}]", *_toml_table(value, key)]
        elif is_tables(value):
            for i, table in enumerate(value):
                lines += ["", f"[[{_toml_key(key)}]]", *_toml_table(table, f"{key}[{i}]")]
    return "\n".join(lines) + "\n"


def check_file_name(stem: Any) -> str:
    """Return ``stem`` if it is a safe name for a user protocol file, else raise.

    A safe name is its own folder slug (:func:`nfb.session.format.protocol_slug`: lowercase
    letters, digits and ``-``, at most 40 characters), so the file, ``--protocol NAME`` and
    the session folders all spell it the same, and it is not a name Windows keeps for a device.

    Raises
    ------
    ConfigError
        One line saying what a name may be.
    """
    from .session.format import protocol_slug

    rule = "lowercase letters, digits and '-', at most 40 characters (e.g. 'smr-up-mine')"
    if not isinstance(stem, str) or not stem:
        raise ConfigError(f"give the protocol a file name: {rule}")
    if protocol_slug(stem) != stem:
        raise ConfigError(f"protocol file name {quoted(stem)}: use {rule}")
    if stem in _WINDOWS_DEVICES:
        raise ConfigError(
            f"protocol file name {stem!r} is a device name on Windows; choose another"
        )
    return stem


def user_protocol_path(stem: Any, *, replace: bool = False) -> Path:
    """The file a user protocol named ``stem`` is saved to, if it may be.

    Parameters
    ----------
    stem : str
        The file name without ``.toml`` (:func:`check_file_name`): what
        ``nfb run --protocol`` and the console's protocol list call it.
    replace : bool
        Whether the user's own protocol of that name may be replaced (it is being edited).

    Returns
    -------
    Path
        ``<stem>.toml`` in :func:`user_protocols_dir`.

    Raises
    ------
    ConfigError
        A bad name, a built-in preset's name (presets are never shadowed from the editor),
        or, unless ``replace``, the name of an existing user protocol.
    """
    check_file_name(stem)
    preset = paths.presets("protocols").get(stem)
    if preset is not None and preset.origin == paths.BUILTIN:
        raise ConfigError(f"{stem!r} is a built-in protocol; save the copy under a new name")
    path = user_protocols_dir() / f"{stem}.toml"
    if not replace and (path.exists() or path.is_symlink()):
        raise ConfigError(
            f"a protocol named {stem!r} exists already in {path.parent}; choose another name"
        )
    return path


def save_user_protocol(data: dict, stem: str, *, replace: bool = False) -> Path:
    """Validate ``data`` and write it as the user's protocol ``<stem>.toml``.

    Parameters
    ----------
    data : dict
        The protocol. What is written is the validated protocol (defaults filled in), so
        the file reads back identical.
    stem : str
        The file name without ``.toml`` (see :func:`user_protocol_path`).
    replace : bool
        Replace the user's own protocol of that name (editing it).

    Returns
    -------
    Path
        The file written (0600, atomically, never through a link), in
        :func:`user_protocols_dir`.

    Raises
    ------
    ConfigError
        A bad or taken name (:func:`user_protocol_path`), an invalid protocol, or a folder
        that cannot be written.
    """
    path = user_protocol_path(stem, replace=replace)
    protocol = validate(data, src=path.name)
    text = dumps_protocol(protocol)
    if tomllib.loads(text) != protocol:  # pragma: no cover - a writer bug, never user input
        raise ConfigError(f"{path.name}: the protocol does not read back as written")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a paste: no file can hold it
        raise ConfigError(f"{path.name}: the protocol holds text that is not Unicode") from None
    if len(encoded) > fs.MAX_CONFIG_BYTES:  # what load_protocol would refuse to read back
        raise ConfigError(
            f"{path.name}: the protocol is {len(encoded) / 2**20:.1f} MB, more than the "
            f"{fs.MAX_CONFIG_BYTES // 2**20} MB a protocol file may be (a text field too long?)"
        )
    folder = path.parent
    try:
        if not folder.parent.exists():
            folder.parent.mkdir(parents=True, mode=0o700)
        fs.mkdir_private(folder, exist_ok=True)  # refuses a link in its place
    except OSError as err:  # named as the folder: it is what is wrong
        raise ConfigError(
            f"{folder}: cannot write protocols there: {err.strerror or err} (nfb never writes "
            "through a link)"
            if folder.is_symlink()
            else f"{folder}: cannot write protocols there: {err.strerror or err}"
        ) from None
    try:
        fs.write_atomic(path, encoded)  # refuses a link or a special file
    except OSError as err:
        raise ConfigError(f"{path}: cannot write: {err.strerror or err}") from None
    return path
