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
from pathlib import Path

import pytest

from autograder.assignment import CATEGORIES, DEFAULT_CATEGORY, Assignment, AssignmentError


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
    if complete:
        declared = add_up(items)
    elif assignment.rubric.declared is not None:
        declared = assignment.rubric.declared
    else:
        declared = declared_points(assignment.folder)
    factors = assignment.rubric.factors(declared)
    missing = sorted({category_of(item) for item in items} - set(factors))
    if missing:
        raise pytest.UsageError(
            f"{assignment.folder / 'assignment.toml'} declares no points of {', '.join(missing)}: run `convgrade release`"
        )
    return factors


class _Collector:
    """Adds up the declared points of a collect-only session."""

    declared: dict[str, float] | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.declared = {}
        for item in session.items:
            properties = dict(item.user_properties)
            if "convgrade_category" in properties:  # a graded check (the plugin marked it)
                category = properties["convgrade_category"]
                self.declared[category] = self.declared.get(category, 0.0) + properties["convgrade_declared"]


@functools.cache
def declared_points(folder: Path) -> dict[str, float]:
    """The points the checks of the assignment in ``folder`` declare per category, visible and hidden together."""
    from autograder.checks.context import CheckSession, Use

    assignment = Assignment.load(folder)
    tests = [str(path) for path in (assignment.visible_tests, assignment.hidden_tests) if path.is_dir()]
    if not tests:
        return {}
    collector = _Collector()
    args = [
        *tests, "--collect-only", "--quiet", f"--rootdir={assignment.folder}", "--import-mode=importlib",
        "-p", "no:cacheprovider", "--disable-plugin-autoload", "-p", "autograder.checks.plugin",
    ]  # fmt: skip
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main(args, plugins=[Use(CheckSession(complete=True)), collector])
    if collector.declared is None or code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise AssignmentError(f"the checks of {assignment.name} do not collect (pytest exit {int(code)}):\n{output.getvalue()[-1500:]}")
    return collector.declared
