"""``convgrade export``: the grades of record (``OUT/grades.csv``) as the files Canvas, Moodle, a spreadsheet or nbgrader import.

Every export gives each assignment's ``score``, the grade of record: after the
late penalty (``autograder.grading.late``), 0 when missing or a bad submission,
and an empty cell when no grade was decided (not graded, a grader error) so an
import leaves the LMS's grade as it is. The student's identity comes from a
roster (``autograder.grading.lms.read_people``), else the course's id is all there is.

- **Canvas** (Grades > Import): the header ``Student, ID, SIS User ID, SIS Login
  ID, Section`` then a column per assignment, ``Title (id)``; the second row
  ``Points Possible``. Canvas matches a row to a student by ``ID`` (its user id;
  else the SIS ids) and a column to an assignment by the id in parentheses at the
  end of its header, else by its title (a new title makes a new assignment); it
  skips the ``Points Possible`` row and ignores the other columns.
- **Moodle** (Grade administration > Import > CSV file): an identity column the
  instructor maps under "Identify user by" (``Email address``, ``ID number`` or
  ``Username``), a column per assignment to map to a grade item, and with
  ``feedback`` a ``Feedback for <assignment>`` column each, to map to its feedback.
- **csv**: one row per student, a column per assignment and ``total``, the
  weighted percentage the terminal table shows (``table.weighted_percent``).
- **nbgrader**: the gradebook, through ``nbgrader_gradebook.record_grades``.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.grading.lms import Person
from autograder.grading.results import GRADES_CSV
from autograder.grading.table import weighted_percent
from autograder.scores import GradeRow, Status, points_text

DESTINATIONS = ("canvas", "moodle", "csv", "nbgrader")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"
MOODLE_IDENTITY = {"email": "Email address", "idnumber": "ID number", "username": "Username"}  # as Moodle's own export heads them
DECIDED = {Status.GRADED, Status.LATE, Status.MISSING, Status.BAD_SUBMISSION}  # a grade of record; anything else is no grade yet


class ExportError(Exception):
    """The grades cannot be exported as asked; one sentence for people."""


@dataclass(frozen=True)
class Grades:
    """``grades.csv`` read back: its rows, and each assignment's weight."""

    rows: list[GradeRow]
    weights: dict[str, float]

    @property
    def assignments(self) -> list[str]:
        """The assignments graded, in order."""
        return sorted({row.assignment for row in self.rows})

    @property
    def students(self) -> list[str]:
        """The students graded, in order."""
        return sorted({row.student_id for row in self.rows})

    def cell(self, student: str, assignment: str) -> str:
        """The grade of record as a cell: the score after any penalty, "" when none is decided."""
        row = self.by_cell.get((student, assignment))
        return points_text(row.score) if row is not None and row.status in DECIDED else ""

    def points(self, assignment: str) -> str:
        """What an assignment is out of."""
        return points_text(max((row.max_score for row in self.rows if row.assignment == assignment), default=0.0))

    @functools.cached_property
    def by_cell(self) -> dict[tuple[str, str], GradeRow]:
        """Every row by (student, assignment)."""
        return {(row.student_id, row.assignment): row for row in self.rows}


def read_grades(out: Path) -> Grades:
    """``OUT/grades.csv``, as ``convgrade grade`` wrote it."""
    path = out / GRADES_CSV
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ExportError(f"{path} does not exist: grade the class first (convgrade grade ... --out {out})") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ExportError(f"{path} cannot be read: {exc}") from None
    try:
        rows = [_row(record) for record in records]
        weights = {record["assignment"]: float(record.get("weight") or 1) for record in records}
    except (KeyError, ValueError) as exc:
        raise ExportError(f"{path} is not a grades.csv convgrade wrote ({exc}): grade again") from None
    return Grades(rows, weights)


def _row(record: Mapping[str, str]) -> GradeRow:
    """One line of ``grades.csv`` as a ``GradeRow``."""
    raw = record.get("raw_score") or ""
    return GradeRow(record["student_id"], record["assignment"], float(record["score"]), float(record["max_score"]), record["status"],
                    float(raw) if raw else None, float(record.get("late_days") or 0), record.get("handed_in", ""), record.get("review", ""))  # fmt: skip


def _people_by_id(people: Sequence[Person]) -> dict[str, Person]:
    return {person.student_id: person for person in people}


def canvas_csv(grades: Grades, people: Sequence[Person] = (), canvas_ids: Mapping[str, str] = {}) -> tuple[str, list[str]]:  # noqa: B006 - read only
    """Canvas's gradebook import CSV; and what may keep Canvas from matching a row or column, one line each.

    ``canvas_ids``: assignment -> Canvas's assignment id (in its gradebook export's headers); an
    assignment without one is matched by title, ``Title`` being the assignment's name here.
    """
    known = _people_by_id(people)
    warnings = []
    header = [*CANVAS_IDENTITY, *(f"{a} ({canvas_ids[a]})" if a in canvas_ids else a for a in grades.assignments)]
    lines = [header, [POINTS_POSSIBLE, "", "", "", "", *(grades.points(a) for a in grades.assignments)]]
    for student in grades.students:
        person = known.get(student, Person(student))
        canvas_id = person.lms_id or (student if student.isdigit() else "")
        if not (canvas_id or person.sis_user_id or person.sis_login_id):
            warnings.append(f"{student}: no Canvas ID, SIS User ID or SIS Login ID in the roster: Canvas cannot match the row")
        lines.append([person.name or student, canvas_id, person.sis_user_id, person.sis_login_id, person.section,
                      *(grades.cell(student, a) for a in grades.assignments)])  # fmt: skip
    without = [a for a in grades.assignments if a not in canvas_ids]
    if without:
        warnings.append(f"no Canvas assignment id for {', '.join(without)}: Canvas matches these columns by title, or makes new assignments")
    return _csv(lines), warnings


def moodle_csv(grades: Grades, people: Sequence[Person], id_column: str = "email", feedback: bool = False) -> tuple[str, list[str]]:
    """Moodle's grade import CSV, users identified by ``id_column`` (email, idnumber or username); and the rows Moodle cannot match."""
    if id_column not in MOODLE_IDENTITY:
        raise ExportError(f"Moodle identifies users by {', '.join(MOODLE_IDENTITY)}, not {id_column!r}")
    known = _people_by_id(people)
    warnings = []
    header = [MOODLE_IDENTITY[id_column], "Full name"]
    for assignment in grades.assignments:
        header += [assignment, *([f"Feedback for {assignment}"] if feedback else [])]
    lines = [header]
    for student in grades.students:
        person = known.get(student, Person(student, username=student))
        if not person.get(id_column):
            warnings.append(f"{student}: no {id_column} in the roster: Moodle cannot match the row")
        line = [person.get(id_column), person.name or student]
        for assignment in grades.assignments:
            line += [grades.cell(student, assignment), *([feedback_line(grades.by_cell.get((student, assignment)))] if feedback else [])]
        lines.append(line)
    return _csv(lines), warnings


def feedback_line(row: GradeRow | None) -> str:
    """One line for the student about a grade: its status, the late penalty if any (never the review flags, which are the instructor's)."""
    if row is None:
        return ""
    if row.status == Status.LATE and row.raw_score is not None:
        return f"late by {row.late_days:g} days: {points_text(row.raw_score)} before the late penalty, {points_text(row.score)} after"
    if row.status in DECIDED:
        return f"{row.status}: {points_text(row.score)} of {points_text(row.max_score)}"
    return ""


def wide_csv(grades: Grades, people: Sequence[Person] = ()) -> str:
    """One row per student: their name, a column per assignment (after penalties) and the weighted ``total`` in percent."""
    known = _people_by_id(people)
    lines = [["student_id", "name", *grades.assignments, "total"], ["out of", "", *(grades.points(a) for a in grades.assignments), "100"]]
    for student in grades.students:
        total = weighted_percent(student, grades.assignments, grades.by_cell, grades.weights)
        lines.append([student, known[student].name if student in known else "", *(grades.cell(student, a) for a in grades.assignments), f"{total:.2f}"])
    return _csv(lines)


def _csv(lines: list[list[str]]) -> str:
    """Rows as CSV text (RFC 4180 quoting, CRLF as spreadsheets and both LMSs read)."""
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    return text.getvalue()


def export_text(to: str, out: Path, roster: Path | None, *, id_column: str, feedback: bool, canvas_ids: Sequence[str]) -> tuple[str, list[str], str]:
    """``convgrade export --to TO`` (canvas, moodle or csv) of ``OUT/grades.csv``: the file's text, its warnings, and one line saying what it holds.

    ``canvas_ids``: ``ASSIGNMENT=ID`` items, Canvas's id of each assignment.
    """
    from autograder.grading.lms import read_people
    from autograder.grading.submissions import SubmissionError

    if to not in DESTINATIONS:
        raise ExportError(f"--to is one of {', '.join(DESTINATIONS)}, not {to!r}")
    ids = dict(item.partition("=")[::2] for item in canvas_ids)
    if bad := [item for item in canvas_ids if not item.partition("=")[2].strip().isdigit()]:
        raise ExportError(f"--canvas-id takes ASSIGNMENT=ID, Canvas's number for the assignment, not {bad[0]!r}")
    grades = read_grades(out)
    try:
        people = read_people(roster) if roster else []
    except SubmissionError as exc:
        raise ExportError(str(exc)) from None
    if to == "canvas":
        text, warnings = canvas_csv(grades, people, ids)
    elif to == "moodle":
        text, warnings = moodle_csv(grades, people, id_column, feedback)
    else:
        text, warnings = wide_csv(grades, people), []
    return text, warnings, f"{len(grades.students)} students, {len(grades.assignments)} assignments, for {to}"
