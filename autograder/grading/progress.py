"""How ``convgrade grade`` shows its progress: a bar with an ETA on a terminal, a plain line per submission elsewhere (CI)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console


@contextlib.contextmanager
def progress(console: Console, total: int) -> Iterator[Callable[[Any, Any, bool], None]]:
    """Yields the callback ``grade_all`` calls per graded job: ``(job, its row, whether a previous run graded it)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if console.is_terminal:
        with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.description}"), console=console) as bar:
            task = bar.add_task("", total=total)
            yield lambda job, row, skipped: bar.update(task, advance=1, description=f"{job.submission.student}/{job.submission.assignment}")
        return
    count = 0

    def line(job, row, skipped) -> None:  # noqa: ANN001
        nonlocal count
        count += 1
        what = "already graded" if skipped else row.status
        console.print(f"[{count}/{total}] {job.submission.student}/{job.submission.assignment}: {row.score:g}/{row.max_score:g} ({what})", highlight=False)

    yield line
