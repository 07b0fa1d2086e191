"""The class's grades as a terminal table: what ``convgrade grade`` prints at the end."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from autograder.scores import GradeRow, Status, points_text


def class_table(rows: Sequence[GradeRow]) -> Table:
    """One row per student, a column per assignment (its number), the total; a * marks a note below."""
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
        cells, score, max_score = [], 0.0, 0.0
        for name in assignments:
            row = by_cell.get((student, name))
            if row is None:
                cells.append("")
                continue
            score, max_score = score + row.score, max_score + row.max_score
            cells.append(Text(f"{points_text(row.score)}/{points_text(row.max_score)}" + ("" if row.status == Status.GRADED else "*")))
        table.add_row(Text(student), *cells, f"{points_text(score)}/{points_text(max_score)}")
    return table
