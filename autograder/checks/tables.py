"""Score tables for people: the terminal summary of a pytest run, ``convgrade check`` and ``check()``."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.scores import CheckResult, Scoreboard, points_text


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
            f"{points_text(result.points)}/{points_text(result.max_points)}",
            verdict,
            Text("" if result.passed else result.reason),
        )
        previous_task = result.task
    return table


def total_line(board: Scoreboard, label: str = "total") -> Text:
    """``total: 12/20 points (7 of 11 checks pass)``."""
    text = Text(f"{label}: ", style="bold")
    text.append(f"{points_text(board.score)}/{points_text(board.max_score)} points", style="bold")
    text.append(f" ({board.passed} of {len(board.results)} checks pass)")
    return text


def assignments_table(boards: dict[str, Scoreboard], *, title: str | None = None) -> Table:
    """One row per assignment: checks passed and points."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("assignment")
    table.add_column("checks passed", justify="right")
    table.add_column("points", justify="right")
    for name, board in boards.items():
        table.add_row(Text(name), f"{board.passed}/{len(board.results)}", f"{points_text(board.score)}/{points_text(board.max_score)}")
    return table


def score_table_text(board: Scoreboard, *, width: int = 100) -> str:
    """Plain text for pytest's terminal: every check for one assignment, a row each for several."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    boards = board.by_assignment()
    console.print(score_table(board.results) if len(boards) == 1 else assignments_table(boards))
    console.print(total_line(board))
    return buffer.getvalue()
