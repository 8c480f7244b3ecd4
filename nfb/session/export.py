"""Export a recorded session to the file formats of the EEG ecosystem.

- ``fif``: MNE's FIF (:meth:`mne.io.Raw.save`), EEG in volts, montage and annotations.
- ``edf``: EDF via :func:`mne.export.export_raw` (edfio), annotations as EDF annotations.
- ``brainflow``: all board rows in the board's row order via
  :meth:`brainflow.data_filter.DataFilter.write_file`, so that BrainFlow's playback-file board
  (``master_board`` = the layout's ``board_id``) streams it as if it were the board.
- ``bids``: the session added to a BIDS dataset (a folder), with nfb's frames and events as a
  derivative; see :mod:`nfb.session.bids`.

FIF, EDF and BIDS write the session's Raw (:attr:`~nfb.session.reader.RecordedSession.raw`),
which is on the session's timeline: each gap record's missing samples are inserted as zeros
(:func:`~nfb.session.format.insert_gaps`) under its ``BAD_disconnect`` or ``BAD_dropped``
annotation, so that an outage keeps its real duration and every annotation after it is at
its real time. The BrainFlow CSV holds the samples as received (the board's own stream, for
its playback board), with the board's timestamp row.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import fs
from .._logging import logger
from ..errors import NfbError, SessionError
from .store import RecordedSession, read_session

#: Export formats and the file extensions that imply them.
FORMATS = ("fif", "edf", "brainflow", "bids")
_EXTENSIONS = {
    ".fif": "fif",
    ".fif.gz": "fif",
    ".edf": "edf",
    ".csv": "brainflow",
}


def _infer_format(out: Path) -> str:
    name = out.name.lower()
    for ext, fmt in sorted(_EXTENSIONS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return fmt
    raise NfbError(
        f"cannot tell the export format from {out.name!r}: pass a format "
        f"({', '.join(FORMATS)}) or use an extension ({', '.join(_EXTENSIONS)})"
    )


def export_session(
    session: str | os.PathLike | RecordedSession,
    out: str | os.PathLike,
    fmt: str | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Export a session.

    Parameters
    ----------
    session : path-like | RecordedSession
        The session folder, or a session already read.
    out : path-like
        The output file; for ``bids``, the dataset root folder.
    fmt : ``"fif"`` | ``"edf"`` | ``"brainflow"`` | ``"bids"`` | None
        The format; ``None`` infers it from the extension of ``out`` (``.fif``, ``.fif.gz``,
        ``.edf``, ``.csv`` for BrainFlow); a given format must match the extension. ``bids``
        is never inferred.
    overwrite : bool
        Replace an existing ``out`` (for ``bids``: this session in the dataset).

    Returns
    -------
    out : Path
        The file written (for ``bids``, the EEG file; :func:`nfb.session.bids.export_bids`
        tells all).
    """
    out = Path(out).expanduser()
    if fmt is None:
        fmt = _infer_format(out)
    if fmt not in FORMATS:
        raise NfbError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if fmt == "bids":
        from .bids import export_bids

        return export_bids(session, out, overwrite=overwrite).eeg_file
    wanted = [ext for ext, f in _EXTENSIONS.items() if f == fmt]
    if not any(out.name.lower().endswith(ext) for ext in wanted):
        raise NfbError(f"--out {out.name}: a {fmt} file must end with {' or '.join(wanted)}")
    if not isinstance(session, RecordedSession):
        session = read_session(session)
    if out.exists() and not overwrite:
        raise NfbError(f"{out} already exists; use --overwrite to replace it")
    if out.is_dir():
        raise NfbError(f"{out} is a folder; give a file name")
    if not out.parent.is_dir():
        raise NfbError(f"cannot write {out}: folder {out.parent} does not exist")
    if session.n_samples == 0:
        raise SessionError(f"{session.path} has no samples to export")

    if fmt == "edf":
        _check_edf_range(session)
    # written under a hidden name created 0600 (the writers keep the mode of the file they
    # truncate) and renamed at the end: the data is never readable by others, and a failed
    # or killed export leaves no partial file and an earlier export intact
    tmp = out.with_name(f".nfb-tmp-{os.getpid()}-{out.name}")  # same ending: same format
    try:
        tmp.unlink(missing_ok=True)  # our own leftover: never a link to write through
        fd = fs.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fs.make_private(fd, tmp)
        os.close(fd)
        if fmt == "brainflow":
            _export_brainflow(session, tmp)
        elif fmt == "fif":
            session.raw.save(tmp, overwrite=True, verbose="error")
        else:
            import mne

            # each channel's own range (as BIDS does): one range for all misc channels
            # would give a 52 Hz gyroscope the 16-bit steps of a PPG's 50000 counts
            mne.export.export_raw(
                tmp,
                session.raw,
                fmt="edf",
                physical_range="channelwise",
                overwrite=True,
                verbose="error",
            )
        fs.replace(tmp, out)
    except OSError as err:
        raise NfbError(f"cannot write {out}: {err.strerror or err}") from None
    except ValueError as err:  # what the writer cannot hold (EDF's 8-character fields)
        msg = " ".join(str(err).split())[:200]
        raise SessionError(f"cannot export {session.path} to {fmt.upper()}: {msg}") from None
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("Exported %s to %s (%s)", session.path, out, fmt)
    return out


#: EDF holds the physical range (µV) in 8 characters: larger EEG values cannot be written.
EDF_MAX_UV = 9_999_999.0


def _check_edf_range(session: RecordedSession) -> None:
    """Refuse, in one line, EEG that EDF cannot hold (non-finite or beyond ±10 V)."""
    rows = [int(r) for r in session.layout.get("eeg_rows", [])]
    if not rows:
        return  # session.raw says what is wrong
    eeg = session.samples[rows]
    if not np.isfinite(eeg).all():
        raise SessionError(
            f"{session.path}: raw.f64 holds non-finite EEG samples (damaged?); EDF cannot "
            "store them: export to FIF instead"
        )
    peak = float(np.abs(eeg).max()) if eeg.size else 0.0
    if peak > EDF_MAX_UV:
        raise SessionError(
            f"{session.path}: EEG reaches {peak:.3g} µV (damaged raw.f64?), beyond the "
            f"{EDF_MAX_UV:.0f} µV EDF can hold: export to FIF instead"
        )


def _export_brainflow(session: RecordedSession, out: Path) -> None:
    from brainflow.board_shim import BoardShim
    from brainflow.data_filter import DataFilter
    from brainflow.exit_codes import BrainFlowError

    board_id = session.layout.get("board_id")
    if isinstance(board_id, bool) or not isinstance(board_id, int):
        raise NfbError(
            f"{session.path} cannot be exported for BrainFlow: its layout has no BrainFlow "
            f"board_id (got {board_id!r})"
        )
    try:
        n_rows = int(BoardShim.get_board_descr(board_id)["num_rows"])
    except BrainFlowError:
        raise NfbError(
            f"{session.path} cannot be exported for BrainFlow: board_id {board_id} is not a "
            "BrainFlow board"
        ) from None
    samples = session.samples
    if samples.shape[0] != n_rows:
        raise NfbError(
            f"{session.path} cannot be exported for BrainFlow: {samples.shape[0]} rows recorded, "
            f"board {board_id} has {n_rows}"
        )
    try:
        DataFilter.write_file(np.ascontiguousarray(samples), os.fspath(out), "w")
    except BrainFlowError as err:
        raise NfbError(f"cannot write {out}: {err}") from None
