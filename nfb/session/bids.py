"""Export a recorded session into a BIDS dataset (EEG-BIDS) with nfb's frames as a derivative.

Layout under the dataset root ``ROOT`` (``X``, ``Y``, ``Z`` as below)::

    ROOT/dataset_description.json, participants.tsv, README         (MNE-BIDS)
    ROOT/sub-X/ses-Y/eeg/sub-X_ses-Y_task-Z_eeg.edf                 the EEG, µV, annotations
    ROOT/sub-X/ses-Y/eeg/..._events.tsv, _channels.tsv, _eeg.json   (MNE-BIDS sidecars)
    ROOT/sub-X/ses-Y/eeg/sub-X_ses-Y_space-CapTrak_electrodes.tsv   10-20 positions
    ROOT/phenotype/gad7.tsv, gad7.json, phq9.tsv, phq9.json         the client's questionnaires
                                                                    (participant_id, date, items)
    ROOT/derivatives/nfb/dataset_description.json                   DatasetType "derivative"
    ROOT/derivatives/nfb/sub-X/ses-Y/eeg/
        sub-X_ses-Y_task-Z_desc-nfbframes_timeseries.tsv (+ .json)  every frame column
        sub-X_ses-Y_task-Z_desc-nfb_events.tsv (+ .json)            every nfb event

Labels (BIDS allows letters and digits only):

- ``X`` (subject): the client id without its ``-``, ``_`` and ``.`` (``client-01`` ->
  ``client01``). Client ids are already pseudonyms. Two clients that map to the same label
  (``a-b`` and ``ab``) are refused rather than merged.
- ``Y`` (session): the session's start date and time, ``YYYYmmddHHMMSS`` (UTC), followed by
  ``n<k>`` for the ``-<k>`` folder suffix of a second session started in the same second.
- ``Z`` (task): the protocol slug without dashes (``alpha-beta-up`` -> ``alphabetaup``).

The events of ``_events.tsv`` are the session's annotations (see
:func:`nfb.session.store.session_annotations`): steps, markers, pauses, ``BAD_`` segments and
inhibits; their ``value`` column numbers the sorted descriptions from 1.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import fs
from .._logging import logger
from .._version import __version__
from ..bands import DEFAULT_BANDS
from ..errors import ConfigError, SessionError, one_line
from .format import STREAM_KINDS, json_safe, protocol_slug
from .reader import stream_channel_names
from .store import RecordedSession, read_session

#: EEG file formats of the BIDS export (MNE-BIDS ``format=``): EDF is 16-bit, BDF 24-bit.
BIDS_DATA_FORMATS = ("EDF", "BDF")
#: Files of the dataset root that MNE-BIDS creates or rewrites (made private after export).
_ROOT_FILES = ("dataset_description.json", "participants.tsv", "participants.json", "README")
#: The folder of the questionnaire tables (BIDS ``phenotype/<tool>.tsv`` + ``.json``).
PHENOTYPE_DIR = "phenotype"
_DERIVATIVE = ("derivatives", "nfb")
_FRAMES_DESC = "nfbframes"
_EVENTS_DESC = "nfb"


@dataclass(frozen=True)
class BidsExport:
    """What :func:`export_bids` wrote.

    Attributes
    ----------
    root : Path
        The dataset root.
    subject, session, task : str
        The BIDS labels.
    eeg_file : Path
        The EEG data file (``.edf`` or ``.bdf``).
    frames_file, events_file : Path
        The derivative TSVs (each with a JSON sidecar of the same stem).
    """

    root: Path
    subject: str
    session: str
    task: str
    eeg_file: Path
    frames_file: Path
    events_file: Path


def bids_label(text: str, what: str) -> str:
    """Return ``text`` with everything but ASCII letters and digits removed.

    Raises
    ------
    ConfigError
        If nothing is left (``what`` names the label in the message).
    """
    label = re.sub(r"[^A-Za-z0-9]", "", str(text))
    if not label:
        raise ConfigError(
            f"{what} {text!r} has no letters or digits: a BIDS label needs at least one"
        )
    return label


def bids_labels(meta: dict[str, Any]) -> tuple[str, str, str]:
    """Return the BIDS ``(subject, session, task)`` labels of a session's ``session.json``.

    See the module docstring for the mapping.
    """
    subject = bids_label(meta.get("client", ""), "client id")
    session_id = str(meta.get("session_id", ""))
    slug = meta.get("protocol_slug")
    if not slug:
        protocol = meta.get("protocol")
        name = protocol.get("name") if isinstance(protocol, dict) else None
        slug = protocol_slug(name) if name else ""
    m = re.fullmatch(r"(\d{8})-(\d{6})-(.*)", session_id)
    if m is None:
        # not an id nfb made (renamed by hand): keep all of it, it is unique in its folder
        session = bids_label(session_id, "session id")
    else:
        session = m[1] + m[2]
        rest = m[3]
        if not slug:
            slug = rest
        suffix = re.fullmatch(re.escape(slug) + r"-(\d+)", rest) if rest != slug else None
        if suffix is not None:
            session += f"n{suffix[1]}"
        elif rest != slug:
            session += bids_label(rest, "session id")
    task = bids_label(slug or "nfb", "protocol slug")
    return subject, session, task


def export_bids(
    session: str | os.PathLike | RecordedSession,
    root: str | os.PathLike,
    *,
    overwrite: bool = False,
    data_format: str = "EDF",
) -> BidsExport:
    """Add a session to a BIDS dataset, with its frames and events as an nfb derivative.

    Parameters
    ----------
    session : path-like | RecordedSession
        The session folder, or a session already read.
    root : path-like
        The dataset root; created if missing (its parent must exist). An existing dataset
        gets this session added.
    overwrite : bool
        Replace this session if it is already in the dataset; without it that is an error.
    data_format : ``"EDF"`` | ``"BDF"``
        EEG file format: EDF (16-bit, the most widely read) or BDF (24-bit). Each channel's
        physical range is its own, so the quantisation step is that channel's
        (max - min) / (2**16 - 2) in EDF, about (max - min) / 2**24 in BDF.

    Returns
    -------
    export : BidsExport
        The labels and files written.

    Notes
    -----
    Created folders are 0700 and the files written (MNE-BIDS's included) 0600: session
    data is health data.
    """
    if data_format not in BIDS_DATA_FORMATS:
        raise ConfigError(
            f"BIDS data format {data_format!r} is not supported; allowed: "
            f"{', '.join(BIDS_DATA_FORMATS)}"
        )
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file; a BIDS export needs a folder")
    if not root.parent.is_dir():
        raise ConfigError(f"cannot write {root}: folder {root.parent} does not exist")
    rec = session if isinstance(session, RecordedSession) else read_session(session)
    if rec.n_samples == 0:
        raise SessionError(f"{rec.path} has no samples to export")
    subject, ses, task = bids_labels(rec.meta)
    client = str(rec.meta.get("client", ""))

    from mne_bids import BIDSPath

    bids_path = BIDSPath(
        subject=subject,
        session=ses,
        task=task,
        datatype="eeg",
        suffix="eeg",
        extension="." + data_format.lower(),
        root=root,
    )
    eeg_dir = bids_path.directory
    deriv_root = root.joinpath(*_DERIVATIVE)
    deriv_dir = deriv_root / f"sub-{subject}" / f"ses-{ses}" / "eeg"
    stem = f"sub-{subject}_ses-{ses}_task-{task}"
    frames_file = deriv_dir / f"{stem}_desc-{_FRAMES_DESC}_timeseries.tsv"
    events_file = deriv_dir / f"{stem}_desc-{_EVENTS_DESC}_events.tsv"

    _check_subject(deriv_root / f"sub-{subject}", client, subject, root)
    data_files = [eeg_dir / f"{stem}_eeg.{ext.lower()}" for ext in BIDS_DATA_FORMATS]
    present = [p for p in (*data_files, frames_file, events_file) if p.exists()]
    if present and not overwrite:
        raise SessionError(
            f"{rec.path.name} is already in {root} as sub-{subject} ses-{ses} task-{task} "
            f"({present[0].name}); use --overwrite to replace it"
        )

    before = {p.name for p in root.iterdir()} if root.is_dir() else set()
    new_dirs = _make_private_dirs(root, [eeg_dir, deriv_dir])
    try:
        if overwrite:
            # a session re-exported in the other format must not leave its old EEG file
            for p in data_files:
                if p != bids_path.fpath and p.exists():
                    p.unlink()
                    _drop_scan(eeg_dir.parent / f"sub-{subject}_ses-{ses}_scans.tsv", p)
        _write_raw(rec, bids_path, data_format, overwrite)
        _write_derivative_description(deriv_root)
        sidecar = _provenance(rec, client, bids_path)
        _write_frames(rec, frames_file, sidecar)
        _write_events(rec, events_file, sidecar)
        write_phenotype(root, subject, _course_of(rec))
    except OSError as err:
        raise SessionError(f"cannot write {root}: {err.strerror or err}") from None
    finally:
        trees = [eeg_dir.parent, deriv_dir.parent, root / PHENOTYPE_DIR]
        _make_private(root, new_dirs, before, trees, deriv_root)
    logger.info("Exported %s to %s (sub-%s ses-%s task-%s)", rec.path, root, subject, ses, task)
    return BidsExport(root, subject, ses, task, bids_path.fpath, frames_file, events_file)


# --------------------------------------------------------------------------------- raw EEG
def _write_raw(rec: RecordedSession, bids_path, data_format: str, overwrite: bool) -> None:
    from mne_bids import make_dataset_description, update_sidecar_json, write_raw_bids

    raw = rec.raw.copy()  # the session's cached Raw stays as read
    raw.info["line_freq"] = _line_freq(rec.meta)
    montage = raw.get_montage()
    if montage is not None:
        pos = montage.get_positions()["ch_pos"]
        if not any(all(math.isfinite(v) for v in xyz) for xyz in pos.values()):
            raw.set_montage(None)  # no 10-20 name: write no electrodes.tsv of n/a
    descriptions = sorted(set(raw.annotations.description))
    event_id = {d: i + 1 for i, d in enumerate(descriptions)}

    root = bids_path.root
    if not (root / "dataset_description.json").exists():
        make_dataset_description(
            path=root,
            name="nfb neurofeedback sessions",
            dataset_type="raw",
            generated_by=[_generated_by()],
            overwrite=False,
            verbose="error",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            write_raw_bids(
                raw,
                bids_path,
                event_id=event_id or None,
                format=data_format,
                physical_range="channelwise",  # each channel's own range: finer steps
                allow_preload=True,
                overwrite=overwrite,
                verbose="error",
            )
        except (ValueError, RuntimeError, FileExistsError) as err:
            raise SessionError(f"cannot write {bids_path.fpath}: {one_line(err)}") from None
    for w in caught:
        logger.info("mne-bids: %s", one_line(w.message))
    device = rec.meta.get("device") if isinstance(rec.meta.get("device"), dict) else {}
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    extra = {"SoftwareVersions": f"nfb {rec.meta.get('software', {}).get('nfb', __version__)}"}
    if device.get("name"):
        board = device.get("board")
        extra["ManufacturersModelName"] = (
            f"{device['name']} (BrainFlow {board})" if board else str(device["name"])
        )
    if protocol.get("description") or protocol.get("name"):
        extra["TaskDescription"] = str(protocol.get("description") or protocol.get("name"))
    update_sidecar_json(bids_path.copy().update(extension=".json"), extra, verbose="error")
    if rec.streams:
        channels = bids_path.copy().update(suffix="channels", extension=".tsv")
        _describe_stream_channels(rec, channels)


#: BIDS units of the stream kinds where BIDS has a symbol for them (``g`` is a gram there).
_BIDS_STREAM_UNITS = {"gyro": "deg/s", "temperature": "degC", "resistance": "Ohm"}


def _describe_stream_channels(rec: RecordedSession, channels_path) -> None:
    """The motion and PPG rows of ``channels.tsv``: what each measures, in which unit, at
    which rate it was recorded, and how it came onto the EEG's rate (see the reader)."""
    streams = list(rec.streams.values())
    names = stream_channel_names(rec.ch_names, streams)
    rows = [(st, kind) for st in streams for kind in st.layout["kinds"]]
    about = {}
    for name, (st, kind) in zip(names, rows, strict=True):
        unit = STREAM_KINDS.get(kind, "")
        about[name] = (
            _BIDS_STREAM_UNITS.get(kind, "n/a"),
            f"{kind} ({unit or 'board units'}) from BrainFlow's {st.name} preset at "
            f"{st.sfreq:g} Hz, linearly interpolated onto the EEG samples by board timestamps",
        )
    path = Path(channels_path.fpath)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    col_unit, col_desc = header.index("units"), header.index("description")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split("\t")
        if cells and cells[0] in about:
            cells[col_unit], cells[col_desc] = about[cells[0]]
        out.append("\t".join(cells))
    _write_text(path, "\n".join(out) + "\n")


def _line_freq(meta: dict[str, Any]) -> float | None:
    device = meta.get("device")
    mains = device.get("mains_hz") if isinstance(device, dict) else None
    if isinstance(mains, (int, float)) and not isinstance(mains, bool) and mains > 0:
        return float(mains)
    protocol = meta.get("protocol")
    signal = protocol.get("signal") if isinstance(protocol, dict) else None
    notch = signal.get("notch_hz") if isinstance(signal, dict) else None
    if isinstance(notch, (int, float)) and not isinstance(notch, bool) and notch > 0:
        return float(notch)
    return None  # written as "n/a"


# ------------------------------------------------------------------------------ derivative
def _generated_by() -> dict[str, str]:
    return {
        "Name": "nfb",
        "Version": __version__,
        "Description": "nfb export --format bids: an nfb session folder as EEG-BIDS",
    }


def _write_derivative_description(deriv_root: Path) -> None:
    path = deriv_root / "dataset_description.json"
    if path.exists():
        return
    _write_json(
        path,
        {
            "Name": "nfb neurofeedback frames and events",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "DatasetLinks": {"raw": "../.."},
            "GeneratedBy": [
                {
                    **_generated_by(),
                    "Description": "Feedback frames (feature, threshold, reward, inhibits, "
                    "band values) and session events of nfb neurofeedback sessions",
                }
            ],
        },
    )


def _provenance(rec: RecordedSession, client: str, bids_path) -> dict[str, Any]:
    return {
        "NfbClient": client,
        "NfbSessionId": rec.meta.get("session_id"),
        "NfbStatus": rec.status,
        "NfbProtocol": rec.meta.get("protocol"),
        # "raw" is a DatasetLinks name of the derivative's dataset_description.json
        "Sources": [f"bids:raw:{bids_path.fpath.relative_to(bids_path.root).as_posix()}"],
    }


def _feature_units(protocol: dict[str, Any]) -> tuple[str, str]:
    """Units of the feedback value and of a band column."""
    fb = protocol.get("feedback") if isinstance(protocol.get("feedback"), dict) else {}
    band_units = "µV^2" if fb.get("measure") == "power" else "µV"
    if fb.get("zscore"):
        return "z", band_units
    feature = str(fb.get("feature", ""))
    # a single band (no operator) keeps the band's units; ratios and logs are unitless
    if re.fullmatch(r"\s*[A-Za-z_][\w@]*\s*", feature):
        return band_units, band_units
    return "arbitrary", band_units


def _frame_column_sidecar(name: str, kind: str, protocol: dict[str, Any]) -> dict[str, Any]:
    fb = protocol.get("feedback") if isinstance(protocol.get("feedback"), dict) else {}
    feature = fb.get("feature", "the protocol's feature")
    value_units, band_units = _feature_units(protocol)
    yes_no = {"0": "no", "1": "yes"}
    known = {
        "sample_index": ("Index of the newest EEG sample the frame used (0 = first)", "samples"),
        "time_s": ("sample_index / the EEG sampling frequency", "s"),
        "wall_time": ("Unix time at which the newest sample was fetched from the device", "s"),
        "value": (
            f"Feedback value shown: {feature}, smoothed (z-scored if the protocol says)",
            None,
        ),
        "threshold": ("Reward threshold shown (n/a before one is set)", None),
        "reward": ("Whether the frame was rewarded", None),
        "inhibited": ("Whether an inhibit withheld the reward", None),
        "step": ("Index of the script step (see the step_start events)", None),
        "raw_value": ("The feedback feature before z-scoring", None),
        "sham": ("Whether the frame was in a sham block (yoked feedback shown)", None),
        "own_value": ("The client's own feedback value (differs from value in sham)", None),
        "own_threshold": ("The threshold the client's own value was scored against", None),
        "own_reward": ("Whether the client's own value earned the reward", None),
        "own_inhibited": ("Whether an inhibit withheld the client's own reward", None),
    }
    bands = set(DEFAULT_BANDS)
    if isinstance(protocol.get("bands"), dict):
        bands |= set(protocol["bands"])
    if name in known:
        desc, units = known[name]
        if name in ("value", "threshold", "own_value", "own_threshold"):
            units = value_units
        elif name == "raw_value":
            units = band_units if value_units == "z" else value_units
    elif name.startswith("inhibit_"):
        desc, units = f"Whether the {name[len('inhibit_') :]} inhibit was active", None
    elif name.split("@")[0] in bands:
        desc = f"Envelope of band {name} (at the trained electrode unless @channel)"
        units = band_units
    else:
        desc, units = f"nfb frame column {name}", None
    out: dict[str, Any] = {"Description": desc}
    if units is not None:
        out["Units"] = units
    if kind == "?":
        out["Levels"] = yes_no
    return out


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else repr(value)  # repr: shortest exact round trip
    return _tsv_text(value)


def _tsv_text(value: Any) -> str:
    text = "n/a" if value is None else str(value)
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ") or "n/a"


def _write_frames(rec: RecordedSession, path: Path, provenance: dict[str, Any]) -> None:
    columns = [(str(n), str(k)) for n, k in rec.meta["frames"]["columns"]]
    frames = rec.frames
    cols = [frames[name].tolist() for name, _ in columns]  # Python scalars, exact
    lines = ["\t".join(name for name, _ in columns)]
    lines += ["\t".join(_format(v) for v in row) for row in zip(*cols, strict=True)]
    _write_text(path, "\n".join(lines) + "\n")
    protocol = rec.meta.get("protocol") if isinstance(rec.meta.get("protocol"), dict) else {}
    frame_rate = rec.meta.get("frame_rate")
    sidecar: dict[str, Any] = {
        "Description": "One row per nfb feedback frame, as recorded (frames.f64 of the session).",
        **({"FrameRate": float(frame_rate)} if isinstance(frame_rate, (int, float)) else {}),
        "EEGSamplingFrequency": rec.sfreq,
        **provenance,
    }
    for name, kind in columns:
        sidecar[name] = _frame_column_sidecar(name, kind, protocol)
    _write_json(path.with_suffix(".json"), sidecar)


def _write_events(rec: RecordedSession, path: Path, provenance: dict[str, Any]) -> None:
    lines = ["onset\tduration\tsample\ttrial_type\tdetails"]
    for event in sorted(rec.events, key=lambda e: e["sample_index"]):
        details = {k: v for k, v in event.items() if k not in ("sample_index", "kind")}
        lines.append(
            "\t".join(
                (
                    repr(event["sample_index"] / rec.sfreq),
                    "0",
                    str(event["sample_index"]),
                    _tsv_text(event["kind"]),
                    _tsv_text(json.dumps(json_safe(details), sort_keys=True, default=str))
                    if details
                    else "n/a",
                )
            )
        )
    _write_text(path, "\n".join(lines) + "\n")
    _write_json(
        path.with_suffix(".json"),
        {
            "Description": "The nfb session events (events.jsonl of the session), in sample "
            "order: script steps, thresholds, markers, pauses, device events.",
            **provenance,
            "onset": {"Description": "sample / the EEG sampling frequency", "Units": "s"},
            "duration": {"Description": "Always 0: nfb events are instants", "Units": "s"},
            "sample": {"Description": "EEG sample index of the event (0 = first)"},
            "trial_type": {"Description": "nfb event kind (step_start, marker, threshold...)"},
            "details": {"Description": "The event's other fields, as a JSON object"},
        },
    )


# ------------------------------------------------------------------------------ files
def _check_subject(subject_dir: Path, client: str, subject: str, root: Path) -> None:
    """Refuse a client whose label is already another client's (``a-b`` and ``ab``)."""
    if not subject_dir.is_dir():
        return
    for sidecar in sorted(subject_dir.glob(f"ses-*/eeg/*_desc-{_FRAMES_DESC}_timeseries.json")):
        try:
            other = fs.read_json(sidecar, fs.MAX_SIDECAR_BYTES).get("NfbClient")
        except (OSError, ValueError, AttributeError):
            continue
        if other is not None and other != client:
            raise ConfigError(
                f"client {client!r} maps to BIDS subject sub-{subject}, which in {root} is "
                f"client {other!r}; export one of them to another dataset"
            )


def _drop_scan(scans: Path, data_file: Path) -> None:
    """Remove the row of a deleted EEG file from ``scans.tsv`` (MNE-BIDS keeps stale rows)."""
    if not scans.is_file():
        return
    name = f"{data_file.parent.name}/{data_file.name}"
    lines = fs.read_text(scans, fs.MAX_SIDECAR_BYTES).splitlines(keepends=True)
    kept = [line for line in lines if line.split("\t", 1)[0] != name]
    if len(kept) == 1:  # the header alone: MNE-BIDS warns on an empty table, recreates it
        scans.unlink()
    elif len(kept) != len(lines):
        _write_text(scans, "".join(kept))


def _make_private_dirs(root: Path, leaves: list[Path]) -> list[Path]:
    """Create the folders up to ``leaves`` as 0700 before anything is written into them."""
    created = []
    for leaf in leaves:
        missing = []
        p = leaf
        while not p.exists():
            missing.append(p)
            if p == root:
                break
            p = p.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                continue
            except OSError as err:
                raise SessionError(f"cannot create {d}: {err.strerror or err}") from None
            created.append(d)
    return created


def _make_private(
    root: Path, new_dirs: list[Path], before: set[str], trees: list[Path], deriv_root: Path
) -> None:
    """chmod what this export wrote: new folders 0700, its files 0600 (MNE-BIDS's too)."""
    try:
        for d in new_dirs:
            if d.is_dir():
                os.chmod(d, 0o700)
        if not root.is_dir():
            return
        for p in root.iterdir():
            if p.is_file() and (p.name in _ROOT_FILES or p.name not in before):
                os.chmod(p, 0o600)
        description = deriv_root / "dataset_description.json"
        if description.is_file():
            os.chmod(description, 0o600)
        for tree in trees:
            for p in [tree, *tree.rglob("*")] if tree.is_dir() else []:
                if p.is_file():
                    os.chmod(p, 0o600)
    except OSError as err:  # a file we did not write (another user's dataset): say, go on
        logger.warning("could not make %s private: %s", root, err)


def _write_text(path: Path, text: str) -> None:
    fs.write_atomic(path, text.encode("utf-8"))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(json_safe(data), indent=4, ensure_ascii=False, default=str)
    _write_text(path, text + "\n")


# ------------------------------------------------------------------------------ phenotype
def _course_of(rec: RecordedSession):
    """The client's course (outcome questionnaires) from the store the session is in, or
    ``None`` for a session outside a store or a client without a course file."""
    from .course import COURSE_FILE, read_course

    client = str(rec.meta.get("client", ""))
    store = rec.path.parent.parent
    if rec.path.parent.name != client or not (store / client / COURSE_FILE).exists():
        return None
    return read_course(store, client)


def write_phenotype(root: Path, subject: str, course) -> list[Path]:
    """Write a client's questionnaires into ``ROOT/phenotype/<gad7|phq9>.tsv`` (+ ``.json``).

    One row per answered questionnaire: ``participant_id`` (``sub-X``), ``date``
    (``YYYY-MM-DD``), the items, the total and the severity band. Rows of other participants
    already in the table are kept; this participant's rows are replaced by the course's.
    Notes are not exported (free text may identify the client).

    Parameters
    ----------
    root : Path
        The dataset root.
    subject : str
        The BIDS subject label.
    course : nfb.session.course.Course | None
        The client's course; ``None`` or no answers writes nothing.

    Returns
    -------
    written : list of Path
        The TSV files written.
    """
    from ..questionnaires import ANSWERS, QUESTIONNAIRES, band_ranges

    if course is None or not course.outcomes:
        return []
    folder = root / PHENOTYPE_DIR
    if not folder.is_dir():
        os.mkdir(folder, 0o700)
    participant = f"sub-{subject}"
    written = []
    for key, q in QUESTIONNAIRES.items():
        answers = course.of(key)
        if not answers:
            continue
        columns = ["participant_id", "date", *[f"{key}_{k + 1}" for k in range(q.n_items)]]
        columns += [f"{key}_total", f"{key}_severity"]
        path = folder / f"{key}.tsv"
        rows = [r for r in _read_tsv(path, columns) if r[0] != participant]
        for o in answers:
            items = [str(v) for v in o.items]
            rows.append([participant, o.date.isoformat(), *items, str(o.total), o.severity])
        rows.sort(key=lambda r: (r[0], r[1]))
        _write_text(path, "\n".join("\t".join(r) for r in [columns, *rows]) + "\n")
        levels = {str(k): a for k, a in enumerate(ANSWERS)}
        sidecar: dict[str, Any] = {
            "MeasurementToolMetadata": {
                "Description": f"{q.name}: {q.title}. {q.stem}",
            },
            "participant_id": {"Description": "BIDS participant (the client's pseudonymous id)"},
            "date": {"Description": "The day the questionnaire was answered (YYYY-MM-DD)"},
        }
        for k, text in enumerate(q.items):
            sidecar[f"{key}_{k + 1}"] = {"Description": text, "Levels": levels}
        sidecar[f"{key}_total"] = {
            "Description": f"Sum of the {q.n_items} items (0-{q.max_total})",
        }
        sidecar[f"{key}_severity"] = {
            "Description": "Severity band of the total",
            "Levels": {name: f"total {lo}-{hi}" for lo, hi, name in band_ranges(q)},
        }
        _write_json(path.with_suffix(".json"), sidecar)
        written.append(path)
    return written


def _read_tsv(path: Path, columns: list[str]) -> list[list[str]]:
    """The rows of an existing phenotype table (none if missing); its header must match."""
    if not path.exists():
        return []
    lines = fs.read_text(path, fs.MAX_SIDECAR_BYTES).splitlines()
    if not lines or lines[0].split("\t") != columns:
        raise SessionError(
            f"{path}: its columns are not nfb's {columns[0]}, {columns[1]}, ...; "
            "export into another dataset or remove the file"
        )
    return [line.split("\t") for line in lines[1:] if line.strip()]
