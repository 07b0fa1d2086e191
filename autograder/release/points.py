"""Points declared once, in the checks: a notebook's graded cell is worth the checks it runs.

A check declares its points (``@pytest.mark.points(n)``), which the rubric scales
(``autograder.checks.rubric``). A graded cell runs checks by name
(``check("TestPad2d")``, ``check("TestPad2d", hidden=True)``) and returns the
points they earned, which nbgrader reads as the cell's partial credit: so the
cell is worth exactly the points of those checks. The release works that figure
out and writes it where nbgrader and the student read it, the cell's ``points``
metadata and the figure in its comment (``# Checks for pad2d (20 points)``), before
nbgrader's preprocessors run (its checksums and gradebook record the points). A
source notebook may leave both out; a figure it states must agree with the
checks, or the release stops, naming the notebook, the cell and both figures.
A graded cell that runs no check is graded by hand and keeps the points it states.
"""

from __future__ import annotations

import re
from typing import Any

from autograder.release import ReleaseError
from autograder.scores import points_text

POINTS = "convgrade_points"  # the key of nbconvert's resources carrying each graded cell's points to ``fill_points_step``
FIGURE = re.compile(r"\((\d+(?:\.\d*)?) points?\)")  # "(20 points)", "(1 point)", "(6.67 points)"
TOLERANCE = 0.005  # figures are written to the hundredth (``points_text``): closer than that, they agree


def cell_source(cell: dict) -> str:
    """A cell's source as one string (a list of lines in a notebook file, a string in nbformat's node)."""
    return "".join(cell.get("source", ""))


def graded_code_cells(notebook: dict) -> list[tuple[dict, dict]]:
    """Each nbgrader graded code cell of ``notebook``, with its nbgrader metadata."""
    cells = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade"):
            cells.append((cell, meta))
    return cells


def stated_points(cell: dict, meta: dict) -> list[tuple[str, float]]:
    """The figures a cell states: ``("metadata", 20.0)`` for its ``points``, ``("comment", 20.0)`` for its comment's."""
    stated = []
    if meta.get("points") is not None:
        try:
            stated.append(("metadata", float(meta["points"])))
        except (TypeError, ValueError):
            stated.append(("metadata", float("nan")))  # not a number: it cannot agree
    for line in cell_source(cell).splitlines():
        found = FIGURE.search(line) if line.lstrip().startswith("#") else None
        if found:
            stated.append(("comment", float(found.group(1))))
            break
    return stated


def refuse_other_figures(cell: dict, meta: dict, worth: float, where: str, calls: str) -> None:
    """Refuse (``ReleaseError``) a cell that states other points than ``worth``, those of the checks its ``calls`` run; ``where`` names it."""
    for place, figure in stated_points(cell, meta):
        if not abs(figure - worth) <= TOLERANCE:
            raise ReleaseError(
                f"{where} states {figure:g} points in its {place}, but the checks it runs ({calls}) are worth "
                f"{points_text(worth)}: correct the figure or leave it out (the release writes it)"
            )


def _figure(points: float) -> str:
    return f"({points_text(points)} point{'' if points_text(points) == '1' else 's'})"


def with_figure(source: str, points: float) -> str:
    """``source`` with its comment stating ``points``: the figure replaced, else added to a first comment line (else none)."""
    lines = source.split("\n")
    for number, line in enumerate(lines):
        if line.lstrip().startswith("#") and FIGURE.search(line):
            lines[number] = FIGURE.sub(_figure(points), line, count=1)
            return "\n".join(lines)
    first = lines[0]
    if first.startswith("#") and not first.startswith("###"):  # "### BEGIN HIDDEN TESTS" is nbgrader's, not the author's
        head, colon, tail = first.partition(":")
        lines[0] = f"{head.rstrip()} {_figure(points)}{colon}{tail}"
    return "\n".join(lines)


def fill_points(notebook: Any, points: dict[str, float]) -> None:
    """Write each graded cell's ``points`` (by ``grade_id``) into its nbgrader metadata and its comment, in place."""
    for cell, meta in graded_code_cells(notebook):
        worth = points.get(meta.get("grade_id"))
        if worth is None:
            continue
        meta["points"] = int(worth) if worth == int(worth) else worth
        cell["source"] = with_figure(cell_source(cell), worth)


def fill_points_step(nb: Any, resources: dict) -> tuple[Any, dict]:
    """An nbconvert preprocessor (a plain callable: no nbconvert import) filling the points ``resources[POINTS]`` carries."""
    fill_points(nb, resources.get(POINTS) or {})
    return nb, resources
