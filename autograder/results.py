"""What grading writes: Gradescope's results.json, feedback for the student, the grades CSV.

Every file is written atomically: to a temporary file in the same folder, synced, then
renamed over the old one, so a crash or an error while rendering leaves the previous
file whole and never half a file.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:  # the grader's parent process writes grades.csv without importing pytest or torch
    from autograder.plugin import CheckResult, Scoreboard

GRADES_COLUMNS = ("student_id", "assignment", "score", "max_score", "status")
GRADED = "graded"
FEEDBACK_MD = "feedback.md"
FEEDBACK_HTML = "feedback.html"
HIDDEN_VISIBILITY = "after_published"  # Gradescope shows the test once grades are published
VISIBLE_VISIBILITY = "visible"


class ResultsError(Exception):
    """A results file that cannot be read or rows that cannot be written; one sentence for people."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file, fsync, rename), making its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_of(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) all at once."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _mode_of(path: Path) -> int:
    """The permissions ``path`` has now, kept on rewrite; 0o644 for a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o644


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Gradescope's autograder results format:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format


def results_json(board: Scoreboard, *, execution_time: float, output: str = "") -> dict[str, Any]:
    """The results of one submission as Gradescope's ``results.json`` object."""
    tests = [_gradescope_test(result) for result in board.results]
    return {
        "score": _total(test["score"] for test in tests),
        "execution_time": round(execution_time, 2),
        "output": output,
        "output_format": "text",
        "stdout_visibility": "hidden",  # the grader's own log is for instructors only
        "tests": tests,
    }


def _gradescope_test(result: CheckResult) -> dict[str, Any]:
    """One check as a Gradescope test case; output and names are plain text, never HTML."""
    return {
        "name": f"{result.task}: {result.check}",
        "name_format": "text",
        "score": result.points,
        "max_score": result.max_points,
        "status": "passed" if result.passed else "failed",
        "output": failure_text(result),
        "output_format": "text",
        "visibility": HIDDEN_VISIBILITY if result.hidden else VISIBLE_VISIBILITY,
        # which pytest check this is: how the nbgrader gradebook finds the notebook cell running it
        "extra_data": {"nodeid": result.nodeid, "hidden": result.hidden},
    }


def failure_text(result: CheckResult) -> str:
    """What a student may read about a check: nothing on a pass, the reason only for a hidden check."""
    if result.passed:
        return ""
    if result.hidden:
        return result.reason
    return result.details or result.reason


def _total(points: Iterable[float]) -> float:
    """A sum of points without float noise (0.1 + 0.2 is 0.3)."""
    return round(math.fsum(points), 6)


def write_results_json(path: Path, board: Scoreboard, *, execution_time: float, output: str = "") -> None:
    """Write Gradescope's ``results.json`` for one submission, atomically."""
    data = results_json(board, execution_time=execution_time, output=output)
    # one test per line: readable, and written by json's C encoder (indent= would take its slow Python one)
    lines = ",\n".join(json.dumps(test, ensure_ascii=False) for test in data.pop("tests"))
    head = json.dumps(data, ensure_ascii=False)[:-1]
    atomic_write_text(path, f'{head}, "tests": [\n{lines}\n]}}\n')


def read_results_json(path: Path) -> dict[str, Any]:
    """Read a ``results.json`` written by ``write_results_json``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list) or "score" not in data:
        raise ResultsError(f"{path} is not a results file (it needs a score and a list of tests).")
    return data


def _points(value: float) -> str:
    """``2.0`` -> ``2``, ``1.5`` -> ``1.5``."""
    return f"{value:g}"


def _md_cell(text: str) -> str:
    """Text safe in one Markdown table cell: one line, no column breaks, no raw HTML."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return " ".join(escaped.split())


def _md_fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text`` (so it cannot close early)."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


@functools.cache
def _environment() -> jinja2.Environment:
    """Templates from the package; HTML templates autoescape everything they insert."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("autograder", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # looked up at each use, so the filters stay those of this module even in a cached environment
    env.filters.update(points=lambda v: _points(v), md_cell=lambda t: _md_cell(t), md_fence=lambda t: _md_fence(t))
    return env


def render_feedback(board: Scoreboard, *, student: str, assignment: str, title: str) -> dict[str, str]:
    """The feedback files for one submission, by file name, rendered but not written."""
    checks = [
        {"result": result, "name": f"{result.task}: {result.check}", "failure": failure_text(result)}
        for result in board.results
    ]
    context = {
        "title": title,
        "student": student,
        "assignment": assignment,
        "score": _total(result.points for result in board.results),
        "max_score": _total(result.max_points for result in board.results),
        "checks": checks,
        "failures": [check for check in checks if not check["result"].passed],
    }
    env = _environment()
    return {name: env.get_template(f"{name}.j2").render(context) for name in (FEEDBACK_MD, FEEDBACK_HTML)}


def write_feedback(folder: Path, board: Scoreboard, *, student: str, assignment: str, title: str) -> None:
    """Write ``feedback.md`` and ``feedback.html`` into ``folder``; both are rendered before either is written."""
    rendered = render_feedback(board, student=student, assignment=assignment, title=title)
    for name, text in rendered.items():
        atomic_write_text(Path(folder) / name, text)


def write_grades_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write the grades CSV (``GRADES_COLUMNS``), sorted by student and assignment, atomically."""
    rows = list(rows)
    for row in rows:
        if set(row) != set(GRADES_COLUMNS):
            raise ResultsError(f"a grades row needs exactly the columns {', '.join(GRADES_COLUMNS)}, not {', '.join(map(str, row))}.")
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=GRADES_COLUMNS)
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: (str(row["student_id"]), str(row["assignment"]))))
    atomic_write_text(path, buffer.getvalue())
