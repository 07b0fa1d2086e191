"""Checks from a notebook cell: ``check("TestPad2d")`` runs the pytest checks, not copies.

An assignment's notebook sits in the assignment folder, beside the student's
module and ``tests/``. A graded test cell (nbgrader) ends with a call such as::

    from autograder.notebook import check
    check("TestPad2d::test_zeros_by_hand", "TestPad2d::test_matches_F_pad")

``check`` runs those checks of ``tests/test_<module>.py`` (``hidden=True``: of
``hidden_tests/``) against the module in the notebook's folder, loaded afresh so
the student's latest edit counts, prints a table of checks, points and reasons,
and returns the points earned. nbgrader reads a number as the cell's output as
partial credit, so a notebook whose graded cells carry the points of the checks
they run scores exactly what ``convgrade grade`` gives.

Hidden tests are looked up beside the notebook, then in the course's
``source/<assignment>/hidden_tests`` (which is where they are while
``nbgrader autograde`` runs under the course root).

A cell that shows the student's functions at work (a figure, a table) wraps
them in ``with until_implemented():``, so that before the student has written a
function the cell says "implement `pad2d` to see this figure" instead of
stopping the notebook, and draws no empty axes.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from autograder.assignment import HIDDEN_TESTS, Assignment, AssignmentError, enclosing_assignment, find_course_root


def check(*names: str, hidden: bool = False, folder: Path | str | None = None) -> float:
    """Run the named checks against the module in ``folder`` (the notebook's); print them and return the points earned.

    ``names`` are test classes (``"TestPad2d"``) or single checks
    (``"TestPad2d::test_zeros_by_hand"``) of the assignment's visible test file,
    or of its hidden one with ``hidden=True``.
    """
    from autograder.checks.run import run_checks
    from autograder.checks.tables import score_table_text

    if not names:
        raise TypeError("check() needs the names of the checks to run, e.g. check('TestPad2d')")
    assignment = _assignment(Path(folder) if folder is not None else Path.cwd())
    tests = _test_file(assignment, hidden)
    selected = [f"{tests}::{name}" for name in names]
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")  # nbgrader gives no credit to a cell that writes to stderr
        run = run_checks(
            assignment, [], assignment.folder, nodeids=selected,
            extra_args=["-p", "no:warnings", "--capture=no", "--no-shrink"],
        )  # fmt: skip
    found = {result.nodeid.split("::", 1)[1].split("[")[0] for result in run.board.results}
    missing = [name for name in names if not any(node == name or node.startswith(f"{name}::") for node in found)]
    if missing or not run.board.results:
        raise LookupError(f"no check named {', '.join(missing or names)} in {tests.name}:\n{run.pytest_output[-1500:]}")
    print(score_table_text(run.board, width=100), end="")
    return run.board.score


@contextlib.contextmanager
def until_implemented(see: str = "this figure") -> Iterator[None]:
    """Stop the block quietly at a function the student has not written yet: say which, and draw nothing.

    Only a stub's ``NotImplementedError`` (raised by a function with its own name
    as the message, as the released module's stubs do) is caught: any other
    error, a student's bug, keeps its traceback. The figures the block opened
    are closed, so no half-drawn axes appear under the message.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")  # only if the notebook uses it: never imported here
    before = set(pyplot.get_fignums()) if pyplot is not None else set()
    try:
        yield
    except NotImplementedError as error:
        function = _stub_name(error)
        if function is None:
            raise
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            for number in set(pyplot.get_fignums()) - before:
                pyplot.close(number)
        print(f"implement `{function}` to see {see}")


def _stub_name(error: NotImplementedError) -> str | None:
    """The function whose stub raised ``error`` (``raise NotImplementedError("pad2d")`` in ``pad2d``), else None."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    function = trace.tb_frame.f_code.co_name if trace is not None else None
    return function if error.args == (function,) else None


def _assignment(folder: Path) -> Assignment:
    found = enclosing_assignment(folder)
    if found is None:
        raise AssignmentError(f"{folder} is not inside an assignment folder (no assignment.toml above it)")
    return found


def _test_file(assignment: Assignment, hidden: bool) -> Path:
    """``tests/test_<module>.py``, or the hidden one beside the notebook or in the course's ``source/``."""
    if not hidden:
        path = assignment.visible_tests / f"test_{assignment.module}.py"
    else:
        name = f"test_{assignment.module}_hidden.py"
        path = assignment.hidden_tests / name
        root = find_course_root(assignment.folder)
        if not path.is_file() and root is not None:
            path = root / "source" / assignment.name / HIDDEN_TESTS / name
    if not path.is_file():
        kind = "hidden tests" if hidden else "tests"
        raise AssignmentError(f"the {kind} of {assignment.name} are not here: {path}")
    return path
