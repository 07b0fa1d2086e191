"""A batch run (autograder.checks.batch.run_batch) scores every check as a run of its own would.

Plain checks run without pytest's hooks per phase; checks with a marker that a
hook acts on (skip, xfail, warnings turned into errors) go through pytest's own
protocol. Either way the scoreboard must read the same.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.assignment import Assignment, assignments_in
from autograder.checks.batch import run_batch
from autograder.checks.run import run_checks

ROOT = Path(__file__).resolve().parents[1]


def outcomes(board):
    return [(result.nodeid, result.passed, result.points, result.reason) for result in board.results]


def batch(assignment, tests, folders):
    boards = []
    run_batch(assignment, tests, [(str(folder), folder) for folder in folders], lambda key, board, seconds: boards.append(board))
    return boards


PERSONAS = ("ben", "cleo", "eve", "ada")  # three who fail some checks, one who passes all
BY_EVERY_PERSONA = [a.name for a in assignments_in(ROOT / "source") if all((ROOT / "examples" / "submitted" / p / a.name).is_dir() for p in PERSONAS)]


@pytest.mark.parametrize("assignment", BY_EVERY_PERSONA)
def test_every_check_gets_the_result_and_reason_of_a_run_of_its_own(assignment):
    source = Assignment.load(ROOT / "source" / assignment)
    tests = [source.visible_tests, source.hidden_tests]
    folders = [ROOT / "examples" / "submitted" / persona / assignment for persona in PERSONAS]
    alone = [outcomes(run_checks(source, tests, folder, extra_args=["--no-shrink"]).board) for folder in folders]
    assert any(not passed for run in alone[:3] for _, passed, _, _ in run), "ben, cleo and eve fail some checks"
    assert all(passed for _, passed, _, _ in alone[3]), "ada passes everything"
    assert [outcomes(board) for board in batch(source, tests, folders)] == alone


HOOKED = textwrap.dedent(
    """
    import warnings

    import pytest

    @pytest.mark.points(1)
    def test_plain(student):
        assert student.double(2) == 4

    @pytest.mark.points(2)
    def test_plain_failing(student):
        assert student.double(3) == 7, "3 doubled is not 7"

    @pytest.mark.points(3)
    @pytest.mark.skipif(True, reason="not this term")
    def test_skipped(student):
        assert False

    @pytest.mark.points(4)
    @pytest.mark.xfail(reason="known to fail", strict=True)
    def test_expected_to_fail(student):
        assert student.double(1) == 3

    @pytest.mark.points(5)
    @pytest.mark.filterwarnings("error")
    def test_a_warning_is_an_error_here(student):
        student.double(1)
        warnings.warn("careful")

    @pytest.mark.points(6)
    @pytest.mark.filterwarnings("ignore:careful")
    def test_a_warning_is_ignored_here(student):
        warnings.warn("careful")
        assert student.double(1) == 2
    """
)


def test_checks_with_markers_that_hooks_act_on_score_as_in_a_run_of_their_own(tmp_path):
    folder = tmp_path / "01_demo"
    (folder / "tests").mkdir(parents=True)
    (folder / "assignment.toml").write_text('title = "Demo"\nmodule = "demo"\nforbidden = []\n')
    (folder / "demo.py").write_text("def double(x):\n    return 2 * x\n")
    (folder / "tests" / "test_demo.py").write_text(HOOKED)
    assignment = Assignment.load(folder)
    alone = outcomes(run_checks(assignment, [folder / "tests"], folder).board)
    assert [(nodeid.split("::")[-1], passed) for nodeid, passed, _, _ in alone] == [
        ("test_plain", True),
        ("test_plain_failing", False),
        ("test_expected_to_fail", False),  # an xfail is not a pass: no points
        ("test_a_warning_is_an_error_here", False),
        ("test_a_warning_is_ignored_here", True),
    ], "a skipped check is not counted; a warning made an error fails its check"
    assert [outcomes(board) for board in batch(assignment, [folder / "tests"], [folder, folder])] == [alone, alone]
