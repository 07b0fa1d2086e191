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
"""

from __future__ import annotations

import contextlib
import io
import warnings
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
