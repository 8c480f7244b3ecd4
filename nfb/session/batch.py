"""Re-score a study: replay many sources in parallel and write one summary table.

Each source is replayed on its own (a session is independent of the others), so the work is
spread with joblib: local processes (``jobs``), or a Dask cluster through joblib's ``dask``
backend (``scheduler``: the address of a ``dask.distributed`` scheduler) for studies that
outgrow one machine. Results are collected in the order of the sources, and each replay is
exact, so the summary does not depend on how the work was spread.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._logging import logger
from ..errors import ConfigError, NfbError, SessionError, one_line
from .clients import validate_client
from .format import META_FILE
from .replay import replay
from .store import load_meta
from .summary import error_row, session_rows, write_summary_csv

_GLOB = re.compile(r"[*?\[]")


def expand_sources(patterns: Iterable[str | os.PathLike]) -> list[Path]:
    """The sources named by paths and glob patterns, in order, without duplicates.

    A session folder is one source; any other folder stands for every session folder below
    it (a session store, or one client's folder); a file is an EEG file or a BrainFlow CSV.

    Raises
    ------
    SessionError
        If a path does not exist or a pattern matches nothing.
    """
    out: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if _GLOB.search(text):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(text), recursive=True))]
            if not matches:
                raise SessionError(f"SOURCE {text!r} matches nothing")
        else:
            matches = [Path(text).expanduser()]
            if not matches[0].exists():
                raise SessionError(f"SOURCE {text} does not exist")
        for path in matches:
            if path.is_dir() and not (path / META_FILE).is_file():
                found = sorted(p.parent for p in path.rglob(META_FILE))
                if not found and not _GLOB.search(text):
                    raise SessionError(f"SOURCE {text} holds no session folders")
                out += found
            elif path.is_dir() or path.is_file():
                out.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in out))
    if not unique:
        raise SessionError("no sources to replay")
    return unique


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:64] or "recording"


#: Seconds to wait for a Dask scheduler to answer (distributed's default is 30).
DASK_CONNECT_TIMEOUT_S = 5.0


def max_jobs() -> int:
    """The most local replay processes ``--jobs`` may ask for: four per core."""
    return 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class BatchItem:
    """One replay of a batch: its source and the session folder it writes."""

    source: Path
    out: Path
    client: str
    #: Why this source cannot be replayed at all (it still gets its error row), else None.
    error: str | None = None


def plan_outputs(sources: list[Path], out_root: Path, client: str | None = None) -> list[BatchItem]:
    """Where each source's replay goes: ``<out_root>/<client>/<folder or file name>``.

    The output root is then a session store of its own (``nfb report --client`` reads it).
    """
    items, seen = [], {}
    for src in sources:
        if src.is_dir():
            try:
                meta = load_meta(src)
                who = client or str(meta.get("client") or "replay")
                name = src.name  # unique in its client's folder (session ids need not be)
            except SessionError as err:
                # a broken session is reported in the summary; it still needs a unique name
                logger.debug("%s", err)
                who, name = client or "replay", src.name
        else:
            who, name = client or "replay", src.stem
        error = None
        try:
            validate_client(who)
        except SessionError as err:
            if client is not None:
                raise  # --client: the user's own typo stops the batch before anything runs
            # a source's own bad client id: an error row for it, the others go on
            error, who = f"{src}: {err}", "replay"
        out = out_root / who / _slug(name)
        if out in seen:
            raise ConfigError(
                f"{seen[out]} and {src} would both be replayed into {out}; "
                "rename one, or replay them separately"
            )
        seen[out] = src
        items.append(BatchItem(src, out, who, error))
    return items


def run_batch(
    sources: Iterable[str | os.PathLike],
    out_root: str | os.PathLike,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    summary: str | os.PathLike | None = None,
    progress: bool | None = None,
    unblind: bool = False,
    client: str | None = None,
    **replay_options: Any,
) -> tuple[Path, list[dict[str, Any]]]:
    """Replay many sources into ``out_root`` and write the summary CSV.

    Parameters
    ----------
    sources : iterable of path-like or str
        Session folders, folders of sessions, EEG files, BrainFlow CSVs, glob patterns.
    out_root : path-like
        New folder (must not exist, or be empty) that receives one session folder per source.
    jobs : int
        Local worker processes (joblib's ``loky`` backend); 1 replays in this process.
    scheduler : str | None
        Address of a Dask scheduler (``tcp://host:8786``): the replays run on its workers
        through joblib's ``dask`` backend instead of local processes.
    summary : path-like | None
        The summary CSV (default ``<out_root>/summary.csv``).
    progress : bool | None
        Show a progress bar over sources (default: when stderr is a terminal).
    unblind : bool
        Fill the summary's ``sham`` column.
    client : str | None
        Client id of the outputs (default: each session's own; ``replay`` for files).
    **replay_options
        Passed to :func:`~nfb.session.replay.replay` (``protocol``, ``overrides``,
        ``device``, ``mains_hz``, ``sham_source``).

    Returns
    -------
    summary : Path
        The CSV written.
    rows : list of dict
        The summary rows (an ``error`` row for each source that failed).
    """
    import joblib

    from .replay import progress_bar

    if isinstance(jobs, bool) or not isinstance(jobs, int) or not (jobs >= 1 or jobs == -1):
        raise ConfigError(f"--jobs must be a whole number >= 1 (or -1 for all cores), got {jobs!r}")
    if jobs > max_jobs():
        raise ConfigError(
            f"--jobs {jobs}: at most {max_jobs()} on this machine ({os.cpu_count() or 1} cores; "
            "more processes than that only wait for each other)"
        )
    root = Path(out_root).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SessionError(f"--out {out_root} already exists and is not empty; choose a new folder")
    summary_path = (
        Path(summary).expanduser().resolve() if summary is not None else root / "summary.csv"
    )
    if summary is not None and summary_path.exists():
        raise SessionError(f"--summary {summary} already exists; choose a new file")
    if not summary_path.parent.is_dir() and summary_path.parent != root:
        raise ConfigError(f"--summary {summary}: folder {summary_path.parent} does not exist")
    items = plan_outputs(expand_sources(sources), root, client)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)  # an existing empty folder too: it receives session data
    options = {**replay_options, "unblind_summary": unblind}
    options = {k: v for k, v in options.items() if v is not None}
    bar = progress_bar(len(items), f"{len(items)} sources", progress, unit="session")
    task = joblib.delayed(replay_one)
    tasks = (task(item, options, root) for item in items)
    results: list[list[dict[str, Any]]] = []
    try:
        if scheduler is not None:
            from distributed import Client

            try:
                dask_client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError, TypeError) as err:
                raise ConfigError(
                    f"--dask {scheduler}: no scheduler answered within "
                    f"{DASK_CONNECT_TIMEOUT_S:g} s ({one_line(err)[:120]})"
                ) from None
            with dask_client, joblib.parallel_config(backend="dask"):
                logger.info("replaying %d sources on %s", len(items), dask_client.scheduler.address)
                for rows in joblib.Parallel(n_jobs=-1, return_as="generator")(tasks):
                    results.append(rows)
                    bar.update(1)
        elif jobs == 1:
            for item in items:
                results.append(replay_one(item, options, root))
                bar.update(1)
        else:
            for rows in joblib.Parallel(n_jobs=jobs, return_as="generator")(tasks):
                results.append(rows)
                bar.update(1)
    finally:
        bar.close()
    rows = [row for group in results for row in group]
    # a worker process's warnings do not reach this terminal: say here what matters most
    unscored = [
        group[0]["session_id"]
        for group in results
        if group and group[0]["status"] != "error" and len(group) == 1
    ]
    if unscored:
        logger.warning(
            "%d of %d sessions scored no training block (the script's baselines outlast them, "
            "e.g. %s): shorten the script with --set script.baseline_eyes_open=... and "
            "script.baseline_eyes_closed=...; `nfb replay` of one of them tells how much",
            len(unscored),
            len(results),
            unscored[0],
        )
    write_summary_csv(rows, summary_path)
    failed = sum(1 for r in rows if r["status"] == "error")
    logger.info("replayed %d sources (%d failed) -> %s", len(items), failed, summary_path)
    return summary_path, rows


def replay_one(item: BatchItem, options: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """Replay one source and return its summary rows (an error row if it failed).

    Runs in a worker process; everything it takes and returns is picklable.
    """
    options = dict(options)
    unblind = options.pop("unblind_summary", False)
    source = str(item.source)
    if item.error is not None:
        logger.warning("%s", item.error)
        return [error_row(source, item.error)]
    try:
        out = replay(item.source, item.out, progress=False, client=item.client, **options)
        rows = session_rows(out, source=source, unblind=unblind)
    except NfbError as err:
        logger.warning("%s: %s", item.source.name, err)
        return [error_row(source, str(err))]
    for row in rows:
        row["path"] = os.path.relpath(row["path"], root)
    return rows
