"""What grading writes: Gradescope's results.json, feedback for the student, the grades CSV.

Every file is written atomically (``autograder.atomic``): a crash or an error
while rendering leaves the previous file whole and never half a file.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from autograder.atomic import atomic_write_text
from autograder.scores import CheckResult, Scoreboard, points_text, total

GRADES_CSV = "grades.csv"
GRADES_COLUMNS = ("student_id", "assignment", "score", "max_score", "status", "raw_score", "late_days", "handed_in", "review", "weight")
REQUIRED_COLUMNS = GRADES_COLUMNS[:5]  # the others may be left out (empty)
RESULTS_JSON = "results.json"
FEEDBACK_MD = "feedback.md"
FEEDBACK_HTML = "feedback.html"
MAX_CHECK_TEXT = 6 * 1024  # characters of one check's explanation in results.json and the feedback (what it printed included)
MAX_REASON = 1024  # characters of one check's reason and case (a headline, in the feedback's table too)
HIDDEN_VISIBILITY = "after_published"  # Gradescope shows the test once grades are published
VISIBLE_VISIBILITY = "visible"
NAMED_MISTAKE = re.compile(r"; likely ([^:;\n]+)")  # how a failure's reason names a known mistake (autograder.compare)


class ResultsError(Exception):
    """A results file that cannot be read or rows that cannot be written; one sentence for people."""


# Gradescope's autograder results format:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format


def results_json(board: Scoreboard, *, execution_time: float, output: str = "", review: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The results of one submission as Gradescope's ``results.json`` object.

    ``review``: what the static scan flagged (``autograder.grading.review``), for
    instructors: ``extra_data["review"]``, the spec's place for data of the grader's own.
    """
    tests = [{**_gradescope_test(bounded(result)), "number": str(number)} for number, result in enumerate(board.results, start=1)]
    return {
        "score": total(test["score"] for test in tests),
        "execution_time": round(execution_time, 2),
        "output": output,
        "output_format": "text",
        "stdout_visibility": "hidden",  # the grader's own log is for instructors only
        "extra_data": {"review": [dict(flag) for flag in review]},
        "tests": tests,
    }


def capped(text: str, limit: int = MAX_CHECK_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how many more there were (a 1 MiB message from every check made 66 MB files)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[{len(text) - limit} more characters not shown]"


def bounded(result: CheckResult) -> CheckResult:
    """The check with its reason, case and explanation capped, as results.json and the feedback show it."""
    if len(result.reason) <= MAX_REASON and len(result.case) <= MAX_REASON and len(result.details) <= MAX_CHECK_TEXT:
        return result
    return replace(result, reason=capped(result.reason, MAX_REASON), case=capped(result.case, MAX_REASON), details=capped(result.details))


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
        "tags": [result.task, result.category],  # the function the check is about, and what it measures
        # which pytest check this is: how the nbgrader gradebook finds the notebook cell running it; the known mistakes its reason names
        "extra_data": {"nodeid": result.nodeid, "hidden": result.hidden, "mistakes": NAMED_MISTAKE.findall(result.reason)},
    }


def failure_text(result: CheckResult) -> str:
    """What a student may read about a check: nothing on a pass, the reason only for a hidden check."""
    if result.passed:
        return ""
    if result.hidden:  # its case, to reproduce it, but never its values or the student's own text
        return f"{result.reason}\n  case: {result.case}" if result.case else result.reason
    return result.details or result.reason


def results_json_text(board: Scoreboard, *, execution_time: float, output: str = "", review: Sequence[Mapping[str, Any]] = ()) -> str:
    """Gradescope's ``results.json`` for one submission, as the text written to the file."""
    data = results_json(board, execution_time=execution_time, output=output, review=review)
    # one test per line: readable, and written by json's C encoder (indent= would take its slow Python one)
    lines = ",\n".join(json.dumps(test, ensure_ascii=False) for test in data.pop("tests"))
    head = json.dumps(data, ensure_ascii=False)[:-1]
    return f'{head}, "tests": [\n{lines}\n]}}\n'


def write_results_json(path: Path, board: Scoreboard, *, execution_time: float, output: str = "", review: Sequence[Mapping[str, Any]] = ()) -> None:
    """Write Gradescope's ``results.json`` for one submission, atomically."""
    atomic_write_text(path, results_json_text(board, execution_time=execution_time, output=output, review=review))


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
def environment() -> jinja2.Environment:
    """Templates from the package; HTML templates autoescape everything they insert."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("autograder.grading", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # looked up at each use, so the filters stay those of this module even in a cached environment
    env.filters.update(points=lambda v: points_text(v), md_cell=lambda t: _md_cell(t), md_fence=lambda t: _md_fence(t))
    return env


def render_feedback(board: Scoreboard, *, student: str, assignment: str, title: str, note: str = "") -> dict[str, str]:
    """The feedback files for one submission, by file name, rendered but not written."""
    checks = [
        {"result": result, "name": f"{result.task}: {result.check}", "failure": failure_text(result)}
        for result in map(bounded, board.results)
    ]
    context = {
        "title": title,
        "note": note,  # what became of the hand-in, when it is not simply graded: first, before any check
        "student": student,
        "assignment": assignment,
        "score": board.score,
        "max_score": board.max_score,
        "checks": checks,
        "passed": board.passed,
        "failures": [check for check in checks if not check["result"].passed and not check["result"].follows],
        "follow_ons": [check for check in checks if not check["result"].passed and check["result"].follows],
    }
    env = environment()
    return {name: env.get_template(f"{name}.j2").render(context) for name in (FEEDBACK_MD, FEEDBACK_HTML)}


def write_feedback(folder: Path, board: Scoreboard, *, student: str, assignment: str, title: str, note: str = "") -> None:
    """Write ``feedback.md`` and ``feedback.html`` into ``folder``; both are rendered before either is written."""
    rendered = render_feedback(board, student=student, assignment=assignment, title=title, note=note)
    for name, text in rendered.items():
        atomic_write_text(Path(folder) / name, text)


def write_grades_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write the grades CSV (``GRADES_COLUMNS``), sorted by student and assignment, atomically."""
    rows = [{key: ("" if value is None else value) for key, value in row.items()} for row in rows]
    for row in rows:
        if not set(REQUIRED_COLUMNS) <= set(row) <= set(GRADES_COLUMNS):
            raise ResultsError(f"a grades row needs the columns {', '.join(REQUIRED_COLUMNS)} (and may have {', '.join(GRADES_COLUMNS[5:])}), not {', '.join(map(str, row))}.")
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=GRADES_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: (str(row["student_id"]), str(row["assignment"]))))
    atomic_write_text(path, buffer.getvalue())
