"""The pytest plugin behind every convgrade check (registered as ``convgrade``).

A check is a plain pytest test that asks for the ``student`` fixture. It states
its worth with ``@pytest.mark.points(n)`` and its subject by its class
(``class TestPad2d`` is about ``pad2d``; ``@pytest.mark.task("name")`` overrides),
and its docstring is the line students see in the score table.

The plugin

- gives each check the student's module (``student``), as the session's
  ``CheckSession`` says: the module beside the tests (the assignment folder) or
  in ``--student-dir DIR``, run in this process or in a sandbox;
- starts each check with a fresh call log (``autograder.student.begin_check``);
- turns every failure into a one-line reason and a short report without
  harness frames (``autograder.checks.explain``);
- records a ``CheckResult`` for each check on the session's scoreboard and
  prints it at the end of the run: a line per function and its first failure
  (``--details``: every check and failure), in place of pytest's report per failure;
- in a self-check, stops a property test at its first example when its failure
  cannot depend on the example (a stub), and freezes the heap after collection.
"""

from __future__ import annotations

import functools
import gc
import re
from pathlib import Path

import pytest
import torch

from autograder import settings
from autograder.assignment import HIDDEN_TESTS, Assignment, AssignmentError, enclosing_assignment
from autograder.checks.context import session_of
from autograder.checks.explain import Explanation, explain
from autograder.checks.rubric import category_of, declared_of, factors_for, hidden_summary
from autograder.checks.settled import pytest_runtest_call  # noqa: F401 - a hook of this plugin, kept beside its helpers
from autograder.scores import CheckResult
from autograder.student import Student, begin_check

_EXPLAINED = pytest.StashKey[Explanation]()  # a failure explained, from _ShortReports to the report wrapper


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convgrade", "convgrade: checking a student's module")
    group.addoption(
        "--student-dir",
        metavar="DIR",
        help="folder holding the student's module (default: the assignment folder of each test file)",
    )
    group.addoption(
        "--call-timeout",
        type=float,
        default=settings.CALL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for one call of a student's function, 0 for none (default {settings.CALL_TIMEOUT:g})",
    )
    group.addoption(
        "--submission-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time all calls of one submission's functions may take together; later calls fail at once (default: no limit)",
    )
    group.addoption(
        "--no-shrink",
        action="store_true",
        help="report a property test's first failing example without shrinking it (faster; convgrade grade uses it)",
    )
    group.addoption(
        "--no-score-table",
        action="store_true",
        help="do not print the table of checks and points at the end",
    )
    group.addoption(
        "--details",
        action="store_true",
        help="list every check and explain every failure in full (default: a line per function and its first failure)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): how many points the check is worth (default 1)")
    config.addinivalue_line("markers", "task(name): the curriculum function the check is about")
    config.addinivalue_line("markers", "category(name): what the check measures: values, shapes, dtypes, properties, edge or errors")
    config.pluginmanager.register(_ShortReports(), "convgrade-short-reports")
    config.pluginmanager.register(_Scorekeeper(config), "convgrade-scorekeeper")
    _load_hypothesis_profile(config)


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """Property tests draw the same examples on every run and write nothing to disk."""
    from hypothesis import HealthCheck, Phase, settings as hypothesis_settings

    hypothesis_settings.register_profile(
        "convgrade",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=20,
        print_blob=False,
        report_multiple_bugs=False,  # one failure, the simplest, is what a student needs
        # no explain phase: after shrinking, it varies the example's parts to comment which matter, seconds per
        # failing property check (4 s of 4.3 on a typical mistake) for a comment the explanation does not need
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        # differing_executors: the grader re-imports the same test classes for every submission
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    hypothesis_settings.register_profile(
        "convgrade-no-shrink", hypothesis_settings.get_profile("convgrade"), phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )
    if config.getoption("hypothesis_profile", None):
        return  # the user chose one
    ours = ("convgrade", "convgrade-no-shrink")
    if config.option.collectonly and hypothesis_settings.get_current_profile_name() in ours:
        return  # a collection (the rubric's, inside another session) runs no test: that session's choice stands
    hypothesis_settings.load_profile("convgrade-no-shrink" if config.getoption("no_shrink") else "convgrade")


@pytest.fixture(scope="module")
def assignment(request: pytest.FixtureRequest) -> Assignment:
    """The assignment the test file belongs to (its folder holds ``assignment.toml``)."""
    return _assignment_for(request.path)


def _assignment_for(path: Path) -> Assignment:
    try:
        found = enclosing_assignment(path)
    except AssignmentError as exc:
        raise pytest.UsageError(str(exc)) from None
    if found is None:
        raise pytest.UsageError(f"{path} is not inside an assignment folder (no assignment.toml above it)")
    return found


@pytest.fixture(scope="module")
def student(request: pytest.FixtureRequest) -> Student:
    """The student's module; ``student.pad2d(...)`` calls their function, checked.

    It finds its assignment itself rather than through the ``assignment``
    fixture: every fixture a check depends on costs pytest work per check, and a
    batch run sets up each check hundreds of times.
    """
    return session_of(request.config).student(_assignment_for(request.path))


def is_check(item: pytest.Item) -> bool:
    """Whether ``item`` is a graded check: a test in an assignment folder using ``student``."""
    return "student" in getattr(item, "fixturenames", ()) and _assignment_of(Path(str(item.path)).parent) is not None


@functools.cache
def _assignment_of(folder: Path) -> str | None:
    found = enclosing_assignment(folder)
    return found.name if found else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    by_assignment: dict[Path, list[pytest.Item]] = {}
    assignments: dict[Path, Assignment] = {}  # by test folder, then by assignment folder: each assignment.toml read once
    for item in items:
        if is_check(item):
            folder = Path(str(item.path)).parent
            if folder not in assignments:
                assignments[folder] = _assignment_for(folder)
            assignments[assignments[folder].folder] = assignments[folder]
            by_assignment.setdefault(assignments[folder].folder, []).append(item)
    session = session_of(config)
    for folder, checks in by_assignment.items():
        assignment = assignments[folder]
        session.assignments[assignment.name] = assignment
        factors = factors_for(assignment, checks, complete=session.complete)
        for item in checks:
            category, declared = category_of(item), declared_of(item)
            item.user_properties += [
                ("convgrade_points", round(declared * factors[category], 6)),
                ("convgrade_declared", declared),
                ("convgrade_category", category),
                ("convgrade_assignment", folder.name),
                ("convgrade_task", _task_of(item)),
                ("convgrade_check", _check_of(item)),
                ("convgrade_hidden", HIDDEN_TESTS in Path(str(item.path)).parts),
            ]


def pytest_collection_finish(session: pytest.Session) -> None:
    """A self-check (every test collected is a check, outside a batch) runs torch on one thread, freezes the heap,
    and reports concisely.

    One torch thread: the checks' tensors are tiny, and a second thread costs
    each operator more in waking and waiting than it saves (several times the
    whole run's time on a busy machine); the grader's sandbox runs one thread
    too. The session's end gives back the count it found (a notebook's kernel
    lives on).

    ``gc.freeze``: with torch loaded, one full collection walks millions of
    objects, and a session makes several (Hypothesis before its first example,
    pytest at the end, Python's own as the checks allocate): together more than
    the checks of a whole assignment take, and Python's exit walks them all
    once more. Objects that live to this point live to the end of a self-check;
    ``run_checks`` thaws them after its session (a notebook's kernel lives on).
    A batch run's process does its own freezing.

    Concise: convgrade's summary says each function's first failure (every
    failure with ``--details``), so pytest's own section and line per failure
    are dropped, unless asked for (``--tb``, ``-r``) or the summary is off
    (``--no-score-table``).
    """
    config = session.config
    if session_of(config).batch or not session.items or not all(is_check(item) for item in session.items):
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config.add_cleanup(lambda: torch.set_num_threads(threads))
    gc.freeze()
    if config.getoption("no_score_table"):
        return
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "no"
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.option.reportchars == "fE":  # pytest's default: failures and errors
        reporter.reportchars = reporter.reportchars.replace("f", "")


def check_result(
    nodeid: str, properties: dict, *, passed: bool, reason: str = "", details: str = "", duration: float = 0.0,
    explained: Explanation | None = None,
) -> CheckResult:
    """The result of a check, from the ``user_properties`` the plugin gave its item (and its failure, ``explained``)."""
    hidden = properties["convgrade_hidden"]
    if explained is not None:
        reason, details = (explained.hidden_reason if hidden else explained.reason), explained.details or explained.reason
    return CheckResult(
        nodeid=nodeid,
        assignment=properties["convgrade_assignment"],
        task=properties["convgrade_task"],
        check=properties["convgrade_check"],
        max_points=properties["convgrade_points"],
        category=properties["convgrade_category"],
        partial=explained.partial if explained else 0.0,
        case=explained.case if explained else "",
        passed=passed,
        reason=reason,
        details=details,
        hidden=hidden,
        duration=duration,
    )


def _task_of(item: pytest.Item) -> str:
    """``TestConv2dIm2col`` -> ``conv2d_im2col``, unless a ``task`` marker names it."""
    marker = item.get_closest_marker("task")
    if marker and marker.args:
        return str(marker.args[0])
    cls = getattr(item, "cls", None)
    if cls is None:
        return Path(str(item.path)).stem.removeprefix("test_")
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", cls.__name__.removeprefix("Test"))
    return "_".join(word.lower() for word in words)


def _check_of(item: pytest.Item) -> str:
    """The first line of the test's docstring, else its name in words."""
    doc = (getattr(item, "obj", None).__doc__ or "").strip()  # type: ignore[union-attr]
    text = doc.splitlines()[0] if doc else item.name.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    shown = {k: v for k, v in (callspec.params.items() if callspec else ()) if not k.startswith("expected")}
    params = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    return f"{text} ({params})" if params else text


def pytest_runtest_setup(item: pytest.Item) -> None:
    begin_check()


class _Scorekeeper:
    """Puts each graded check's result on the session's scoreboard: one per check, however many phases report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if "convgrade_points" not in properties:
            return  # not a graded check
        failed = report.failed or (report.when == "call" and report.skipped)
        if not (report.when == "call" or failed):
            return
        results = session_of(self.config).scoreboard.results
        if results and results[-1].nodeid == report.nodeid:
            return  # a teardown error after the call was already counted
        results.append(
            check_result(
                report.nodeid, properties, passed=report.passed, duration=report.duration,
                reason="skipped" if report.skipped else "", explained=properties.get("convgrade_explained"),
            )  # fmt: skip
        )


class _ShortReports:
    """Failed checks that ``explain`` words fully (in a batch run: all of them) skip pytest's traceback.

    Formatting a traceback parses every source file in it, which costs more than
    the check itself, and the reason says it better.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport | None:
        excinfo = call.excinfo
        if excinfo is None or excinfo.errisinstance((pytest.skip.Exception, KeyboardInterrupt)) or not is_check(item):
            return None
        explained = explain(excinfo.value)
        if not (explained.concise or session_of(item.config).batch):
            item.stash[_EXPLAINED] = explained  # for the wrapper below, after pytest's report
            return None
        sections = [(f"Captured {key} {when}", text) for when, key, text in item._report_sections if when == call.when]
        return pytest.TestReport(
            item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed", explained.details or explained.reason,
            call.when, sections, call.duration, call.start, call.stop,
            user_properties=[*item.user_properties, ("convgrade_explained", explained)],
        )  # fmt: skip


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report: pytest.TestReport = yield
    explained = item.stash.get(_EXPLAINED, None)
    if explained is not None:  # pytest's own report, with its traceback: the reason rides along
        del item.stash[_EXPLAINED]
        report.user_properties += [("convgrade_explained", explained)]
    return report


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    session = session_of(config)
    board = session.results()
    if not board.results or config.getoption("no_score_table"):
        return
    from autograder.checks.tables import report_text

    several = len(session.assignments) > 1
    notes = [f"{name}: {hidden}" if several else hidden for name, a in session.assignments.items() if (hidden := hidden_summary(a, board))]
    modules = {name: (session.student_dir or a.folder) / f"{a.module}.py" for name, a in session.assignments.items()}
    terminalreporter.write_sep("=", "convgrade score")
    width = terminalreporter._tw.fullwidth
    terminalreporter.write(report_text(board, width=width, details=config.getoption("details"), notes=notes, modules=modules))
