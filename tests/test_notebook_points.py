"""Points declared once, in the checks: the release gives each graded notebook cell the points of the checks it runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from autograder.assignment import Assignment
from autograder.cli import app
from autograder.grading.nbgrader_gradebook import cell_scores, graded_cells
from autograder.release import ReleaseError
from autograder.release.plan import plan_release
from autograder.release.points import with_figure
from autograder.scaffold import new_assignment

ROOT = Path(__file__).resolve().parents[1]
NAME = "11_example"
NOTEBOOK = Path(NAME) / f"{NAME}.ipynb"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """``convgrade new 11_example --module example --notebook``: checks of 60 and 40 points, a notebook stating none."""
    new_assignment(tmp_path / "source", NAME, "example", notebook=True)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    return tmp_path


def _graded(data: bytes | str) -> dict[str, tuple[object, str]]:
    """Each graded cell of a notebook: its nbgrader points (None when absent) and its first line."""
    cells = json.loads(data)["cells"]
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: (cell["metadata"]["nbgrader"].get("points"), "".join(cell["source"]).split("\n")[0])
        for cell in cells
        if cell["metadata"].get("nbgrader", {}).get("grade")
    }


def _state(course: Path, grade_id: str, *, points: float | None = None, comment: str | None = None) -> None:
    """Make the source notebook's cell ``grade_id`` state ``points`` in its metadata, or ``comment`` as its first line."""
    path = course / "source" / NOTEBOOK
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            if points is not None:
                cell["metadata"]["nbgrader"]["points"] = points
            if comment is not None:
                lines = "".join(cell["source"]).split("\n")
                cell["source"] = "\n".join([comment, *lines[1:]])
    path.write_text(json.dumps(notebook, indent=1))


def test_a_notebook_stating_no_points_is_released_with_those_of_its_checks(course):
    source = _graded((course / "source" / NOTEBOOK).read_text())
    assert [points for points, _ in source.values()] == [None, None], "the scaffold's notebook states no points"
    plan = plan_release(course / "source")
    for tree in ("assignments", "solutions"):
        assert _graded(plan[Path(tree) / NOTEBOOK]) == {
            "test-double": (60, "# Visible checks for double (60 points): tests/test_example.py::TestDouble"),
            "hidden-double": (40, "# Hidden checks for double (40 points): they run when your work is graded."),
        }, tree
    from nbgrader.utils import compute_checksum

    released = nbformat.reads(plan[Path("assignments") / NOTEBOOK].decode(), as_version=4)
    graded = [cell for cell in released.cells if cell.metadata.nbgrader.get("grade")]
    assert graded and all(cell.metadata.nbgrader["checksum"] == compute_checksum(cell) for cell in graded), (
        "nbgrader's checksums (which hash the points) were computed after the points were filled"
    )


def test_the_gradebook_takes_an_unstated_cells_points_from_its_checks(course):
    cells = graded_cells(Assignment.load(course / "source" / NAME))
    assert [cell.max_score for cell in cells] == [None, None]
    tests = [
        {"score": 60, "max_score": 60, "extra_data": {"nodeid": "tests/test_example.py::TestDouble::test_doubles_a_row_worked_by_hand"}},
        {"score": 0, "max_score": 40, "extra_data": {"nodeid": "hidden_tests/test_example_hidden.py::TestDouble::test_doubles_float64_images", "hidden": True}},
    ]  # fmt: skip
    assert cell_scores(cells, tests, "example") == ({(NAME, "test-double"): 60, (NAME, "hidden-double"): 0}, [])


def test_a_change_of_a_checks_points_marker_is_followed_by_the_released_notebook(course):
    visible = course / "source" / NAME / "tests" / "test_example.py"
    visible.write_text(visible.read_text().replace("@pytest.mark.points(60)", "@pytest.mark.points(50)"))
    plan = plan_release(course / "source")
    # 50 and 40 declared; the rubric's 100 points make them 100 * 50/90 and 100 * 40/90 (worked by hand)
    assert _graded(plan[Path("solutions") / NOTEBOOK]) == {
        "test-double": (55.555556, "# Visible checks for double (55.56 points): tests/test_example.py::TestDouble"),
        "hidden-double": (44.444444, "# Hidden checks for double (44.44 points): they run when your work is graded."),
    }
    _state(course, "hidden-double", points=40)  # the figure from before the change, stated by hand
    with pytest.raises(ReleaseError, match=r"cell hidden-double states 40 points in its metadata, but .* are worth 44\.44"):
        plan_release(course / "source")
    _state(course, "hidden-double", points=44.44)  # to the hundredth, as figures are shown: it agrees
    assert _graded(plan_release(course / "source")[Path("assignments") / NOTEBOOK])["hidden-double"][0] == 44.444444


@pytest.mark.parametrize(
    "stated, where, figure",
    [({"points": 61}, "metadata", "61"), ({"comment": "# Visible checks for double (6 points): the doubling"}, "comment", "6")],
)
def test_stated_points_that_disagree_with_the_checks_are_refused_naming_the_notebook_cell_and_figures(course, stated, where, figure):
    _state(course, "test-double", **stated)
    with pytest.raises(ReleaseError) as error:
        plan_release(course / "source")
    message = str(error.value)
    assert message.startswith(str(course / "source" / NOTEBOOK)) and "\n" not in message
    assert f"cell test-double states {figure} points in its {where}, but the checks it runs (check('TestDouble')) are worth 60" in message


def test_release_and_release_check_refuse_wrong_points_and_write_nothing(course, monkeypatch):
    _state(course, "hidden-double", points=4)
    monkeypatch.chdir(course)
    for args in (["release", "--check"], ["release"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0, args
        assert re.search(r"error: .*11_example\.ipynb: cell hidden-double states 4 points in its metadata, .* are worth 40", result.output)
    assert not (course / "assignments").exists() and not (course / "solutions").exists()


def test_a_cell_naming_no_check_is_refused(course):
    _state(course, "test-double", comment="# Visible checks\ncheck(\"TestTriple\")")
    with pytest.raises(ReleaseError, match=r"cell test-double runs check\('TestTriple'\), which names no check of tests/test_example.py"):
        plan_release(course / "source")


@pytest.mark.parametrize(
    "source, released",
    [
        ("# Checks for pad2d (21 points)\ncheck('TestPad2d')", "# Checks for pad2d (20 points)\ncheck('TestPad2d')"),
        ("# Checks for pad2d: tests/x.py::TestPad2d\ncheck('TestPad2d')", "# Checks for pad2d (20 points): tests/x.py::TestPad2d\ncheck('TestPad2d')"),
        ("# Checks for pad2d\ncheck('TestPad2d')", "# Checks for pad2d (20 points)\ncheck('TestPad2d')"),
        ("check('TestPad2d')", "check('TestPad2d')"),
        ("### BEGIN HIDDEN TESTS\ncheck('TestPad2d', hidden=True)", "### BEGIN HIDDEN TESTS\ncheck('TestPad2d', hidden=True)"),
    ],
    ids=["replaced", "before-the-colon", "at-the-end", "no-comment", "nbgrader-marker"],
)
def test_the_comment_states_the_figure_where_the_author_put_it_or_on_its_first_line(source, released):
    assert with_figure(source, 20.0) == released


def test_one_point_is_singular_and_a_fraction_is_shown_to_the_hundredth():
    assert with_figure("# Checks (3 points)", 1.0) == "# Checks (1 point)"
    assert with_figure("# Checks (1 point)", 2 / 3) == "# Checks (0.67 points)"
