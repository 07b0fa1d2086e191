"""Score tables for people: the terminal summary of a pytest run and ``convgrade check``."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

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
        table.add_row(
            result.task if result.task != previous_task else "",
            result.check + (" (hidden)" if result.hidden else ""),
            f"{_points(result.points)}/{_points(result.max_points)}",
            verdict,
            "" if result.passed else result.reason,
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


def score_table_text(board: Scoreboard, *, width: int = 100) -> str:
    """The table and total as plain text for pytest's terminal (colour only on a terminal)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(score_table(board.results))
    console.print(total_line(board))
    return buffer.getvalue()
