"""Run an assignment's checks against one student's module, in this process: ``convgrade check`` and ``check()``.

``run_checks`` is one ``pytest.main`` with the convgrade plugin and a
``CheckSession`` for the student's folder; pytest's own output is kept aside and
the scores come back as a ``Scoreboard``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autograder import settings
from autograder.assignment import Assignment
from autograder.checks.context import CheckSession, Use
from autograder.scores import Scoreboard

if TYPE_CHECKING:
    from autograder.sandbox.client import Sandbox


@dataclass
class Run:
    """The checks of one assignment, run against one student's module."""

    assignment: Assignment
    board: Scoreboard
    exit_code: int
    pytest_output: str


def run_checks(
    assignment: Assignment,
    tests: Sequence[Path],
    student_dir: Path,
    *,
    sandbox: Sandbox | None = None,
    nodeids: Sequence[str] = (),
    call_timeout: float | None = settings.CALL_TIMEOUT,
    extra_args: Sequence[str] = (),
) -> Run:
    """Run ``tests`` of ``assignment`` against the module in ``student_dir``.

    With a ``sandbox``, student code runs there. ``nodeids``
    (``path::Class::test``) run those checks besides the folders in ``tests``.
    """
    session = CheckSession(student_dir=Path(student_dir), sandbox=sandbox, call_timeout=call_timeout)
    args = [
        *(str(path) for path in tests if path.is_dir()),
        *nodeids,
        f"--rootdir={assignment.folder}",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "--quiet", "--tb=short", "--no-header", "--no-score-table",
        *extra_args,
    ]  # fmt: skip
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main(args, plugins=[Use(session)])
    return Run(assignment, session.results(), int(exit_code), output.getvalue())


def run_visible_checks(folder: Path, *, extra_args: Sequence[str] = ()) -> Run:
    """``convgrade check``: the visible tests of ``folder`` against the module in it."""
    assignment = Assignment.load(folder)
    return run_checks(assignment, [assignment.visible_tests], assignment.folder, extra_args=extra_args)
