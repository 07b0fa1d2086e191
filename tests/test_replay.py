"""Replayed property tests (autograder.checks.replay) give Hypothesis's own verdicts, on Hypothesis's own examples."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.assignment import Assignment
from autograder.inputs import conv_cases
from autograder.checks.replay import ReplayExamples, record
from autograder.checks.batch import run_batch
from autograder.checks.run import run_checks

ROOT = Path(__file__).resolve().parents[1]
PROFILE = settings(derandomize=True, database=None, max_examples=20, deadline=None)


def test_recorded_examples_are_those_hypothesis_runs_the_body_on():
    seen = []

    @PROFILE
    @given(n=st.integers(0, 1000), case=conv_cases(stride=True, padding=True))
    def check(label, n, case):
        seen.append({"n": n, "case": case})

    check(label="x")
    recorded = record(check, {"label": "x"})
    assert len(recorded) == len(seen) == 20
    for mine, theirs in zip(recorded, seen):
        assert mine["n"] == theirs["n"]
        assert torch.equal(mine["case"].input, theirs["case"].input) and mine["case"].stride == theirs["case"].stride


def test_a_replayed_failure_stops_at_hypothesis_first_failing_example_and_names_it(tmp_path):
    (tmp_path / "test_property.py").write_text(
        textwrap.dedent(
            """
            from hypothesis import given, settings, strategies as st

            SEEN = []

            @settings(derandomize=True, database=None, max_examples=20)
            @given(n=st.integers(0, 100))
            def test_small(n):
                SEEN.append(n)
                assert n < 40, f"{n} is too big"
            """
        )
    )

    outcomes = []

    class Spy:
        def pytest_runtest_logreport(self, report):
            if report.when == "call":
                outcomes.append(report)

    args = [str(tmp_path), "-q", "-p", "no:cacheprovider", "--import-mode=importlib"]
    assert pytest.main(args, plugins=[Spy(), ReplayExamples()]) == 1
    replayed = outcomes.pop()
    assert "Falsifying example: test_small(n=" in str(replayed.longrepr)
    failing = int(str(replayed.longrepr).split("Falsifying example: test_small(n=")[1].split(")")[0])
    assert failing >= 40


def test_no_check_in_the_course_steers_generation_by_its_outcome():
    """Replay relies on it: no assume(), target() or st.data() in any test of source/."""
    steering = {"assume", "target", "data"}
    for path in sorted((ROOT / "source").glob("*/*tests/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                assert name not in steering, f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()"


@pytest.mark.parametrize(
    "student, assignment",
    [("ben", "01_convolution"), ("ben", "07_kaiming_init"), ("cleo", "06_stride")],
)
def test_a_batch_run_gives_every_check_the_verdict_of_a_run_with_hypothesis(student, assignment):
    """Realistic mistakes that property tests catch: the same checks pass and fail either way."""
    source = Assignment.load(ROOT / "source" / assignment)
    folder = ROOT / "examples" / "submitted" / student / assignment
    tests = [source.visible_tests, source.hidden_tests]
    plain = run_checks(source, tests, folder, extra_args=["--no-shrink"]).board
    boards = []
    run_batch(source, tests, [("once", folder), ("twice", folder)], lambda key, board, seconds: boards.append(board))
    expected = {result.nodeid: result.passed for result in plain.results}
    assert not all(expected.values()), "the persona should fail some checks here"
    for board in boards:
        assert {result.nodeid: result.passed for result in board.results} == expected


def test_examples_drawn_by_one_process_are_read_by_the_others(tmp_path):
    first, second = ReplayExamples(tmp_path), ReplayExamples(tmp_path)
    drawn = [{"n": 3, "x": torch.arange(4.0)}]
    assert first._shared("test_a.py::test_b", lambda: drawn) is drawn
    kept = second._shared("test_a.py::test_b", lambda: pytest.fail("drawn a second time"))
    assert kept[0]["n"] == 3 and torch.equal(kept[0]["x"], torch.arange(4.0))
    assert [path.suffix for path in tmp_path.iterdir()] == [".pickle"], "one file per test, written whole"


def test_each_submission_gets_fresh_copies_of_the_drawn_examples():
    from autograder.checks.replay import fresh

    examples = record(_cases_check, {})
    assert len(examples) == 20
    for drawn in examples:
        copied = fresh(drawn)
        case = copied["case"]
        assert type(case) is type(drawn["case"]) and case.stride == drawn["case"].stride
        assert torch.equal(case.input, drawn["case"].input) and case.input.stride() == drawn["case"].input.stride()
        case.input.add_(1)  # a check that changes its input in place
        assert not torch.equal(case.input, drawn["case"].input), "the next submission still gets the drawn values"
        assert copied["sizes"] == drawn["sizes"] and copied["dtype"] is drawn["dtype"]


@PROFILE
@given(case=conv_cases(stride=True, padding=True), sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)), dtype=st.sampled_from([torch.float32, torch.float64]))
def _cases_check(case, sizes, dtype):
    pass
