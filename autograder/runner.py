"""Run an assignment's checks in this process and collect the scores.

``convgrade check`` runs the visible tests against the module beside them
(``run_checks``); ``convgrade grade`` runs the instructor's visible and hidden
tests against many submissions in one pytest session (``run_batch``: collected
once, then run once per submission), with student code in a shared sandboxed
worker.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.assignment import Assignment
from autograder.replay import ReplayExamples
from autograder.plugin import BATCH, SCOREBOARD, SHARED_WORKER, STUDENT_DIR, CheckResult, Scoreboard, explain, forget_students, is_check
from autograder.student import forget_calls


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


_REPLAY = ReplayExamples()  # property tests' examples, drawn once per process


def share_examples(folder: Path) -> None:
    """Draw each property test's examples once for every process of a run: they are kept in ``folder``."""
    _REPLAY.folder = folder

BATCH_ARGS = (  # no plugin scan per session (ours is named), and no pytest plugin whose per-check work a grader never reads
    "--disable-plugin-autoload", "-p", "autograder.plugin",
    *(arg for name in (
        "unraisableexception", "threadexception", "logging", "faulthandler", "terminal", "anyio", "subtests",
        "unittest", "doctest", "junitxml", "pastebin", "legacypath", "setuponly", "setupplan",
    ) for arg in ("-p", f"no:{name}")),
    "--capture=no", "--no-shrink",
)  # fmt: skip


def run_batch(
    assignment: Assignment,
    tests: Sequence[Path],
    submissions: Sequence[tuple[object, Path]],
    done: Callable[[object, Scoreboard, float], None],
    *,
    worker: object | None = None,
    extra_args: Sequence[str] = (),
) -> None:
    """Run ``tests`` against each ``(key, folder)`` of ``submissions`` in one session; ``done(key, board, seconds)`` after each.

    The tests are collected and imported once; each submission then gets every
    check, with fixtures set up afresh, exactly as in a run of its own.
    """
    batch = _Batch(submissions, done)
    plugins: list[object] = [batch, _REPLAY] + ([_Shared(worker)] if worker is not None else [])
    args = [
        *(str(path) for path in tests if path.is_dir()),
        f"--rootdir={assignment.folder}",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "--no-score-table",
        *BATCH_ARGS,
        *extra_args,
    ]  # fmt: skip
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main(args, plugins=plugins)
    if batch.ran < len(submissions):
        why = "\n".join(batch.errors) or output.getvalue()
        raise RuntimeError(f"the checks of {assignment.name} did not run (pytest exit {int(exit_code)}):\n{why[-2000:]}")


class _Batch:
    """Runs the collected checks once per submission (a ``pytest_runtestloop`` of its own)."""

    def __init__(self, submissions: Sequence[tuple[object, Path]], done: Callable[[object, Scoreboard, float], None]) -> None:
        self.submissions, self.done, self.ran = submissions, done, 0
        self.errors: list[str] = []  # collection errors (pytest's terminal, which would print them, is off)
        self.stdout = sys.stdout  # where the caller's output goes, outside the run's redirection

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[BATCH] = True

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return False  # a broken test file: pytest reports the collection error
        board: Scoreboard = session.config.pluginmanager.get_plugin(SCOREBOARD)
        items = session.items
        plain = [_plain(item) for item in items]
        for key, folder in self.submissions:
            started = time.perf_counter()
            session.config.stash[STUDENT_DIR] = folder
            board.results = []
            for index, item in enumerate(items):
                nextitem = items[index + 1] if index + 1 < len(items) else None  # None: tear every fixture down
                if plain[index]:
                    result = _run_plain(item, nextitem)
                    if result is not None:
                        board.results.append(result)
                else:
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            forget_students(session.config)
            with contextlib.redirect_stdout(self.stdout):  # pytest's output is kept aside; the caller's is not
                self.done(key, Scoreboard(list(board.results)), time.perf_counter() - started)
            self.ran += 1
        return True


PLAIN_MARKERS = frozenset({"points", "task", "parametrize", "hypothesis", "usefixtures"})


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
    forget_calls()
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
        return CheckResult.of(item.nodeid, properties, passed=True, duration=duration)
    if isinstance(failure, pytest.skip.Exception):
        return CheckResult.of(item.nodeid, properties, passed=False, reason="skipped", duration=duration) if setup_done else None
    reason, details, _ = explain(failure, item)
    return CheckResult.of(item.nodeid, properties, passed=False, reason=reason, details=details or reason, duration=duration)
