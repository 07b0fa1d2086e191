"""The course as authored: every check states its points and what it checks."""

from __future__ import annotations

import ast
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


def test_the_course_has_seven_assignments_with_visible_and_hidden_checks():
    assert [a.name for a in COURSE] == [
        "01_convolution", "02_conv_as_matmul", "03_padding", "04_channels",
        "05_stacked_filters", "06_stride", "07_kaiming_init",
    ]  # fmt: skip
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
