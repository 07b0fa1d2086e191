"""``convgrade check``: run an assignment's visible tests in-process and collect the scores."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.assignment import Assignment
from autograder.plugin import SCOREBOARD, Scoreboard


@dataclass
class SelfCheck:
    """The visible checks of one assignment folder, run against the module in it."""

    assignment: Assignment
    board: Scoreboard
    exit_code: int
    pytest_output: str


class _BoardGrabber:
    """Hands back the run's scoreboard once pytest has configured its plugins."""

    board: Scoreboard | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.board = config.pluginmanager.get_plugin(SCOREBOARD)


def run_visible_checks(folder: Path, *, extra_args: tuple[str, ...] = ()) -> SelfCheck:
    """Run ``folder/tests`` against ``folder``'s module; pytest's own output is kept aside."""
    assignment = Assignment.load(folder)
    args = [
        str(assignment.visible_tests),
        f"--student-dir={assignment.folder}",
        f"--rootdir={assignment.folder}",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "--quiet", "--tb=short", "--no-header", "--no-score-table",
        *extra_args,
    ]  # fmt: skip
    grabber = _BoardGrabber()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main(args, plugins=[grabber])
    board = grabber.board or Scoreboard()
    return SelfCheck(assignment, board, int(exit_code), output.getvalue())
