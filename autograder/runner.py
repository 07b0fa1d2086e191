"""Run an assignment's checks in this process and collect the scores.

``convgrade check`` runs the visible tests against the module beside them;
``convgrade grade`` runs the instructor's visible and hidden tests against a
submission, with student code in a shared sandboxed worker.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.assignment import Assignment
from autograder.plugin import SCOREBOARD, SHARED_WORKER, Scoreboard


@dataclass
class Run:
    """The checks of one assignment, run against one student's module."""

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


def run_checks(
    assignment: Assignment,
    tests: Sequence[Path],
    student_dir: Path,
    *,
    worker: object | None = None,
    nodeids: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> Run:
    """Run ``tests`` of ``assignment`` against the module in ``student_dir``; pytest's own output is kept aside.

    With a ``worker`` (``autograder.sandbox.Worker``), student code runs there.
    ``nodeids`` (``path::Class::test``) run those checks besides the folders in ``tests``.
    """
    args = [
        *(str(path) for path in tests if path.is_dir()),
        *nodeids,
        f"--student-dir={student_dir}",
        f"--rootdir={assignment.folder}",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "--quiet", "--tb=short", "--no-header", "--no-score-table",
        *extra_args,
    ]  # fmt: skip
    grabber = _BoardGrabber()
    plugins: list[object] = [grabber]
    output = io.StringIO()
    if worker is not None:
        plugins.append(_Shared(worker))
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main(args, plugins=plugins)
    return Run(assignment, grabber.board or Scoreboard(), int(exit_code), output.getvalue())


class _Shared:
    """Offers a worker that outlives one pytest run to the plugin."""

    def __init__(self, worker: object) -> None:
        self.worker = worker

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.pluginmanager.register(self.worker, SHARED_WORKER)


def run_visible_checks(folder: Path, *, extra_args: Sequence[str] = ()) -> Run:
    """``convgrade check``: the visible tests of ``folder`` against the module in it."""
    assignment = Assignment.load(folder)
    return run_checks(assignment, [assignment.visible_tests], assignment.folder, extra_args=extra_args)
