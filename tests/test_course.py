"""The course as authored: every check states its points and what it checks."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from autograder.assignment import assignments_in

ROOT = Path(__file__).resolve().parents[1]
COURSE = assignments_in(ROOT / "source")


def _decorators(node: ast.AST) -> list[str]:
    return [ast.unparse(d) for d in getattr(node, "decorator_list", [])]


def _checks(assignment):
    """(file, class, test function) for every test in the assignment's test files."""
    for path in sorted([*assignment.visible_tests.glob("test_*.py"), *assignment.hidden_tests.glob("test_*.py")]):
        tree = ast.parse(path.read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
                yield path, cls, fn
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
            yield path, None, fn


def test_every_folder_of_source_is_a_numbered_assignment_with_visible_and_hidden_checks():
    """The course is what source/ holds (discovered, never listed here): NN_name folders, numbered once each."""
    folders = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert [a.name for a in COURSE] == folders != [], "a folder of source/ without assignment.toml"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", name) for name in folders), folders
    assert len({name[:2] for name in folders}) == len(folders), "two assignments share a number"
    for assignment in COURSE:
        assert list(assignment.visible_tests.glob("test_*.py")), assignment.name
        assert list(assignment.hidden_tests.glob("test_*.py")), assignment.name


@pytest.mark.parametrize("assignment", COURSE, ids=lambda a: a.name)
def test_every_check_has_points_a_docstring_and_a_student(assignment):
    problems = []
    for path, cls, fn in _checks(assignment):
        where = f"{path.relative_to(ROOT)}::{cls.name + '::' if cls else ''}{fn.name}"
        marks = _decorators(fn) + (_decorators(cls) if cls else [])
        if not any(mark.startswith("pytest.mark.points(") for mark in marks):
            problems.append(f"{where}: no @pytest.mark.points")
        if not ast.get_docstring(fn):
            problems.append(f"{where}: no docstring (the line students see)")
        if "student" not in [arg.arg for arg in fn.args.args]:
            problems.append(f"{where}: does not use the student fixture")
    assert problems == []


@pytest.mark.parametrize("assignment", COURSE, ids=lambda a: a.name)
def test_every_public_function_has_a_visible_check(assignment):
    module = ast.parse(assignment.module_file.read_text())
    exported = next(
        ast.literal_eval(n.value) for n in module.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__"
    )
    visible = "\n".join(p.read_text() for p in assignment.visible_tests.glob("test_*.py"))
    assert [name for name in exported if f"student.{name}(" not in visible] == []


@functools.cache
def _collected() -> dict[str, list[dict]]:
    """Every check of the course, collected in one pytest session, by assignment (once for the tests that read them)."""
    from autograder.checks.rubric import collect_checks

    checks: dict[str, list[dict]] = {a.name: [] for a in COURSE}
    for check in collect_checks(*(a.folder for a in COURSE)):
        checks[check["assignment"]].append(check)
    return checks


def _rubric_checks(assignment):
    return _collected()[assignment.name]


@pytest.mark.parametrize("assignment", COURSE, ids=lambda a: a.name)
def test_the_rubric_measures_convolution_not_defensive_programming(assignment):
    """Validation at most 10% of the points, a function's error cases in at most one visible and one hidden check."""
    checks = _rubric_checks(assignment)
    total = sum(check["points"] for check in checks)
    errors = [check for check in checks if check["category"] == "errors"]
    assert total == pytest.approx(assignment.rubric.points)
    assert sum(check["points"] for check in errors) <= 0.10 * assignment.rubric.points + 1e-6
    for task in {check["task"] for check in errors}:
        of_task = [check for check in errors if check["task"] == task]
        assert len([c for c in of_task if c["hidden"]]) <= 1 and len([c for c in of_task if not c["hidden"]]) <= 1, (
            f"{task}: its error cases share one visible and one hidden check, not a check each"
        )


@pytest.mark.parametrize("assignment", COURSE, ids=lambda a: a.name)
def test_nothing_hidden_is_not_visible_once(assignment):
    """Every category a function's hidden checks grade is exercised by one of its visible checks."""
    checks = _rubric_checks(assignment)
    visible = {(check["task"], check["category"]) for check in checks if not check["hidden"]}
    hidden = {(check["task"], check["category"]) for check in checks if check["hidden"]}
    assert sorted(hidden - visible) == [], "(function, category) graded only by hidden checks"


def test_a_self_check_says_what_the_hidden_checks_hold(tmp_path):
    """The visible total and the hidden checks' points add up to the assignment's points."""
    import subprocess

    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "convgrade"), "check", "03_padding"], cwd=ROOT, capture_output=True, text=True, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"}
    )
    visible = re.search(r"visible total: [\d.]+/([\d.]+) points", done.stdout)
    hidden = re.search(r"([\d.]+) more points in hidden checks, graded when you hand in: (.*)", done.stdout)
    assert visible and hidden, done.stdout[-2000:]
    assert float(visible.group(1)) + float(hidden.group(1)) == pytest.approx(100)
    assert "errors for bad arguments" in hidden.group(2)
