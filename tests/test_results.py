"""results.json for Gradescope, feedback for students, the grades CSV: correct, escaped, atomic."""

from __future__ import annotations

import csv
import json

import jinja2
import pytest

from autograder import atomic
from autograder.atomic import atomic_write_text
from autograder.grading import results
from autograder.grading.results import (
    GRADES_COLUMNS,
    ResultsError,
    read_results_json,
    write_feedback,
    write_grades_csv,
    write_results_json,
)
from autograder.scores import CheckResult, Scoreboard

# Gradescope's autograder results format, https://gradescope-autograders.readthedocs.io/en/latest/specs/
# ("Output format"; also gradescope/autograder_samples, docs/specs.md). Every key is optional there;
# these are all the keys the spec defines, so anything else we wrote would be ignored or rejected.
SPEC_TOP_LEVEL_KEYS = {
    "score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
    "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}
SPEC_TEST_KEYS = {
    "score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
    "tags", "visibility", "extra_data",
}
SPEC_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
SPEC_STATUSES = {"passed", "failed"}
SPEC_FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def result(**overrides) -> CheckResult:
    fields = dict(nodeid="t", assignment="03_padding", task="pad2d", check="a check", max_points=2.0, passed=False, reason="")
    return CheckResult(**{**fields, **overrides})


def board() -> Scoreboard:
    return Scoreboard([
        result(check="zeros padding", passed=True, max_points=1.5),
        result(check="reflect padding", reason="wrong values: likely symmetric", details="wrong values: likely symmetric\n  call: pad2d(x)"),
        result(task="conv2d_same", check="same shape", passed=True, max_points=0.5),
        result(task="conv2d_same", check="hidden edge case", hidden=True, reason="wrong shape", details="call: conv2d_same(SECRET_INPUT)"),
        result(task="conv2d_same", check="hidden pass", hidden=True, passed=True, max_points=0.25),
    ])


def test_results_json_has_only_spec_fields_with_spec_values(tmp_path):
    path = tmp_path / "out" / "results.json"
    write_results_json(path, board(), execution_time=3.14159, output="graded by convgrade")
    data = read_results_json(path)
    assert set(data) <= SPEC_TOP_LEVEL_KEYS
    assert {"score", "execution_time", "output", "tests"} <= set(data)
    assert data["stdout_visibility"] == "hidden" and data["output"] == "graded by convgrade"
    assert data["execution_time"] == pytest.approx(3.14, abs=0.01)
    for test in data["tests"]:
        assert set(test) <= SPEC_TEST_KEYS
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in SPEC_STATUSES and test["visibility"] in SPEC_VISIBILITIES
        assert test["output_format"] in SPEC_FORMATS and test["name_format"] in SPEC_FORMATS
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0)


def test_results_json_scores_sum_and_tests_keep_their_order(tmp_path):
    write_results_json(tmp_path / "results.json", board(), execution_time=1)
    data = read_results_json(tmp_path / "results.json")
    assert data["score"] == sum(test["score"] for test in data["tests"]) == 2.25
    assert sum(test["max_score"] for test in data["tests"]) == 6.25
    assert [test["name"] for test in data["tests"]] == [
        "pad2d: zeros padding", "pad2d: reflect padding", "conv2d_same: same shape",
        "conv2d_same: hidden edge case", "conv2d_same: hidden pass",
    ]
    assert data["tests"][1]["output"] == "wrong values: likely symmetric\n  call: pad2d(x)"
    assert data["tests"][0]["output"] == ""


def test_float_noise_does_not_reach_the_total(tmp_path):
    noisy = Scoreboard([result(passed=True, max_points=0.1), result(passed=True, max_points=0.2)])
    write_results_json(tmp_path / "results.json", noisy, execution_time=0)
    assert read_results_json(tmp_path / "results.json")["score"] == 0.3


def test_hidden_checks_are_shown_after_publishing_with_the_reason_only(tmp_path):
    write_results_json(tmp_path / "results.json", board(), execution_time=1)
    tests = {test["name"]: test for test in read_results_json(tmp_path / "results.json")["tests"]}
    assert tests["conv2d_same: hidden edge case"]["visibility"] == "after_published"
    assert tests["conv2d_same: hidden pass"]["visibility"] == "after_published"
    assert tests["pad2d: reflect padding"]["visibility"] == "visible"
    assert tests["conv2d_same: hidden edge case"]["output"] == "wrong shape"
    assert "SECRET_INPUT" not in (tmp_path / "results.json").read_text()


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"tests": []}'])
def test_reading_a_file_that_is_not_results_says_so(tmp_path, text):
    (tmp_path / "results.json").write_text(text)
    with pytest.raises(ResultsError, match="results.json"):
        read_results_json(tmp_path / "results.json")
    with pytest.raises(ResultsError, match="does not exist"):
        read_results_json(tmp_path / "missing.json")


def feedback(tmp_path, scoreboard: Scoreboard, title: str = "03 Padding") -> tuple[str, str]:
    write_feedback(tmp_path / "fb", scoreboard, student="alice", assignment="03_padding", title=title)
    return (tmp_path / "fb" / "feedback.md").read_text(), (tmp_path / "fb" / "feedback.html").read_text()


def test_feedback_shows_title_score_and_every_check(tmp_path):
    md, html = feedback(tmp_path, board())
    for text in (md, html):
        assert "03 Padding" in text and "alice" in text and "03_padding" in text
        assert "2.25 / 6.25" in text
        for check in board().results:
            assert check.check in text
        assert "wrong values: likely symmetric\n  call: pad2d(x)" in text  # the details, preformatted
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(board().results)
    assert "| pad2d | reflect padding | 0/2 | FAIL | wrong values: likely symmetric |" in table
    assert "| conv2d_same | hidden pass (hidden) | 0.25/0.25 | pass |  |" in table


def test_feedback_summarises_hidden_failures_by_their_reason(tmp_path):
    md, html = feedback(tmp_path, board())
    assert "SECRET_INPUT" not in md and "SECRET_INPUT" not in html
    assert "hidden edge case" in md and "wrong shape" in md


def test_feedback_html_escapes_what_a_submission_says(tmp_path):
    evil = "raised ValueError: <script>alert('x')</script>"
    md, html = feedback(tmp_path, Scoreboard([result(reason=evil, details=evil + "\n```\n# not a heading")]), title="<b>T</b>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>T</b>" not in html
    table_row = next(line for line in md.splitlines() if line.startswith("| pad2d"))
    assert "<script>" not in table_row
    fence = "````"  # longer than the ``` inside the details, so they cannot end the block early
    assert f"{fence}text\n{evil}\n```\n# not a heading\n{fence}" in md


def test_every_check_passing_says_so(tmp_path):
    md, html = feedback(tmp_path, Scoreboard([result(passed=True)]))
    assert "Every check passes." in md and "Every check passes." in html
    assert "What went wrong" not in md


def test_the_templates_ship_with_the_package():
    loader = jinja2.PackageLoader("autograder.grading", "templates")
    assert {"feedback.md.j2", "feedback.html.j2"} <= set(loader.list_templates())


def test_grades_csv_has_the_columns_in_order_and_sorted_rows(tmp_path):
    rows = [
        {"student_id": "bob", "assignment": "03_padding", "score": 0, "max_score": 10, "status": "bad archive"},
        {"student_id": "alice", "assignment": "04_channels", "score": 0, "max_score": 8, "status": "no submission"},
        {"student_id": "alice", "assignment": "03_padding", "score": 7.5, "max_score": 10, "status": "graded"},
    ]
    path = tmp_path / "grades" / "grades.csv"
    write_grades_csv(path, rows)
    with path.open(newline="") as file:
        read = list(csv.reader(file))
    assert read[0] == list(GRADES_COLUMNS) == [
        "student_id", "assignment", "score", "max_score", "status", "raw_score", "late_days", "handed_in", "review", "weight",
    ]  # fmt: skip
    assert read[1:] == [
        ["alice", "03_padding", "7.5", "10", "graded", "", "", "", "", ""],
        ["alice", "04_channels", "0", "8", "no submission", "", "", "", "", ""],
        ["bob", "03_padding", "0", "10", "bad archive", "", "", "", "", ""],
    ]


def test_grades_rows_with_other_columns_are_refused(tmp_path):
    with pytest.raises(ResultsError, match="needs the columns"):
        write_grades_csv(tmp_path / "grades.csv", [{"student_id": "a", "assignment": "x", "score": 1}])
    assert not (tmp_path / "grades.csv").exists()


def test_atomic_write_makes_folders_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a" / "b" / "results.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "grades.csv"
    atomic_write_text(path, "one")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    atomic_write_text(path, "two")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_whole_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new, but never finished")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_an_error_while_rendering_feedback_leaves_both_old_files_intact(tmp_path, monkeypatch):
    feedback(tmp_path, board())
    old = {name: (tmp_path / "fb" / name).read_text() for name in ("feedback.md", "feedback.html")}

    def broken(value):
        if value == 0.25:
            raise RuntimeError("template blew up")
        return f"{value:g}"

    monkeypatch.setattr(results, "points_text", broken)
    with pytest.raises(RuntimeError, match="template blew up"):
        feedback(tmp_path, board())
    assert {name: (tmp_path / "fb" / name).read_text() for name in old} == old
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == ["feedback.html", "feedback.md"]


def test_a_results_json_that_fails_to_serialise_leaves_the_old_one(tmp_path):
    path = tmp_path / "results.json"
    write_results_json(path, board(), execution_time=1)
    before = path.read_text()
    with pytest.raises(TypeError):
        write_results_json(path, Scoreboard([result(max_points=object())]), execution_time=1)
    assert path.read_text() == before
    assert json.loads(before)["score"] == 2.25


def test_a_failure_of_a_function_that_uses_a_failing_one_is_traced_to_it_and_grouped():
    checks = Scoreboard([
        result(task="pad2d", reason="wrong values: likely symmetric"),
        result(task="pad2d", check="reflect", reason="wrong values"),
        result(task="conv2d_same", reason="wrong values: 3 of 12 elements differ"),
        result(task="conv2d_same", check="ok", passed=True),
        result(task="same_padding", reason="returned 2, expected 1"),
        result(task="conv2d", reason="no ValueError", category="errors"),
        result(task="two_layer", reason="wrong values: ReLU missing"),
    ])  # fmt: skip
    traced = checks.traced({"03_padding": {"conv2d_same": ("pad2d", "same_padding"), "two_layer": ("conv2d",)}})
    assert traced.results[-1].reason == "wrong values: ReLU missing", "a function that only validates poorly is not the cause"
    conv = traced.results[2]
    assert conv.reason == (
        "this uses your `pad2d`, which fails 2 checks and your `same_padding`, which fails 1 check: "
        "fix them first; wrong values: 3 of 12 elements differ"
    )
    assert conv.follows == ("pad2d", "same_padding")
    assert [r.reason for r in traced.results if r is not conv] == [r.reason for r in checks.results if r.task != "conv2d_same" or r.passed]
    assert checks.traced({}).results == checks.results, "no [uses]: nothing traced"
    md = results.render_feedback(traced, student="s", assignment="03_padding", title="Padding")["feedback.md"]
    what_went_wrong, follow_ons = md.split("## What went wrong")[1].split("## Follow-on failures")
    assert "3 of 12 elements differ" not in what_went_wrong and "3 of 12 elements differ" in follow_ons
    assert "returned 2, expected 1" in what_went_wrong
    assert "(1 of 7 checks pass)" in md
