"""Error-case checks pay only when the function also works: a module that raises for everything earns no validation points.

Every function of two hostile submissions raises, whatever it is given: one
``ValueError("bad input")``, the other ``TypeError("bad input")``. Each would pass
every error case that names no argument (and, for the second, every ``TypeError``
case). Graded by ``convgrade grade`` with the course's visible and hidden checks,
they must earn 0 of the 10 points of every assignment's ``errors`` category,
because each error check first makes a valid call of the same function
(``compare.error_cases(valid=..., expected=...)``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.assignment import Assignment, assignments_in
from autograder.checks.rubric import collect_checks

ROOT = Path(__file__).resolve().parents[1]
COURSE = assignments_in(ROOT / "source")
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
RAISES = {"raises-value-error": "ValueError", "raises-type-error": "TypeError"}


def always_raising(assignment: Assignment, error: str) -> str:
    """The assignment's module with every function's and method's body replaced by ``raise <error>("bad input")``, signatures kept.

    Its imports and classes stay (10_capstone's ``SmallCNN``), each class holding its methods alone.
    """
    tree = ast.parse(assignment.module_file.read_text())
    kept = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
    functions = [node for node in kept if isinstance(node, ast.FunctionDef)]
    for cls in (node for node in kept if isinstance(node, ast.ClassDef)):
        cls.body = [item for item in cls.body if isinstance(item, ast.FunctionDef)] or ast.parse("pass").body
        functions += [item for item in cls.body if isinstance(item, ast.FunctionDef)]
    for function in functions:
        function.decorator_list = []
        function.body = ast.parse(f'raise {error}("bad input")').body
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) + "\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """Both hostile students graded on every assignment in one run: OUT/<student>/<assignment>/results.json."""
    submitted, out = tmp_path_factory.mktemp("raising-class"), tmp_path_factory.mktemp("raising-out")
    for student, error in RAISES.items():
        for assignment in COURSE:
            folder = submitted / student / assignment.name
            folder.mkdir(parents=True)
            (folder / f"{assignment.module}.py").write_text(always_raising(assignment, error))
    done = subprocess.run(
        [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "2", "--root", str(ROOT), "--no-class-page"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def error_checks() -> dict[str, set[str]]:
    """The node ids of every assignment's error checks, visible and hidden, as results.json names them (one collection)."""
    found: dict[str, set[str]] = {assignment.name: set() for assignment in COURSE}
    for check in collect_checks(*(assignment.folder for assignment in COURSE)):
        if check["category"] == "errors":
            found[check["assignment"]].add(check["nodeid"].removeprefix(f"{check['assignment']}/"))
    return found


@pytest.mark.parametrize("student", RAISES)
@pytest.mark.parametrize("assignment", COURSE, ids=lambda a: a.name)
def test_an_always_raising_module_earns_nothing_for_errors(graded, error_checks, assignment, student):
    """Every error check of the assignment, visible and hidden, fails with no partial credit, saying the valid call raised."""
    errors = error_checks[assignment.name]
    assert errors, f"{assignment.name} has error checks"
    results = json.loads((graded / student / assignment.name / "results.json").read_text())
    tests = [test for test in results["tests"] if test["extra_data"]["nodeid"] in errors]
    assert {test["extra_data"]["nodeid"] for test in tests} == errors, "every error check was graded"
    assert sum(test["max_score"] for test in tests) == pytest.approx(0.10 * assignment.rubric.points)
    earned = {test["extra_data"]["nodeid"]: test["score"] for test in tests if test["score"] > 0}
    assert earned == {}, f"{student} earned points for raising on {assignment.name}"
    for test in tests:
        assert test["output"].startswith("raises for valid input too: "), test["output"][:300]
