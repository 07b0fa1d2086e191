"""The pytest plugin behind every convgrade check (registered as ``convgrade``).

A check is a plain pytest test that asks for the ``student`` fixture. It states
its worth with ``@pytest.mark.points(n)`` and its subject by its class
(``class TestPad2d`` is about ``pad2d``; ``@pytest.mark.task("name")`` overrides),
and its docstring is the line students see in the score table.

The plugin

- finds the student's module: the one beside the tests (the assignment folder)
  or, with ``--student-dir DIR``, the one in DIR (how graders run the
  instructor's tests against a submission);
- turns every failure into a one-line reason (``not implemented yet: `pad2d```,
  the forbidden-call message, the comparison's headline) and a short report
  without harness frames;
- keeps a ``Scoreboard`` and prints it as a table at the end of the run.
"""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder import student as student_module
from autograder.assignment import HIDDEN_TESTS, Assignment, AssignmentError, enclosing_assignment
from autograder.student import DEFAULT_CALL_TIMEOUT, CheckFailure, Student, student_call_of

SCOREBOARD = "convgrade-scoreboard"
SHARED_WORKER = "convgrade-shared-worker"  # a sandbox worker that outlives the run (convgrade grade)
BATCH = pytest.StashKey[bool]()  # set by a batch run (many submissions, one session): reports stay short
STUDENT_DIR = pytest.StashKey[Path]()  # a batch run's current submission, overriding --student-dir


@dataclass
class CheckResult:
    """The outcome of one check, as score tables and result files show it."""

    nodeid: str
    assignment: str
    task: str
    check: str
    max_points: float
    passed: bool
    reason: str = ""
    details: str = ""
    hidden: bool = False
    duration: float = 0.0

    @property
    def points(self) -> float:
        """Points earned: all of them on a pass, none otherwise."""
        return self.max_points if self.passed else 0.0

    @classmethod
    def of(cls, nodeid: str, properties: dict, *, passed: bool, reason: str = "", details: str = "", duration: float = 0.0) -> CheckResult:
        """The result of a check, from the ``user_properties`` the plugin gave its item."""
        return cls(
            nodeid=nodeid,
            assignment=properties["convgrade_assignment"],
            task=properties["convgrade_task"],
            check=properties["convgrade_check"],
            max_points=properties["convgrade_points"],
            passed=passed,
            reason=reason,
            details=details,
            hidden=properties["convgrade_hidden"],
            duration=duration,
        )


@dataclass
class Scoreboard:
    """Collects a ``CheckResult`` for every check that ran (a pytest plugin object)."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned over all checks."""
        return sum(result.points for result in self.results)

    @property
    def max_score(self) -> float:
        """Points available over all checks."""
        return sum(result.max_points for result in self.results)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if "convgrade_points" not in properties:
            return  # not a graded check
        failed = report.failed or (report.when == "call" and report.skipped)
        if report.when == "call" or failed:
            if self.results and self.results[-1].nodeid == report.nodeid:
                return  # a teardown error after the call was already counted
            self.results.append(
                CheckResult.of(
                    report.nodeid, properties, passed=report.passed, duration=report.duration,
                    reason=properties.get("convgrade_reason", "skipped" if report.skipped else ""),
                    details=properties.get("convgrade_details", ""),
                )  # fmt: skip
            )


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
        default=DEFAULT_CALL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for one call of a student's function, 0 for none (default {DEFAULT_CALL_TIMEOUT:g})",
    )
    group.addoption(
        "--submission-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time all calls of one submission's functions may take together; later calls fail at once (default: no limit)",
    )
    group.addoption(
        "--sandbox",
        choices=("off", "auto", "bwrap", "rlimits"),
        default="off",
        help="run student code in a separate worker process: under bubblewrap (bwrap), with resource "
        "limits only (rlimits), or bubblewrap where available (auto); off runs it in this process (default)",
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): how many points the check is worth (default 1)")
    config.addinivalue_line("markers", "task(name): the curriculum function the check is about")
    config.pluginmanager.register(Scoreboard(), SCOREBOARD)
    config.pluginmanager.register(_ShortReports(), "convgrade-short-reports")
    _load_hypothesis_profile(config)


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """Property tests draw the same examples on every run and write nothing to disk."""
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        "convgrade",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=20,
        print_blob=False,
        report_multiple_bugs=False,  # one failure, the simplest, is what a student needs
        # differing_executors: the grader re-imports the same test classes for every submission
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    settings.register_profile("convgrade-no-shrink", settings.get_profile("convgrade"), phases=[Phase.explicit, Phase.reuse, Phase.generate])
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile("convgrade-no-shrink" if config.getoption("no_shrink") else "convgrade")


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
    assignment = _assignment_for(request.path)
    config = request.config
    folder = config.stash.get(STUDENT_DIR, None) or Path(config.getoption("student_dir") or assignment.folder)
    cache: dict[tuple[Path, Path], Student] = request.config.stash.setdefault(_STUDENTS, {})
    key = (assignment.folder, folder.resolve())
    if key not in cache:
        timeout = request.config.getoption("call_timeout") or None
        budget = request.config.getoption("submission_budget")
        worker = _worker(request.config)
        if worker is None:
            cache[key] = Student(assignment, folder, call_timeout=timeout, budget=budget)
        else:
            from autograder.sandbox import SandboxedStudent

            cache[key] = SandboxedStudent(assignment, folder, worker, call_timeout=timeout, budget=budget)
    return cache[key]


def forget_students(config: pytest.Config) -> None:
    """Close the students the ``student`` fixture opened (a batch run moves on to the next submission)."""
    for opened in config.stash.get(_STUDENTS, {}).values():
        if hasattr(type(opened), "close"):  # a sandboxed one (the proxy itself answers any other name)
            opened.close()
    config.stash[_STUDENTS] = {}


def _worker(config: pytest.Config):  # noqa: ANN202 - autograder.sandbox.Worker, imported lazily
    """The run's sandboxed worker, started on first use (``None`` with ``--sandbox off``)."""
    shared = config.pluginmanager.get_plugin(SHARED_WORKER)
    if shared is not None:
        return shared
    choice = config.getoption("sandbox")
    if choice == "off":
        return None
    if _WORKER not in config.stash:
        from autograder.sandbox import Worker

        config.stash[_WORKER] = Worker(sandbox={"auto": None, "bwrap": True, "rlimits": False}[choice])
    return config.stash[_WORKER]


def pytest_unconfigure(config: pytest.Config) -> None:
    worker = config.stash.get(_WORKER, None)
    if worker is not None:
        worker.stop()


_WORKER = pytest.StashKey[object]()


_STUDENTS = pytest.StashKey[dict]()
_EXPLAINED = pytest.StashKey[tuple[str, str]]()  # a failure's reason, from _ShortReports to the report wrapper


def is_check(item: pytest.Item) -> bool:
    """Whether ``item`` is a graded check: a test in an assignment folder using ``student``."""
    return "student" in getattr(item, "fixturenames", ()) and _assignment_of(Path(str(item.path)).parent) is not None


@functools.cache
def _assignment_of(folder: Path) -> str | None:
    found = enclosing_assignment(folder)
    return found.name if found else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not is_check(item):
            continue
        marker = item.get_closest_marker("points")
        points = float(marker.args[0]) if marker and marker.args else 1.0
        item.user_properties += [
            ("convgrade_points", points),
            ("convgrade_assignment", _assignment_of(Path(str(item.path)).parent)),
            ("convgrade_task", _task_of(item)),
            ("convgrade_check", _check_of(item)),
            ("convgrade_hidden", HIDDEN_TESTS in Path(str(item.path)).parts),
        ]


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
    student_module.forget_calls()


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
        reason, details, concise = explain(excinfo.value, item)
        if not (concise or item.config.stash.get(BATCH, False)):
            item.stash[_EXPLAINED] = (reason, details)  # for the wrapper below, after pytest's report
            return None
        sections = [(f"Captured {key} {when}", text) for when, key, text in item._report_sections if when == call.when]
        return pytest.TestReport(
            item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed", details or reason, call.when,
            sections, call.duration, call.start, call.stop,
            user_properties=[*item.user_properties, ("convgrade_reason", reason), ("convgrade_details", details)],
        )  # fmt: skip


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report: pytest.TestReport = yield
    explained = item.stash.get(_EXPLAINED, None)
    if explained is not None:  # pytest's own report, with its traceback: the reason rides along
        del item.stash[_EXPLAINED]
        report.user_properties += [("convgrade_reason", explained[0]), ("convgrade_details", explained[1])]
    return report


def explain(exc: BaseException, item: pytest.Item) -> tuple[str, str, bool]:
    """(one-line reason, full explanation, whether that explanation replaces pytest's report).

    What the student's code printed during the check (caught by a sandboxed
    worker) ends the explanation.
    """
    reason, details, concise = _explain(exc, item)
    printed = student_module.printed_output()
    if printed:
        details = f"{details or reason}\n  your code printed:\n" + textwrap.indent(printed.rstrip("\n"), "    | ")
    return reason, details, concise


def _explain(exc: BaseException, item: pytest.Item) -> tuple[str, str, bool]:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]  # several failures at once: explain the first
    notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
    if isinstance(exc, CheckFailure):
        return exc.reason, f"{exc}{notes}", True
    call = student_call_of(exc)
    if call is not None:
        function = call.split("(")[0]
        if isinstance(exc, NotImplementedError):
            missing = str(exc) if str(exc).isidentifier() else function
            needed = "" if missing == function else f" (needed by `{function}`)"
            return f"not implemented yet: `{missing}`{needed}", f"not implemented yet: `{missing}`{needed}\n  call: {call}", True
        frames = "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}' for f in exc.convgrade_frames)
        message = f"{type(exc).__name__}: {exc}"
        reason = f"`{function}` raised {message.splitlines()[0]}"
        return reason, f"`{function}` raised {message}\n  call: {call}{frames}{notes}", True
    if isinstance(exc, AssertionError):
        text = str(exc).strip() or "assertion failed"
        return text.splitlines()[0], text, False
    if isinstance(exc, pytest.fail.Exception):
        return str(exc).splitlines()[0], str(exc), False
    return f"error in the check itself: {type(exc).__name__}: {exc}", "", False


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    board: Scoreboard | None = config.pluginmanager.get_plugin(SCOREBOARD)
    if not board or not board.results or config.getoption("no_score_table"):
        return
    from autograder.report import score_table_text

    terminalreporter.write_sep("=", "convgrade score")
    terminalreporter.write(score_table_text(board, width=terminalreporter._tw.fullwidth))
