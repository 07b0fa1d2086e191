"""Score tables for people: the terminal summary of a pytest run and ``convgrade check``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # `convgrade grade` prints its gradebook without importing pytest or torch
    from autograder.plugin import CheckResult, Scoreboard


def _points(value: float) -> str:
    return f"{value:g}"


def score_table(results: Sequence[CheckResult], *, title: str | None = None) -> Table:
    """One row per check: task, check, points, pass/fail, one-line reason."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", expand=False)
    table.add_column("function", style="cyan", no_wrap=True)
    table.add_column("check")
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", overflow="fold")
    previous_task = None
    for result in results:
        verdict = Text("pass", style="green") if result.passed else Text("FAIL", style="bold red")
        table.add_row(  # Text, not str: a reason may quote the student, and rich would read markup in it
            Text(result.task if result.task != previous_task else ""),
            Text(result.check + (" (hidden)" if result.hidden else "")),
            f"{_points(result.points)}/{_points(result.max_points)}",
            verdict,
            Text("" if result.passed else result.reason),
        )
        previous_task = result.task
    return table


def total_line(board: Scoreboard, label: str = "total") -> Text:
    """``total: 12/20 points (7 of 11 checks pass)``."""
    passed = sum(result.passed for result in board.results)
    text = Text(f"{label}: ", style="bold")
    text.append(f"{_points(board.score)}/{_points(board.max_score)} points", style="bold")
    text.append(f" ({passed} of {len(board.results)} checks pass)")
    return text


def assignments_table(boards: dict[str, Scoreboard], *, title: str | None = None) -> Table:
    """One row per assignment: checks passed and points."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("assignment")
    table.add_column("checks passed", justify="right")
    table.add_column("points", justify="right")
    for name, board in boards.items():
        passed = sum(result.passed for result in board.results)
        table.add_row(Text(name), f"{passed}/{len(board.results)}", f"{_points(board.score)}/{_points(board.max_score)}")
    return table


def by_assignment(board: Scoreboard) -> dict[str, Scoreboard]:
    """The board split per assignment, in the order they ran."""
    from autograder.plugin import Scoreboard

    boards: dict[str, Scoreboard] = {}
    for result in board.results:
        boards.setdefault(result.assignment, Scoreboard()).results.append(result)
    return boards


def score_table_text(board: Scoreboard, *, width: int = 100) -> str:
    """Plain text for pytest's terminal: every check for one assignment, a row each for several."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    boards = by_assignment(board)
    console.print(score_table(board.results) if len(boards) == 1 else assignments_table(boards))
    console.print(total_line(board))
    return buffer.getvalue()


def gradebook_table(rows: Sequence) -> Table:
    """One row per student, a column per assignment (its number), the total; a * marks a note below."""
    assignments = sorted({row.assignment for row in rows})
    notes = sorted({(row.student_id, row.assignment, row.status) for row in rows if row.status != "graded"})
    caption = "; ".join(f"*{student}/{assignment}: {status}" for student, assignment, status in notes) or None
    table = Table(title="gradebook", caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left", padding=(0, 1), pad_edge=False)
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
            cells.append(Text(f"{_points(row.score)}/{_points(row.max_score)}" + ("" if row.status == "graded" else "*")))
        table.add_row(Text(student), *cells, f"{_points(score)}/{_points(max_score)}")
    return table
