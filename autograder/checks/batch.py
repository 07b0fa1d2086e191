"""Many submissions in one pytest session: how ``convgrade grade`` runs a chunk of a class.

``run_batch`` collects an assignment's visible and hidden tests once, then runs
every check against each submission in turn, with fixtures set up afresh, exactly
as in a run of its own. Plain checks (no marker a hook acts on) run without
pytest's hooks per phase (``_run_plain``); property tests replay the examples
drawn once (``autograder.checks.replay``). Hidden checks run under their
submission's salt (``salt_of``), so their inputs are the student's own
(``autograder.inputs.salted``).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from autograder import settings
from autograder.assignment import Assignment
from autograder.inputs import salted
from autograder.checks.context import CheckSession, Use, session_of
from autograder.checks.explain import explain
from autograder.checks.plugin import check_result, is_check
from autograder.checks.replay import ReplayExamples
from autograder.scores import CheckResult, Scoreboard
from autograder.student import begin_check

if TYPE_CHECKING:
    from autograder.sandbox.client import Sandbox

OnGraded = Callable[[Any, Scoreboard, float], None]  # (the submission's key, its scores, seconds it took)
SaltOf = Callable[[Any], str | None]  # the submission's key -> the salt of its hidden checks' inputs (None: fixed inputs)

_REPLAY = ReplayExamples()  # property tests' examples, drawn once per process


def share_examples(folder: Path) -> None:
    """Draw each property test's examples once for every process of a run: they are kept in ``folder``."""
    _REPLAY.folder = folder


BATCH_ARGS = (  # no plugin scan per session (ours is named), and no pytest plugin whose per-check work a grader never reads
    "--disable-plugin-autoload", "-p", "autograder.checks.plugin",
    *(arg for name in (
        "unraisableexception", "threadexception", "logging", "faulthandler", "terminal", "anyio", "subtests",
        "unittest", "doctest", "junitxml", "pastebin", "legacypath", "setuponly", "setupplan",
    ) for arg in ("-p", f"no:{name}")),
    "--capture=no", "--no-shrink",
)  # fmt: skip


def run_batch(
    assignment: Assignment,
    tests: Sequence[Path],
    submissions: Sequence[tuple[Any, Path]],
    on_graded: OnGraded,
    *,
    sandbox: Sandbox | None = None,
    call_timeout: float | None = settings.CALL_TIMEOUT,
    budget: float | None = None,
    salt_of: SaltOf | None = None,
) -> None:
    """Run ``tests`` against each ``(key, folder)`` of ``submissions`` in one session; ``on_graded(key, board, seconds)`` after each.

    ``salt_of(key)``: the salt each submission's hidden checks draw their inputs with (default: none, fixed inputs).
    """
    batch = _Batch(submissions, on_graded, salt_of)
    session = CheckSession(sandbox=sandbox, call_timeout=call_timeout, budget=budget, batch=True, complete=True)
    args = [
        *(str(path) for path in tests if path.is_dir()),
        f"--rootdir={assignment.folder}",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "--no-score-table",
        *BATCH_ARGS,
    ]  # fmt: skip
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main(args, plugins=[Use(session), batch, _REPLAY])
    if batch.ran < len(submissions):
        why = "\n".join(batch.errors) or output.getvalue()
        raise RuntimeError(f"the checks of {assignment.name} did not run (pytest exit {int(exit_code)}):\n{why[-2000:]}")


class _Batch:
    """Runs the collected checks once per submission (a ``pytest_runtestloop`` of its own)."""

    def __init__(self, submissions: Sequence[tuple[Any, Path]], on_graded: OnGraded, salt_of: SaltOf | None = None) -> None:
        self.submissions, self.on_graded, self.ran = submissions, on_graded, 0
        self.salt_of = salt_of
        self.errors: list[str] = []  # collection errors (pytest's terminal, which would print them, is off)
        self.stdout = sys.stdout  # where the caller's output goes, outside the run's redirection

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return False  # a broken test file: pytest reports the collection error
        checks = session_of(session.config)
        board = checks.scoreboard
        uses = {name: assignment.uses for name, assignment in checks.assignments.items()}
        items = session.items
        plain = [_plain(item) for item in items]
        hidden = [bool(dict(item.user_properties).get("convgrade_hidden")) for item in items]
        for key, folder in self.submissions:
            started = time.perf_counter()
            checks.student_dir = folder
            board.results = []
            salt = self.salt_of(key) if self.salt_of else None
            for index, item in enumerate(items):
                nextitem = items[index + 1] if index + 1 < len(items) else None  # None: tear every fixture down
                with salted(salt if hidden[index] else None):  # visible checks keep their fixed inputs: students see them
                    if plain[index]:
                        result = _run_plain(item, nextitem)
                        if result is not None:
                            board.results.append(result)
                    else:
                        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            failed = next((student.sandbox_failure for student in checks.students.values() if student.sandbox_failure), None)
            checks.forget_students()
            scores = Scoreboard(list(board.results)).traced(uses)
            scores.grader_error = failed  # the sandbox broke before the student's code ran: not the student's scores
            with contextlib.redirect_stdout(self.stdout):  # pytest's output is kept aside; the caller's is not
                self.on_graded(key, scores, time.perf_counter() - started)
            self.ran += 1
        return True


PLAIN_MARKERS = frozenset({"points", "task", "category", "parametrize", "hypothesis", "usefixtures"})  # read at collection alone


def _plain(item: pytest.Item) -> bool:
    """Whether a check needs nothing of pytest's hooks per phase: no marker a hook acts on (skip, xfail, timeout...).

    ``filterwarnings("ignore...")`` is allowed: a batch run reads no warnings.
    """
    if not (isinstance(item, pytest.Function) and is_check(item)):
        return False
    for marker in item.iter_markers():
        if marker.name == "filterwarnings" and all(str(arg).startswith("ignore") for arg in marker.args):
            continue
        if marker.name not in PLAIN_MARKERS:
            return False
    return True


def _run_plain(item: pytest.Function, nextitem: pytest.Item | None) -> CheckResult | None:
    """One plain check, as pytest's ``runtestprotocol`` runs it, without the reports and hooks per phase.

    Fixtures are set up, the test is called (through ``pytest_pyfunc_call``, so
    property tests replay their examples), and fixtures are torn down to what
    ``nextitem`` needs. The result is the one the scoreboard would record from
    pytest's reports: a teardown error does not change it, and a check skipped
    during setup has none.
    """
    if not item._request:  # a re-run: pytest_runtest_protocol does the same
        item._initrequest()
    begin_check()
    setup_done, failure, duration = False, None, 0.0
    try:
        item.session._setupstate.setup(item)
        setup_done = True
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                item.runtest()
        finally:
            duration = time.perf_counter() - started
    except (KeyboardInterrupt, pytest.exit.Exception):
        raise
    except BaseException as exc:  # noqa: BLE001 - every other failure of a check is its result, as in pytest
        failure = exc
    try:
        item.session._setupstate.teardown_exact(nextitem)
    except Exception:  # noqa: BLE001, S110 - as in a normal run, the check's own outcome stands
        pass
    finally:
        item._request = False
        item.funcargs = None
    properties = dict(item.user_properties)
    if failure is None:
        return check_result(item.nodeid, properties, passed=True, duration=duration)
    if isinstance(failure, pytest.skip.Exception):
        return check_result(item.nodeid, properties, passed=False, reason="skipped", duration=duration) if setup_done else None
    return check_result(item.nodeid, properties, passed=False, duration=duration, explained=explain(failure))
