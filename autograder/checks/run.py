"""Run an assignment's checks against one student's module, in this process: ``convgrade check`` and ``check()``.

``run_checks`` is one ``pytest.main`` with the convgrade plugin and a
``CheckSession`` for the student's folder; pytest's own output is kept aside and
the scores come back as a ``Scoreboard``. ``run_visible_checks_of`` runs the
visible checks of several assignment folders in one session (a session costs
more to start than most assignments' checks take).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
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
    tested = [*(str(path) for path in tests if path.is_dir()), *nodeids]
    try:
        exit_code, output = _session(tested, assignment.folder, session, extra_args)
    finally:
        gc.unfreeze()  # the plugin froze the heap; a notebook's kernel lives on, and what was alive may become garbage
    return Run(assignment, session.results(), exit_code, output)


# The plugins a self-check needs: ours (the grader runs no other), and pytest's own but those whose work per check
# nobody here reads. Not scanning the installed ones also keeps out those that import a framework (anyio).
SESSION_ARGS = (
    "--import-mode=importlib", "-p", "no:cacheprovider", "--disable-plugin-autoload", "-p", "autograder.checks.plugin",
    "-p", "no:logging", "-p", "no:threadexception", "-p", "no:faulthandler",
    "--quiet", "--tb=short", "--no-header", "--no-score-table",
)  # fmt: skip


def _session(tested: Sequence[str], rootdir: Path, session: CheckSession, extra_args: Sequence[str]) -> tuple[int, str]:
    """One pytest session of checks: its exit code and output."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main([*tested, f"--rootdir={rootdir}", *SESSION_ARGS, *extra_args], plugins=[Use(session)])
    return int(exit_code), output.getvalue()


def run_visible_checks(folder: Path, *, extra_args: Sequence[str] = ()) -> Run:
    """``convgrade check``: the visible tests of ``folder`` against the module in it."""
    return run_visible_checks_of([folder], extra_args=extra_args)[0]


def run_visible_checks_of(folders: Sequence[Path], *, extra_args: Sequence[str] = ()) -> list[Run]:
    """The visible tests of each assignment folder against the module in it, all in one session.

    For a command that ends after it: the heap the plugin froze stays frozen, so
    that Python's exit does not walk torch's objects (a third of a second).
    """
    assignments = [Assignment.load(folder) for folder in folders]
    session = CheckSession()  # each test file's module: the one in its assignment folder
    rootdir = Path(os.path.commonpath([a.folder for a in assignments]))
    exit_code, output = _session([str(a.visible_tests) for a in assignments], rootdir, session, extra_args)
    boards = session.results().by_assignment()
    return [Run(a, boards.get(a.name, Scoreboard()), exit_code, output) for a in assignments]
