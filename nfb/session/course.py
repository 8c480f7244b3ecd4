"""A client's course of treatment: the plan and the outcome questionnaires, in the store.

One file per client, ``<store>/<client id>/course.json`` (0600 in the 0700 client folder,
beside the session folders, by pseudonymous id only), owned by this module::

    {"format": "nfb-course", "version": 1, "client": "c7kq2mzx4",
     "plan": {"protocol": "smr-up", "sessions": 20, "every": 5,
              "measures": ["gad7", "phq9"], "set": "2025-01-06T09:00:00+00:00"},
     "outcomes": [{"measure": "gad7", "date": "2025-01-06", "items": [3, 3, 2, 3, 2, 2, 3],
                   "note": "", "recorded": "2025-01-06T09:01:12+00:00"}, ...]}

Written atomically through :mod:`nfb.fs` under a lock (a console and a terminal may add
answers at once), read with a size cap and never through a link; a damaged file is one
line naming the file and the field. Totals and bands are computed on read
(:mod:`nfb.questionnaires`), never trusted from the file.

Where a client is in the course (:func:`progress`): the sessions recorded so far, the next
session's number, and which questionnaires are due. A questionnaire dated D belongs to that
day's visit and is answered before that day's session; it is due at intake (none yet), when
``every`` sessions have been recorded since the latest one, and once the planned sessions are
done if a session came after the latest one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .. import fs
from ..errors import ConfigError, SessionError, one_line
from ..questionnaires import QUESTIONNAIRES, Questionnaire, questionnaire, severity
from .clients import validate_client
from .format import write_json_atomic

COURSE_FILE = "course.json"
COURSE_FORMAT = "nfb-course"
#: Size cap of ``course.json`` (a 40-session course with two questionnaires is a few kB).
MAX_COURSE_BYTES = 4 * 2**20
#: Most outcome records one client may hold.
MAX_RECORDS = 10_000
#: Longest note kept with a questionnaire (characters).
MAX_NOTE = 2000
#: Seconds a writer waits for another nfb holding the file.
LOCK_TIMEOUT_S = 10.0
#: Largest planned course (sessions) and questionnaire interval.
MAX_PLANNED = 500


@dataclass(frozen=True)
class Outcome:
    """One answered questionnaire.

    Attributes
    ----------
    measure : str
        ``gad7`` or ``phq9``.
    date : datetime.date
        The day it was answered.
    items : tuple of int
        The answers, 0–3 each, in item order.
    note : str
        The practitioner's note (may be empty; never exported).
    recorded : str
        When it was entered (ISO 8601 UTC).
    """

    measure: str
    date: date
    items: tuple[int, ...]
    note: str = ""
    recorded: str = ""

    @property
    def questionnaire(self) -> Questionnaire:
        """The :class:`~nfb.questionnaires.Questionnaire` answered."""
        return QUESTIONNAIRES[self.measure]

    @property
    def total(self) -> int:
        """The total score."""
        return sum(self.items)

    @property
    def severity(self) -> str:
        """The severity band of the total."""
        return severity(self.questionnaire, self.total)

    def to_dict(self) -> dict[str, Any]:
        """The record as stored."""
        return {
            "measure": self.measure,
            "date": self.date.isoformat(),
            "items": list(self.items),
            "note": self.note,
            "recorded": self.recorded,
        }


@dataclass(frozen=True)
class Plan:
    """A course plan.

    Attributes
    ----------
    protocol : str
        The protocol preset (or its name) the course trains with.
    sessions : int
        The planned number of sessions.
    every : int
        A questionnaire every this many sessions.
    measures : tuple of str
        The questionnaires given (``gad7``, ``phq9``).
    """

    protocol: str
    sessions: int
    every: int
    measures: tuple[str, ...] = ("gad7",)
    set: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The plan as stored."""
        return {
            "protocol": self.protocol,
            "sessions": self.sessions,
            "every": self.every,
            "measures": list(self.measures),
            "set": self.set,
        }


@dataclass
class Course:
    """What ``course.json`` holds: the plan (if set) and the outcomes, oldest first."""

    client: str
    plan: Plan | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, measure: str) -> list[Outcome]:
        """The outcomes of one questionnaire, oldest first."""
        return [o for o in self.outcomes if o.measure == measure]


# ------------------------------------------------------------------------------ validation
def parse_items(text: str | list | tuple, measure: str, *, arg: str | None = None) -> list[int]:
    """The answers of a questionnaire from ``3,3,2,...`` (or a list), validated.

    Raises
    ------
    ConfigError
        Not the questionnaire's number of items, or an item that is not 0–3; the message
        names ``arg`` (default ``--<measure>``).
    """
    q = questionnaire(measure)
    arg = arg or f"--{q.key}"
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    if len(parts) != q.n_items:
        raise ConfigError(
            f"{arg}: the {q.name} has {q.n_items} items, got {len(parts)}; give "
            f"{q.n_items} answers 0-3 separated by commas, e.g. {','.join(['1'] * q.n_items)}"
        )
    items = []
    for k, part in enumerate(parts, 1):
        value = _answer(part)
        if value is None:
            raise ConfigError(f"{arg}: item {k} must be 0, 1, 2 or 3, got {str(part)[:20]!r}")
        items.append(value)
    return items


def _answer(part: Any) -> int | None:
    if isinstance(part, bool):
        return None
    if isinstance(part, int):
        return part if 0 <= part <= 3 else None
    if isinstance(part, str) and part in ("0", "1", "2", "3"):
        return int(part)
    return None


def parse_date(text: str | None, *, arg: str = "--date", today: date | None = None) -> date:
    """A questionnaire's date from ``YYYY-MM-DD`` (default today): a real day, not ahead.

    Raises
    ------
    ConfigError
        Not a real ``YYYY-MM-DD`` date, or a date after today.
    """
    today = today or date.today()
    if text is None or text == "":
        return today
    try:
        if len(text) != 10:
            raise ValueError
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{arg}: {str(text)[:40]!r} is not a date; use YYYY-MM-DD, e.g. {today.isoformat()}"
        ) from None
    if day > today:
        raise ConfigError(f"{arg}: {day.isoformat()} is in the future (today is {today})")
    return day


def parse_measures(text: str | list | tuple, *, arg: str = "--measures") -> tuple[str, ...]:
    """``gad7,phq9`` as keys; an unknown one is one line naming ``arg``."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    out = []
    for part in parts:
        try:
            key = questionnaire(str(part)).key
        except KeyError:
            raise ConfigError(
                f"{arg}: unknown questionnaire {str(part)[:20]!r}; allowed: "
                f"{', '.join(QUESTIONNAIRES)}"
            ) from None
        if key not in out:
            out.append(key)
    if not out:
        raise ConfigError(f"{arg}: name at least one of {', '.join(QUESTIONNAIRES)}")
    return tuple(out)


def make_plan(
    protocol: str, sessions: int, every: int, measures: str | tuple[str, ...] = ("gad7",)
) -> Plan:
    """A validated :class:`Plan`.

    Raises
    ------
    ConfigError
        An empty protocol, a session count or interval outside 1–500, or an unknown
        questionnaire.
    """
    if not isinstance(protocol, str) or not protocol.strip() or len(protocol) > 200:
        raise ConfigError("--protocol: a protocol name is needed (e.g. smr-up)")
    for arg, value in (("--sessions", sessions), ("--every", every)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PLANNED:
            raise ConfigError(f"{arg}: a whole number 1-{MAX_PLANNED} is needed, got {value!r}")
    if every > sessions:
        raise ConfigError(f"--every {every}: more than the {sessions} planned sessions")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Plan(protocol.strip(), sessions, every, parse_measures(measures), now)


# ---------------------------------------------------------------------------------- reading
def course_path(sessions_dir: str | os.PathLike, client_id: str) -> Path:
    """``<store>/<client id>/course.json``."""
    return Path(sessions_dir) / validate_client(client_id) / COURSE_FILE


def read_course(sessions_dir: str | os.PathLike, client_id: str) -> Course:
    """The plan and outcomes of a client (empty if none were recorded).

    Raises
    ------
    SessionError
        The file is not a regular file, too large, not JSON, or a field is malformed (one
        line naming the file and the field).
    """
    path = course_path(sessions_dir, client_id)
    try:
        data = fs.read_json(path, MAX_COURSE_BYTES)
    except FileNotFoundError:
        return Course(client_id)
    except ValueError as err:
        raise SessionError(f"{path} is corrupted (not JSON: {one_line(err)})") from None
    except OSError as err:
        raise SessionError(f"{path} is refused: {err.strerror or err}") from None
    return _parse(data, path, client_id)


def _parse(data: Any, path: Path, client_id: str) -> Course:
    def bad(where: str, why: str) -> SessionError:
        return SessionError(f"{path}: field '{where}' {why}")

    if not isinstance(data, dict) or data.get("format") != COURSE_FORMAT:
        raise SessionError(f"{path} is not an nfb course file (format must be {COURSE_FORMAT!r})")
    if data.get("client") not in (None, client_id):
        raise bad("client", f"is {str(data.get('client'))[:40]!r}, not {client_id!r}")
    course = Course(client_id)
    plan = data.get("plan")
    if plan is not None:
        if not isinstance(plan, dict):
            raise bad("plan", "must be an object")
        try:
            course.plan = make_plan(
                plan.get("protocol"),
                plan.get("sessions"),
                plan.get("every"),
                tuple(plan.get("measures") or ("gad7",)),
            )
        except (ConfigError, TypeError) as err:
            raise bad("plan", f"is invalid ({one_line(err).lstrip('-')})") from None
        course.plan = Plan(**{**course.plan.__dict__, "set": str(plan.get("set") or "")})
    records = data.get("outcomes", [])
    if not isinstance(records, list):
        raise bad("outcomes", "must be a list")
    if len(records) > MAX_RECORDS:
        raise bad("outcomes", f"holds more than {MAX_RECORDS} records")
    for k, rec in enumerate(records):
        where = f"outcomes[{k}]"
        if not isinstance(rec, dict):
            raise bad(where, "must be an object")
        measure = rec.get("measure")
        if measure not in QUESTIONNAIRES:
            raise bad(f"{where}.measure", f"must be one of {', '.join(QUESTIONNAIRES)}")
        try:
            items = parse_items(rec.get("items") or [], measure, arg=f"{where}.items")
            day = date.fromisoformat(str(rec.get("date")))
        except ConfigError as err:
            raise SessionError(f"{path}: field {one_line(err)}") from None
        except ValueError:
            raise bad(f"{where}.date", "must be a YYYY-MM-DD date") from None
        note = rec.get("note") or ""
        if not isinstance(note, str):
            raise bad(f"{where}.note", "must be text")
        course.outcomes.append(
            Outcome(measure, day, tuple(items), note[:MAX_NOTE], str(rec.get("recorded") or ""))
        )
    course.outcomes.sort(key=lambda o: (o.date, o.recorded))
    return course


# ---------------------------------------------------------------------------------- writing
@contextmanager
def _locked(client_dir: Path) -> Iterator[None]:
    lock_file = client_dir / f".{COURSE_FILE}.lock"
    try:
        held = fs.lock(lock_file, create=True, flags=os.O_RDWR, timeout=LOCK_TIMEOUT_S)
    except fs.LockBusy:
        raise SessionError(
            f"{lock_file} is held by another nfb for over {LOCK_TIMEOUT_S:g} s; try again"
        ) from None
    except OSError as err:
        raise SessionError(f"cannot lock {lock_file}: {err.strerror or err}") from None
    with held:
        yield


def _client_dir(sessions_dir: str | os.PathLike, client_id: str) -> Path:
    root = Path(sessions_dir)
    client_dir = root / validate_client(client_id)
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fs.mkdir_private(client_dir, exist_ok=True)
    except OSError as err:
        raise SessionError(f"cannot create {client_dir}: {err.strerror or err}") from None
    return client_dir


def _update(sessions_dir: str | os.PathLike, client_id: str, change) -> Course:
    client_dir = _client_dir(sessions_dir, client_id)
    with _locked(client_dir):
        course = read_course(sessions_dir, client_id)
        change(course)
        data = {
            "format": COURSE_FORMAT,
            "version": 1,
            "client": client_id,
            "plan": course.plan.to_dict() if course.plan else None,
            "outcomes": [o.to_dict() for o in course.outcomes],
        }
        path = client_dir / COURSE_FILE
        try:
            write_json_atomic(path, data)
        except OSError as err:
            raise SessionError(f"cannot write {path}: {err.strerror or err}") from None
    return course


def add_outcome(
    sessions_dir: str | os.PathLike,
    client_id: str,
    measure: str,
    items: str | list[int] | tuple[int, ...],
    day: str | date | None = None,
    note: str = "",
) -> Outcome:
    """Validate and record one answered questionnaire.

    Parameters
    ----------
    sessions_dir : path-like
        The store.
    client_id : str
        The pseudonymous client id (resolve names at the edge).
    measure : str
        ``gad7`` or ``phq9``.
    items : str | sequence of int
        The answers, ``"3,3,2,..."`` or a list.
    day : str | date | None
        ``YYYY-MM-DD`` (default today); never in the future.
    note : str
        An optional note (at most :data:`MAX_NOTE` characters, one line shown).

    Returns
    -------
    outcome : Outcome

    Raises
    ------
    ConfigError
        Malformed answers, date or note (one line naming the argument).
    SessionError
        The course file cannot be read or written.
    """
    try:
        key = questionnaire(measure).key
    except KeyError:
        raise ConfigError(
            f"unknown questionnaire {measure!r}; allowed: {', '.join(QUESTIONNAIRES)}"
        ) from None
    values = parse_items(items, key)
    when = day if isinstance(day, date) else parse_date(day)
    if when > date.today():
        raise ConfigError(f"--date: {when.isoformat()} is in the future")
    note = note or ""
    if len(note) > MAX_NOTE:
        raise ConfigError(f"--note: at most {MAX_NOTE} characters, got {len(note)}")
    if not all(c.isprintable() or c in "\n\t" for c in note):
        raise ConfigError("--note: control characters are not allowed")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    outcome = Outcome(key, when, tuple(values), note, now)

    def change(course: Course) -> None:
        if len(course.outcomes) >= MAX_RECORDS:
            raise SessionError(f"client {client_id} already has {MAX_RECORDS} outcome records")
        course.outcomes.append(outcome)
        course.outcomes.sort(key=lambda o: (o.date, o.recorded))

    _update(sessions_dir, client_id, change)
    return outcome


def set_plan(sessions_dir: str | os.PathLike, client_id: str, plan: Plan) -> Plan:
    """Set (or replace) a client's course plan."""

    def change(course: Course) -> None:
        course.plan = plan

    _update(sessions_dir, client_id, change)
    return plan


# --------------------------------------------------------------------------------- progress
def session_day(start_time: Any) -> date | None:
    """The local calendar day a session started on (``None`` if unknown)."""
    try:
        when = datetime.fromisoformat(str(start_time))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone().date()


def latest_before(outcomes: list[Outcome], measure: str, day: date | None) -> Outcome | None:
    """The latest ``measure`` answered on or before ``day`` (that day's visit counts)."""
    if day is None:
        return None
    found = None
    for o in outcomes:
        if o.measure == measure and o.date <= day:
            found = o  # oldest first: the last match is the latest
    return found


@dataclass(frozen=True)
class Progress:
    """Where a client is in the course.

    Attributes
    ----------
    done : int
        Sessions recorded so far.
    next_session : int
        The number of the next session (``done + 1``).
    planned : int | None
        The planned number of sessions (``None``: no plan).
    due : tuple of str
        The questionnaires due now (keys).
    """

    done: int
    next_session: int
    planned: int | None
    due: tuple[str, ...]

    @property
    def text(self) -> str:
        """``"session 7 of 20, GAD-7 due"`` (what the console shows)."""
        if self.planned is None:
            head = f"session {self.next_session} (no course plan)"
        elif self.done >= self.planned:
            head = f"course complete: {self.done} of {self.planned} sessions"
        else:
            head = f"session {self.next_session} of {self.planned}"
        if self.due:
            names = " and ".join(QUESTIONNAIRES[k].name for k in self.due)
            head += f", {names} due"
        return head


def progress(course: Course, session_days: list[date | None]) -> Progress:
    """Where a client is, from the course and the days of the sessions recorded so far.

    Parameters
    ----------
    course : Course
        The client's plan and outcomes.
    session_days : list of date | None
        The day of each session recorded (any order).

    Returns
    -------
    progress : Progress
    """
    days = [d for d in session_days if d is not None]
    done = len(session_days)
    plan = course.plan
    due: list[str] = []
    if plan is not None:
        for key in plan.measures:
            latest = course.of(key)[-1] if course.of(key) else None
            if latest is None:
                due.append(key)  # intake
                continue
            since = sum(1 for d in days if d >= latest.date)
            if since >= plan.every or (done >= plan.sessions and since > 0):
                due.append(key)
    return Progress(done, done + 1, plan.sessions if plan else None, tuple(due))


def client_progress(sessions_dir: str | os.PathLike, client_id: str) -> Progress:
    """:func:`progress` of a client of the store (its sessions counted from the store)."""
    from .store import list_sessions

    course = read_course(sessions_dir, client_id)
    root = Path(sessions_dir)
    sessions = list_sessions(root, client=client_id) if (root / client_id).is_dir() else []
    return progress(course, [session_day(s["start_time"]) for s in sessions])
