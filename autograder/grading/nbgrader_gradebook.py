"""convgrade's grades in nbgrader's gradebook (its database): ``convgrade grade SUBMITTED --gradebook URL``.

nbgrader keeps a score per graded notebook cell. An assignment's notebook runs
its checks from graded cells, ``check("TestPad2d")`` or ``check(..., hidden=True)``,
and each cell is worth the points of the checks it runs. So a cell's score is
the sum of the points its checks earned in ``convgrade grade``, read from the
submission's ``results.json`` (each test there names its pytest check in
``extra_data``), and nbgrader's total for the submission is convgrade's score.

The pipeline, after ``convgrade grade`` wrote ``OUT/grades.csv`` and the results:

1. each assignment graded, and its notebooks, are put in the gradebook exactly
   as ``nbgrader generate_assignment`` records them (its own ``SaveCells``
   preprocessor, with the course's ``nbgrader_config.py``), so a later
   ``nbgrader autograde`` finds them too;
2. every student of ``grades.csv`` is added; every graded submission gets its
   ``SubmittedAssignment`` (created once, then updated in place) and each
   graded cell its ``auto_score``; a manual score a grader gave is kept;
   a student with no submission gets none (nbgrader's export shows 0);
3. nbgrader's total for each submission is compared with convgrade's; any
   difference, or a check no cell runs, is reported.

Everything goes through nbgrader's ``Gradebook`` API, so ``nbgrader export``
and the formgrader see the same records as after ``nbgrader autograde``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.assignment import Assignment, AssignmentError
from autograder.grading.results import GRADES_CSV, RESULTS_JSON
from autograder.release import STUDENT_RELEASE, ReleaseError
from autograder.release.notebooks import NOTEBOOK, CheckCall, NbgraderNotebooks, check_calls, import_jsonschema_without_iri_formats, runs
from autograder.scores import Status, total

RECORDED_STATUSES = {Status.GRADED, Status.LATE, Status.BAD_SUBMISSION}  # something was handed in; when missing only the student is added


class GradebookError(Exception):
    """The gradebook cannot be opened or the grades cannot be recorded; one sentence for people."""


def database_url(value: str) -> str:
    """A SQLAlchemy URL as given (``sqlite:///...``, ``postgresql://...``), or a path to a SQLite file made into one."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _shown(url: str) -> str:
    """The URL for a message, password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


def _reason(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement and help link."""
    if isinstance(exc, ModuleNotFoundError):
        return f"its database driver {exc.name} is not installed"
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return text.split(" (Background on this error")[0].rstrip(".")


@contextlib.contextmanager
def _alembic_head_in_process() -> Iterator[None]:
    """Let nbgrader read its schema's revision in this process when it creates a gradebook.

    nbgrader runs the ``alembic heads`` command for it (4 s, and only if
    ``alembic`` is on PATH); alembic's ``ScriptDirectory`` reads the same
    revision from nbgrader's migration scripts in milliseconds.
    """
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    original = nbgrader.api.get_alembic_version

    def head() -> str:
        try:
            return ScriptDirectory(ALEMBIC_DIR).get_current_head() or original()
        except Exception:  # noqa: BLE001 - several heads, or none: nbgrader's own way, with alembic on PATH
            here = str(Path(sys.executable).parent)
            if shutil.which("alembic") is None:
                os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")
            return original()

    nbgrader.api.get_alembic_version = head
    try:
        yield
    finally:
        nbgrader.api.get_alembic_version = original


@contextlib.contextmanager
def open_gradebook(url: str, course_id: str = "") -> Iterator[Any]:
    """nbgrader's ``Gradebook`` at ``url``, created if need be; a clear ``GradebookError`` when it cannot be opened."""
    import_jsonschema_without_iri_formats()
    from nbgrader.api import Gradebook

    try:
        with _alembic_head_in_process():
            gradebook = Gradebook(url, course_id)
    except Exception as exc:  # noqa: BLE001 - any driver's error: one sentence naming the URL
        raise GradebookError(f"cannot open the gradebook {_shown(url)}: {_reason(exc)}") from None
    try:
        yield gradebook
    finally:
        gradebook.close()


def students_of(url: str) -> list[str]:
    """The student ids nbgrader's gradebook at ``url`` lists (``convgrade grade --roster gradebook.db``)."""
    with open_gradebook(url) as gradebook:
        return sorted(student.id for student in gradebook.students)


# -- the notebooks' graded cells -------------------------------------------------


@dataclass(frozen=True)
class GradedCell:
    """A graded cell of an assignment's notebook, and the checks its ``check(...)`` calls run."""

    notebook: str
    grade_id: str
    max_score: float | None  # None: the source leaves it to the release, which writes the points of its checks
    calls: tuple[CheckCall, ...]


def graded_cells(assignment: Assignment) -> list[GradedCell]:
    """Every graded cell of the assignment's notebooks (``source/<a>/*.ipynb``), in order."""
    cells = []
    for path in sorted(assignment.folder.glob(f"*{NOTEBOOK}")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook.get("cells", []):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade"):
                continue
            source = "".join(cell.get("source", ""))
            try:
                calls = tuple(check_calls(source)) if cell.get("cell_type") == "code" else ()
            except ReleaseError as exc:
                raise GradebookError(f"{path}, cell {meta.get('grade_id')}: {exc}") from None
            stated = meta.get("points")
            cells.append(GradedCell(path.stem, meta["grade_id"], None if stated is None and calls else float(stated or 0), calls))
    return cells


# -- recording ---------------------------------------------------------------------


@dataclass
class Recorded:
    """What ``record_grades`` did, and what deserves the instructor's attention."""

    url: str
    students: int = 0
    submissions: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the end of ``convgrade grade``."""
        submissions = f"{self.submissions} submission{'' if self.submissions == 1 else 's'}"
        students = f"{self.students} student{'' if self.students == 1 else 's'}"
        return f"nbgrader gradebook {_shown(self.url)}: {submissions} of {students} recorded."


def _read_grades(out: Path) -> list[dict[str, str]]:
    path = Path(out) / GRADES_CSV
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        raise GradebookError(f"{path} does not exist: grade the class first") from None


def _results_tests(path: Path) -> list[dict[str, Any]]:
    try:
        tests = json.loads(path.read_text(encoding="utf-8"))["tests"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GradebookError(f"{path} cannot be read ({exc}): grade again with --regrade") from None
    if any("nodeid" not in (test.get("extra_data") or {}) for test in tests):
        raise GradebookError(f"{path} does not name its checks (an older convgrade wrote it): grade again with --regrade")
    return tests


def _points(value: float) -> str:
    return f"{value:g} point{'' if value == 1 else 's'}"


def cell_scores(cells: list[GradedCell], tests: list[dict[str, Any]], module: str) -> tuple[dict[tuple[str, str], float], list[str]]:
    """Each graded cell's score from the checks its calls run; and what does not add up, one line each."""
    scores: dict[tuple[str, str], float] = {}
    problems = []
    claimed: dict[str, list[str]] = {}
    for cell in cells:
        if not cell.calls:
            continue  # graded by hand in nbgrader's formgrader
        ran = [
            test for test in tests
            if any(runs(call, test["extra_data"]["nodeid"], bool(test["extra_data"].get("hidden")), module) for call in cell.calls)
        ]  # fmt: skip
        for test in ran:
            claimed.setdefault(test["extra_data"]["nodeid"], []).append(cell.grade_id)
        available = total(test["max_score"] for test in ran)
        worth = available if cell.max_score is None else cell.max_score
        if available != worth:
            problems.append(f"cell {cell.notebook}/{cell.grade_id} is worth {_points(worth)} but its checks are worth {available:g}")
        scores[(cell.notebook, cell.grade_id)] = min(total(test["score"] for test in ran), worth)
    for test in tests:
        nodeid = test["extra_data"]["nodeid"]
        cells_running = claimed.get(nodeid, [])
        if not cells_running:
            problems.append(f"no graded cell runs {nodeid} ({_points(test['max_score'])})")
        elif len(cells_running) > 1:
            problems.append(f"{nodeid} is run by {len(cells_running)} graded cells ({', '.join(cells_running)})")
    return scores, problems


def _put_assignment(url: str, assignment: Assignment, course_id: str, notebooks: NbgraderNotebooks) -> None:
    """The assignment and its notebooks in the gradebook, as ``nbgrader generate_assignment`` records them."""
    paths = sorted(assignment.folder.glob(f"*{NOTEBOOK}"))
    if not paths:
        raise GradebookError(f"{assignment.folder} has no notebook: nbgrader's gradebook keeps scores per notebook cell")
    with open_gradebook(url, course_id) as gradebook:
        record = gradebook.update_or_create_assignment(assignment.name)
        stale = {notebook.name for notebook in record.notebooks} - {path.stem for path in paths}
        if stale and record.submissions:
            raise GradebookError(f"the gradebook's {assignment.name} has notebooks {', '.join(sorted(stale))} that source/ no longer has, and submissions")
        for name in sorted(stale):
            gradebook.remove_notebook(name, assignment.name)
    for path in paths:
        try:
            notebooks.convert(STUDENT_RELEASE, path)  # nbgrader's SaveCells records the notebook, its cells and checksums
        except ReleaseError as exc:
            raise GradebookError(str(exc)) from None


def record_grades(url: str, root: Path, out: Path) -> Recorded:
    """Record the grades of ``OUT/grades.csv`` (a ``convgrade grade`` run) in nbgrader's gradebook at ``url``."""
    root, out = Path(root).resolve(), Path(out)
    rows = _read_grades(out)
    try:
        assignments = {name: Assignment.load(root / "source" / name) for name in sorted({row["assignment"] for row in rows})}
        notebooks = NbgraderNotebooks(root, db_url=url)
    except (AssignmentError, ReleaseError) as exc:
        raise GradebookError(str(exc)) from None
    cells = {name: graded_cells(assignment) for name, assignment in assignments.items()}
    course_id = notebooks.coursedir.course_id
    recorded = Recorded(url)

    from nbgrader.api import InvalidEntry, MissingEntry
    from sqlalchemy.exc import SAWarning, SQLAlchemyError

    try:
        with warnings.catch_warnings():
            # nbgrader's add_submission builds its rows in a way SQLAlchemy 2 warns about, harmlessly
            warnings.simplefilter("ignore", SAWarning)
            for assignment in assignments.values():
                _put_assignment(url, assignment, course_id, notebooks)
            _record_rows(url, course_id, out, rows, assignments, cells, recorded)
    except (SQLAlchemyError, InvalidEntry, MissingEntry) as exc:
        raise GradebookError(f"the gradebook {_shown(url)} refused the grades: {_reason(exc)}") from None
    return recorded


def _record_rows(url: str, course_id: str, out: Path, rows: list[dict[str, str]], assignments: dict[str, Assignment],
                 cells: dict[str, list[GradedCell]], recorded: Recorded) -> None:
    """Students, submissions and cell scores, one submission committed at a time."""
    problems: set[str] = set()
    with open_gradebook(url, course_id) as gradebook:
        for student in sorted({row["student_id"] for row in rows}):
            gradebook.update_or_create_student(student)
            recorded.students += 1
        for row in sorted(rows, key=lambda row: (row["assignment"], row["student_id"])):
            name, student, status = row["assignment"], row["student_id"], row["status"]
            if status not in RECORDED_STATUSES:
                if status != Status.MISSING:
                    recorded.warnings.append(f"{student}/{name} is not recorded: {status}")
                continue
            tests = _results_tests(out / student / name / RESULTS_JSON)
            scores, trouble = cell_scores(cells[name], tests, assignments[name].module)
            problems.update(f"{name}: {line}" for line in trouble)
            gradebook.update_or_create_submission(name, student)
            for (notebook, grade_id), score in scores.items():
                grade = gradebook.find_grade(grade_id, notebook, name, student)
                grade.auto_score = score
                grade.needs_manual_grade = grade.manual_score is not None  # as nbgrader's SaveAutoGrades does
            gradebook.db.commit()
            recorded.submissions += 1
            nbgrader_total = gradebook.find_submission(name, student).score
            raw = float(row.get("raw_score") or row["score"])  # nbgrader applies its own late penalty to the raw score
            if not math.isclose(nbgrader_total, raw, abs_tol=1e-6):
                recorded.warnings.append(f"{student}/{name}: nbgrader's total is {nbgrader_total:g}, convgrade's score {raw:g}")
    recorded.warnings[:0] = sorted(problems)
