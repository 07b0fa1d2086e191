"""Authoring without package edits: `convgrade new` scaffolds an assignment that release, check and grade accept at once."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.scaffold import ScaffoldError, new_assignment

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(ROOT / ".venv" / "bin" / "convgrade")


def _run(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVGRADE_SECRET_FILE": str(course / "secret"), "COLUMNS": "200"}
    return subprocess.run([CONVGRADE, *args], cwd=course, capture_output=True, text=True, timeout=300, env=env)


def test_new_then_release_check_and_grade_work_with_no_other_edit(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)  # nbgrader releases the notebook with the course's config
    made = _run(course, "new", "11_example", "--module", "example", "--notebook")
    assert made.returncode == 0, made.stderr
    assert sorted(p.relative_to(course / "source").as_posix() for p in (course / "source").rglob("*") if p.is_file()) == [
        "11_example/11_example.ipynb", "11_example/assignment.toml", "11_example/example.py",
        "11_example/hidden_tests/test_example_hidden.py", "11_example/tests/test_example.py",
    ]  # fmt: skip
    released = _run(course, "release")
    assert released.returncode == 0, released.stderr
    stub = (course / "assignments" / "11_example" / "example.py").read_text()
    assert "raise NotImplementedError" in stub and "x + x" not in stub, "the solution stays out of the student's release"
    assert not (course / "assignments" / "11_example" / "hidden_tests").exists()
    checked = _run(course, "check", "11_example", "--path", "solutions/11_example")
    assert checked.returncode == 0 and "visible total: 60/60 points" in checked.stdout, checked.stdout + checked.stderr
    assert "40 more points in hidden checks" in checked.stdout
    for student, tree in (("ada", "solutions"), ("ben", "assignments")):  # the reference, and the untouched stub
        (course / "submitted" / student / "11_example").mkdir(parents=True)
        shutil.copy(course / tree / "11_example" / "example.py", course / "submitted" / student / "11_example")
    graded = _run(course, "grade", "submitted", "--out", "out", "-j", "1", "--no-class-page")
    assert graded.returncode == 0, graded.stderr
    with open(course / "out" / "grades.csv", newline="") as file:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"]), row["status"]) for row in csv.DictReader(file)}
    assert scores == {"ada": (100, 100, "graded"), "ben": (0, 100, "graded")}
    assert _run(course, "release", "--check").returncode == 0, "the release it made is the release it checks"


@pytest.mark.parametrize(
    "name, module, complaint",
    [("example", "example", "not an assignment name"), ("11_example", "class", "cannot be a module"), ("03_more", "more", "already has 03_padding")],
)
def test_new_refuses_a_bad_name_a_bad_module_and_a_taken_number(name, module, complaint):
    with pytest.raises(ScaffoldError, match=complaint):
        new_assignment(ROOT / "source", name, module)
