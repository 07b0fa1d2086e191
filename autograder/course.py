"""The course as a whole: ``course.toml`` at the course root (optional). No torch, no pytest.

::

    [late]                  # what a late hand-in costs (default: policy = "none")
    policy = "per-day"      # "none", "cutoff" (zero once later than cutoff_days) or "per-day"
    percent_per_day = 10    # per-day: the percentage of the score lost per day late, each day begun counting
    max_percent = 50        # per-day: never more than this
    cutoff_days = 0         # cutoff: how late a hand-in may be before it scores zero
    grace_minutes = 5       # later than the due date by less than this is on time

Each assignment's due date is ``due`` in its ``assignment.toml`` (a TOML date-time with
its offset, ``due = 2026-12-08T23:59:00+01:00``), and its weight in the course total is
``weight`` (default 1). Extensions are a CSV given to ``convgrade grade --extensions``.
Penalties are worked out from the raw scores and hand-in times the markers keep, so
changing a deadline, the policy or an extension regrades no code.
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

COURSE = "course.toml"
POLICIES = ("none", "cutoff", "per-day")


class CourseError(Exception):
    """``course.toml`` or an extensions file is malformed; the message is for people."""


@dataclass(frozen=True)
class LatePolicy:
    """What a hand-in costs per day late."""

    policy: str = "none"
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    cutoff_days: float = 0.0
    grace_minutes: float = 0.0

    def late_days(self, handed_in: datetime, due: datetime) -> float:
        """How many days after ``due`` the hand-in came (0 when on time, grace included)."""
        late = handed_in - due
        if late <= timedelta(minutes=self.grace_minutes):
            return 0.0
        return late / timedelta(days=1)

    def penalty(self, late_days: float) -> float:
        """The share of the score lost (0 to 1) for a hand-in ``late_days`` days late."""
        if late_days <= 0 or self.policy == "none":
            return 0.0
        if self.policy == "cutoff":
            return 1.0 if late_days > self.cutoff_days else 0.0
        return min(self.max_percent, self.percent_per_day * math.ceil(late_days)) / 100


@dataclass(frozen=True)
class Course:
    """The course-wide settings: the late policy."""

    late: LatePolicy = field(default_factory=LatePolicy)

    @classmethod
    def load(cls, root: Path) -> Course:
        """``root/course.toml``, or the defaults without one."""
        path = Path(root) / COURSE
        if not path.is_file():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{path} is not valid TOML: {exc}.") from None
        late = data.get("late", {})
        if not isinstance(late, dict) or late.get("policy", "none") not in POLICIES:
            raise CourseError(f"{path}: late.policy is one of {', '.join(POLICIES)}.")
        numbers = {key: value for key, value in late.items() if key != "policy"}
        unknown = set(numbers) - {"percent_per_day", "max_percent", "cutoff_days", "grace_minutes"}
        if unknown or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in numbers.values()):
            raise CourseError(f"{path}: [late] takes policy and non-negative percent_per_day, max_percent, cutoff_days, grace_minutes.")
        return cls(late=LatePolicy(policy=late.get("policy", "none"), **{k: float(v) for k, v in numbers.items()}))


def aware(value: object, what: str) -> datetime:
    """A TOML date-time with its offset, as a ``datetime`` (``CourseError`` for a date-time without one)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CourseError(f"{what} must be a date-time with its offset, e.g. 2026-12-08T23:59:00+01:00, not {value!r}.")
    return value


def parse_time(text: str) -> datetime:
    """A hand-in time as nbgrader's ``timestamp.txt`` writes it (``2026-12-01 10:00:00.123456 UTC``) or ISO 8601."""
    text = text.strip()
    stamp, _, zone = text.rpartition(" ")
    if zone in ("UTC", "GMT", "Z"):
        text = f"{stamp}+00:00"
    elif zone[:1] in "+-" and zone[1:].isdigit() and len(zone) == 5:
        text = f"{stamp}{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CourseError(f"{text!r} is not a time (give an ISO 8601 date-time with its offset).") from None
    if moment.tzinfo is None:
        raise CourseError(f"{text!r} has no time zone: give its offset (or UTC).")
    return moment.astimezone(timezone.utc)


def _csv_rows(path: Path, what: str) -> list[dict[str, str]]:
    """The rows of a CSV with a header, by column name (``CourseError`` naming ``what`` when it cannot be read)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CourseError(f"the {what} {path} cannot be read: {exc}.") from None


def read_extensions(path: Path) -> dict[tuple[str, str], float]:
    """An extensions CSV (``student_id, assignment, days``; an empty assignment means all): days by (student, assignment or "")."""
    extensions = {}
    for number, row in enumerate(_csv_rows(path, "extensions"), start=2):
        try:
            key = (row["student_id"].strip(), (row.get("assignment") or "").strip())
            extensions[key] = float(row["days"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise CourseError(f"{path}:{number}: an extension is student_id, assignment (empty: all), days.") from None
    return extensions


def read_times(path: Path) -> dict[tuple[str, str], datetime]:
    """A hand-in times CSV (``student_id, assignment, time``): times by (student, assignment), over nbgrader's timestamps."""
    times = {}
    for number, row in enumerate(_csv_rows(path, "hand-in times"), start=2):
        try:
            times[(row["student_id"].strip(), row["assignment"].strip())] = parse_time(row["time"])
        except (KeyError, AttributeError):
            raise CourseError(f"{path}:{number}: a hand-in time is student_id, assignment, time.") from None
        except CourseError as exc:
            raise CourseError(f"{path}:{number}: {exc}") from None
    return times
