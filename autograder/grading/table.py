"""The class's grades as a terminal table: what ``convgrade grade`` prints at the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from autograder.scores import GradeRow, Status, points_text


def class_table(rows: Sequence[GradeRow], weights: Mapping[str, float] = {}) -> Table:  # noqa: B006 - read only
    """One row per student, a column per assignment (its number), the weighted total in percent; a * marks a note below.

    The total weighs each assignment's share of its points by its ``weight`` (1
    unless ``assignment.toml`` says otherwise), so every assignment counts as the
    course says, whatever its points.
    """
    assignments = sorted({row.assignment for row in rows})
    notes = sorted({(row.student_id, row.assignment, row.status) for row in rows if row.status != Status.GRADED})
    caption = "; ".join(f"*{student}/{assignment}: {status}" for student, assignment, status in notes) or None
    table = Table(title="grades", caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left", padding=(0, 1), pad_edge=False)
    table.add_column("student", no_wrap=True)
    for name in assignments:
        table.add_column(name.split("_")[0], justify="right", no_wrap=True)
    table.add_column("total", justify="right", style="bold", no_wrap=True)
    by_cell = {(row.student_id, row.assignment): row for row in rows}
    for student in sorted({row.student_id for row in rows}):
        cells = []
        for name in assignments:
            row = by_cell.get((student, name))
            cells.append("" if row is None else Text(f"{points_text(row.score)}/{points_text(row.max_score)}" + ("" if row.status == Status.GRADED else "*")))
        table.add_row(Text(student), *cells, f"{weighted_percent(student, assignments, by_cell, weights):.1f}%")
    return table


def weighted_percent(student: str, assignments: Sequence[str], by_cell: Mapping[tuple[str, str], GradeRow], weights: Mapping[str, float]) -> float:
    """The student's course total in percent: each assignment's share of its points, weighted (missing counts as 0)."""
    worth = {name: weights.get(name, 1.0) for name in assignments}
    earned = 0.0
    for name in assignments:
        row = by_cell.get((student, name))
        if row is not None and row.max_score > 0:
            earned += worth[name] * row.score / row.max_score
    return 100 * earned / sum(worth.values()) if sum(worth.values()) else 0.0
