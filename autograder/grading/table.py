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
    out_of = {name: {row.max_score for row in rows if row.assignment == name and row.max_score > 0} for name in assignments}
    every = set().union(*out_of.values())
    title = f"grades (out of {points_text(every.pop())})" if len(every) == 1 else "grades"
    table = Table(title=title, caption=_notes(rows, assignments), box=box.SIMPLE_HEAD, title_justify="left",
                  caption_justify="left", padding=(0, 1), pad_edge=False)  # fmt: skip
    table.add_column("student", no_wrap=True)
    for name in assignments:  # "03" over a column of scores out of the same points, else each "score/max"
        table.add_column(name.split("_")[0], justify="right", no_wrap=True)
    table.add_column("total", justify="right", style="bold", no_wrap=True)
    by_cell = {(row.student_id, row.assignment): row for row in rows}
    for student in sorted({row.student_id for row in rows}):
        cells = []
        for name in assignments:
            row = by_cell.get((student, name))
            shown = "" if row is None else points_text(row.score) if len(out_of[name]) <= 1 else f"{points_text(row.score)}/{points_text(row.max_score)}"
            cells.append(Text(shown + ("" if row is None or row.status == Status.GRADED else "*")))
        table.add_row(Text(student), *cells, f"{weighted_percent(student, assignments, by_cell, weights):.1f}%")
    return table


def _notes(rows: Sequence[GradeRow], assignments: Sequence[str]) -> str | None:
    """What the * marks: every hand-in that is not simply graded; students missing everything, or some, in short."""
    noted = [row for row in rows if row.status not in (Status.GRADED, Status.MISSING)]
    lines = [f"*{row.student_id}/{row.assignment}: {row.status}" for row in sorted(noted, key=lambda r: (r.student_id, r.assignment))]
    missing: dict[str, list[str]] = {}
    for row in rows:
        if row.status == Status.MISSING:
            missing.setdefault(row.student_id, []).append(row.assignment.split("_")[0])
    if missing:
        each = ", ".join(f"{student} ({'all' if len(names) == len(assignments) else ' '.join(sorted(names))})" for student, names in sorted(missing.items()))
        lines.append(f"*missing: {each}")
    flagged: dict[str, list[str]] = {}
    for row in rows:
        if row.review:
            flagged.setdefault(row.student_id, []).append(row.assignment.split("_")[0])
    if flagged:  # the static scan's flags (autograder.grading.review): a look for the instructor, never a score
        each = ", ".join(f"{student} ({' '.join(sorted(names))})" for student, names in sorted(flagged.items()))
        lines.append(f"flagged for review: {each}")
    return "; ".join(lines) or None


def weighted_percent(student: str, assignments: Sequence[str], by_cell: Mapping[tuple[str, str], GradeRow], weights: Mapping[str, float]) -> float:
    """The student's course total in percent: each assignment's share of its points, weighted (missing counts as 0)."""
    worth = {name: weights.get(name, 1.0) for name in assignments}
    earned = 0.0
    for name in assignments:
        row = by_cell.get((student, name))
        if row is not None and row.max_score > 0:
            earned += worth[name] * row.score / row.max_score
    return 100 * earned / sum(worth.values()) if sum(worth.values()) else 0.0
