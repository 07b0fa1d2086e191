"""What one pytest session of checks knows, in one typed object: ``CheckSession``.

A student's ``pytest`` run builds it from the command line (``--student-dir``,
``--call-timeout``, ``--submission-budget``); the grader and ``convgrade check``
build it themselves and hand it over with ``use`` (through ``Use``, a plugin
given to ``pytest.main``). The convgrade plugin reads it with ``session_of`` and
nothing else: no option strings rebuilt, no objects registered as plugins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autograder import settings
from autograder.assignment import Assignment
from autograder.scores import Scoreboard
from autograder.student import Student

if TYPE_CHECKING:
    from autograder.sandbox.client import Sandbox


@dataclass
class CheckSession:
    """The state of one session of checks: whose module, where it runs, its limits, and the scores."""

    student_dir: Path | None = None  # the submission's folder; None: the assignment folder of each test file
    sandbox: Sandbox | None = None  # where student code runs; None: in this process (a student's self-check)
    call_timeout: float | None = settings.CALL_TIMEOUT  # seconds per call; None: no limit
    budget: float | None = None  # seconds all of a submission's calls may take; None: no limit
    batch: bool = False  # many submissions in one session: every failure reported short, without a traceback
    complete: bool = False  # the session collects every check of its assignments (the rubric adds them up)
    scoreboard: Scoreboard = field(default_factory=Scoreboard)
    students: dict[tuple[Path, Path], Student] = field(default_factory=dict)  # opened, by (assignment, submission) folder
    assignments: dict[str, Assignment] = field(default_factory=dict)  # the assignments of the collected checks, by name

    def results(self) -> Scoreboard:
        """The scoreboard, each failure traced to a failing function it uses (``Assignment.uses``)."""
        return self.scoreboard.traced({name: assignment.uses for name, assignment in self.assignments.items()})

    def student(self, assignment: Assignment) -> Student:
        """The submission's module for ``assignment``, opened once per session (or per submission in a batch)."""
        folder = (self.student_dir or assignment.folder).resolve()
        key = (assignment.folder, folder)
        if key not in self.students:
            self.students[key] = Student(
                assignment, folder, sandbox=self.sandbox, call_timeout=self.call_timeout, budget=self.budget
            )
        return self.students[key]

    def forget_students(self) -> None:
        """Close the students opened so far (a batch run moves on to the next submission)."""
        for opened in self.students.values():
            opened.close()
        self.students = {}


_SESSION = pytest.StashKey[CheckSession]()


def use(config: pytest.Config, session: CheckSession) -> None:
    """Make ``session`` the state of the pytest session ``config`` configures (before any check runs)."""
    config.stash[_SESSION] = session


def session_of(config: pytest.Config) -> CheckSession:
    """The session's state: the one given with ``use``, else one made from the command line."""
    if _SESSION not in config.stash:
        directory = config.getoption("student_dir", None)
        use(config, CheckSession(
            student_dir=Path(directory) if directory else None,
            call_timeout=config.getoption("call_timeout", settings.CALL_TIMEOUT) or None,
            budget=config.getoption("submission_budget", None),
        ))  # fmt: skip
    return config.stash[_SESSION]


class Use:
    """A plugin for ``pytest.main(..., plugins=[Use(session)])``: the run uses ``session``."""

    def __init__(self, session: CheckSession) -> None:
        self.session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        use(config, self.session)
