"""The rubric applied to collected checks: what each check is worth.

A check declares its points (``@pytest.mark.points(2)``) and its category
(``@pytest.mark.category("errors")``, else ``values``); the assignment's
``Rubric`` turns declared points into points, category by category, from the
points declared over *all* the assignment's checks, visible and hidden. A session
that collects them all (a batch run, ``declared_points`` itself) adds them up; a
released copy carries them (``[rubric.declared]``); anything else collects them
once per process (``declared_points``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from pathlib import Path

import pytest

from autograder.assignment import CATEGORIES, DEFAULT_CATEGORY, HIDDEN_TESTS, Assignment, AssignmentError, find_course_root
from autograder.scores import Scoreboard, points_text


def category_of(item: pytest.Item) -> str:
    """The check's category: its ``category`` marker, else ``values``."""
    marker = item.get_closest_marker("category")
    category = str(marker.args[0]) if marker and marker.args else DEFAULT_CATEGORY
    if category not in CATEGORIES:
        raise pytest.UsageError(f"{item.nodeid}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    return category


def declared_of(item: pytest.Item) -> float:
    """The points the check declares (``points`` marker, 1 without one)."""
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


def add_up(items: list[pytest.Item]) -> dict[str, float]:
    """Declared points per category over ``items``."""
    totals: dict[str, float] = {}
    for item in items:
        category = category_of(item)
        totals[category] = totals.get(category, 0.0) + declared_of(item)
    return totals


def factors_for(assignment: Assignment, items: list[pytest.Item], *, complete: bool) -> dict[str, float]:
    """What one declared point of each category is worth, for ``assignment``'s collected ``items``."""
    factors = assignment.rubric.factors(add_up(items) if complete else declared_for(assignment))
    missing = sorted({category_of(item) for item in items} - set(factors))
    if missing:
        raise pytest.UsageError(
            f"{assignment.folder / 'assignment.toml'} declares no points of {', '.join(missing)}: run `convgrade release`"
        )
    return factors


def declared_for(assignment: Assignment) -> dict[str, float]:
    """The points all of the assignment's checks declare per category: the release's record, else collected once."""
    return assignment.rubric.declared if assignment.rubric.declared is not None else declared_points(assignment.folder)


def hidden_tests_of(assignment: Assignment) -> Path:
    """The assignment's hidden tests: beside it, else in the course's ``source/`` (a student's folder under ``nbgrader autograde``)."""
    if assignment.hidden_tests.is_dir():
        return assignment.hidden_tests
    root = find_course_root(assignment.folder)
    in_source = root / "source" / assignment.name / HIDDEN_TESTS if root is not None else assignment.hidden_tests
    return in_source if in_source.is_dir() and in_source.parent != assignment.folder else assignment.hidden_tests


class _Collector:
    """Keeps what the plugin says of every graded check of a collect-only session."""

    checks: list[dict] | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.checks = [
            {"nodeid": item.nodeid, **{key.removeprefix("convgrade_"): value for key, value in item.user_properties}}
            for item in session.items
            if any(key == "convgrade_category" for key, _ in item.user_properties)  # a graded check (the plugin marked it)
        ]


@functools.cache
def declared_points(folder: Path) -> dict[str, float]:
    """The points the checks of the assignment in ``folder`` declare per category, visible and hidden together."""
    return declared_points_of([folder])[Assignment.load(folder).name]


def declared_points_of(folders: list[Path]) -> dict[str, dict[str, float]]:
    """``declared_points`` of several assignments, by name, from one collection (a pytest session costs seconds)."""
    declared: dict[str, dict[str, float]] = {Assignment.load(folder).name: {} for folder in folders}
    for check in collect_checks(*folders):
        totals = declared[check["assignment"]]
        totals[check["category"]] = totals.get(check["category"], 0.0) + check["declared"]
    return declared


def collect_checks(folder: Path, *more: Path) -> list[dict]:
    """Every check of the assignments in ``folder`` (and ``more``), visible and hidden, collected in one session.

    Each check is a dict: nodeid, assignment, task, category, declared points, points, hidden. Node ids are
    relative to the assignment folder, or with several, to the folder holding them.
    """
    from autograder.checks.context import CheckSession, Use

    assignments = [Assignment.load(each) for each in (folder, *more)]
    tests = [str(path) for a in assignments for path in (a.visible_tests, hidden_tests_of(a)) if path.is_dir()]
    if not tests:
        return []
    rootdir = os.path.commonpath([a.folder for a in assignments]) if more else assignments[0].folder
    collector = _Collector()
    args = [
        *tests, "--collect-only", "--quiet", f"--rootdir={rootdir}", "--import-mode=importlib",
        "-p", "no:cacheprovider", "--disable-plugin-autoload", "-p", "autograder.checks.plugin",
        "-p", "no:unraisableexception",  # its clean-up runs gc.collect() five times: a third of a collection's time
    ]  # fmt: skip
    output, before = io.StringIO(), set(sys.modules)
    with contextlib.redirect_stdout(output):
        code = pytest.main(args, plugins=[Use(CheckSession(complete=True)), collector])
    # The test modules this collection imported go: a session that runs them later imports them afresh, its
    # Hypothesis settings applied as it chose (pytest's importlib mode would hand it these, decorated here).
    folders = tuple(str(Path(path).resolve()) for path in tests)
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(folders):
            del sys.modules[name]
    if collector.checks is None or code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        names = ", ".join(a.name for a in assignments)
        raise AssignmentError(f"the checks of {names} do not collect (pytest exit {int(code)}):\n{output.getvalue()[-1500:]}")
    return collector.checks


def hidden_summary(assignment: Assignment, board: Scoreboard) -> str | None:
    """``87 more points in hidden checks: values against PyTorch ... (60), errors for bad arguments (5)``.

    For a run of the visible checks alone (a student's self-check): what the
    checks graded later hold, by category, so the visible score is read as a part.
    """
    results = [result for result in board.results if result.assignment == assignment.name]
    if not results or any(result.hidden for result in results):
        return None
    declared = declared_for(assignment)
    factors = assignment.rubric.factors(declared)
    hidden = {category: declared[category] * factor for category, factor in factors.items()}
    for result in results:
        hidden[result.category] = hidden.get(result.category, 0.0) - result.max_points
    parts = [(category, points) for category, points in hidden.items() if points > 1e-6]
    if not parts:
        return None
    total = sum(points for _, points in parts)
    listed = ", ".join(f"{CATEGORIES[category]} ({points_text(points)})" for category, points in sorted(parts, key=lambda p: -p[1]))
    return f"{points_text(total)} more points in hidden checks, graded when you hand in: {listed}"
