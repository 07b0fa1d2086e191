"""The release: stubs for students, the reference for graders, nothing leaked."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from autograder.assignment import assignments_in
from autograder.release import ReleaseError
from autograder.release.markers import BEGIN_SOLUTION, END_SOLUTION, reference_module, solution_regions, stub_module
from autograder.release.plan import plan_release, stale_files, write_release

ROOT = Path(__file__).resolve().parents[1]
MODULE = textwrap.dedent(
    '''
    import torch

    def helper(x):
        """Given to students in full."""
        return x + 1

    def double(x: torch.Tensor) -> torch.Tensor:
        """Double x."""
        ### BEGIN SOLUTION
        y = x * 2
        return y
        ### END SOLUTION

    class Box:
        def area(self, w, h):
            ### BEGIN SOLUTION
            return w * h
            ### END SOLUTION
    '''
)


def make_course(tmp_path: Path, module: str = MODULE) -> Path:
    """A one-assignment course in tmp_path."""
    folder = tmp_path / "source" / "01_demo"
    (folder / "tests").mkdir(parents=True)
    (folder / "hidden_tests").mkdir()
    (folder / "assignment.toml").write_text('title = "Demo"\nmodule = "demo"\n')
    (folder / "demo.py").write_text(module)
    (folder / "tests" / "test_demo.py").write_text("def test_visible(student):\n    pass\n")
    (folder / "hidden_tests" / "test_demo_hidden.py").write_text("SECRET = 'hidden check'\n")
    return tmp_path


def test_stub_replaces_each_region_with_a_named_not_implemented():
    stub = stub_module(MODULE, Path("demo.py"))
    assert 'raise NotImplementedError("double")' in stub
    assert 'raise NotImplementedError("area")' in stub
    assert "y = x * 2" not in stub and "return w * h" not in stub
    assert "return x + 1" in stub, "code outside the markers is given to students"
    assert '"""Double x."""' in stub
    ast.parse(stub)


def test_stub_keeps_the_indentation_of_the_region():
    stub = stub_module(MODULE, Path("demo.py"))
    assert '\n        raise NotImplementedError("area")\n' in stub
    assert '\n    raise NotImplementedError("double")\n' in stub


def test_reference_drops_only_the_marker_lines():
    reference = reference_module(MODULE, Path("demo.py"))
    assert BEGIN_SOLUTION not in reference and END_SOLUTION not in reference
    assert "    y = x * 2\n    return y\n" in reference
    removed = len(MODULE.splitlines()) - len(reference.splitlines())
    assert removed == 4


@pytest.mark.parametrize(
    "broken, complaint",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without"),
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "inside another"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "inside a function body"),
        ("def f(:\n    pass\n", "does not parse"),
    ],
)
def test_malformed_markers_are_reported_with_their_line(broken, complaint):
    with pytest.raises(ReleaseError, match=complaint) as error:
        solution_regions(broken, Path("bad.py"))
    assert "bad.py:" in str(error.value)


def test_release_leaves_hidden_tests_out_of_the_student_release(tmp_path):
    root = make_course(tmp_path)
    plan = plan_release(root / "source")
    assert Path("assignments/01_demo/tests/test_demo.py") in plan
    assert Path("solutions/01_demo/hidden_tests/test_demo_hidden.py") in plan
    assert not any("hidden_tests" in str(path) for path in plan if path.parts[0] == "assignments")


def test_release_is_deterministic_and_check_finds_every_kind_of_staleness(tmp_path):
    root = make_course(tmp_path)
    plan = plan_release(root / "source")
    assert plan == plan_release(root / "source")
    assert stale_files(plan, root) == [f"missing: {path}" for path in sorted(plan)]
    write_release(plan, root)
    assert stale_files(plan, root) == []

    (root / "assignments/01_demo/demo.py").write_text("edited by hand\n")
    (root / "solutions/01_demo/stray.py").write_text("not from source\n")
    (root / "solutions/01_demo/tests/test_demo.py").unlink()
    assert stale_files(plan, root) == [
        "differs: assignments/01_demo/demo.py",
        "missing: solutions/01_demo/tests/test_demo.py",
        "not from source/: solutions/01_demo/stray.py",
    ]
    write_release(plan, root)
    assert stale_files(plan, root) == []
    assert not (root / "solutions/01_demo/stray.py").exists()


def test_one_collection_declares_each_assignments_own_points(tmp_path):
    """The release collects every assignment's checks in one pytest session; each assignment.toml gets its own totals."""
    from autograder.checks.rubric import declared_points

    root = make_course(tmp_path)
    second = root / "source" / "02_other"
    (second / "tests").mkdir(parents=True)
    (second / "assignment.toml").write_text('title = "Other"\nmodule = "other"\n')
    (second / "other.py").write_text("def f(x):\n    return x\n")
    (second / "tests" / "test_other.py").write_text(
        "import pytest\n\n\n@pytest.mark.points(3)\n@pytest.mark.category('errors')\ndef test_bad(student):\n    pass\n\n\n"
        "@pytest.mark.points(5)\ndef test_good(student):\n    pass\n"
    )
    plan = plan_release(root / "source")
    assert plan[Path("assignments/01_demo/assignment.toml")].decode().endswith("[rubric.declared]\nvalues = 1\n")
    assert plan[Path("solutions/02_other/assignment.toml")].decode().endswith("[rubric.declared]\nerrors = 3\nvalues = 5\n")
    assert declared_points(second) == {"errors": 3.0, "values": 5.0}, "the same totals as the assignment's own collection"


def test_markers_in_tests_are_refused(tmp_path):
    root = make_course(tmp_path)
    (root / "source/01_demo/tests/test_demo.py").write_text(f"def test_x():\n    {BEGIN_SOLUTION}\n    pass\n    {END_SOLUTION}\n")
    with pytest.raises(ReleaseError, match="tests must not hold solution markers"):
        plan_release(root / "source")


# -- the course itself ------------------------------------------------------------


def _leaked_lines(assignment) -> list[str]:
    """Lines of the released module that only a solution region of the source holds.

    A line that also stands outside the regions (an ``else:``, a helper given in
    full) is given to students anyway; any other line of a region is a leak.
    """
    text = assignment.module_file.read_text()
    lines = text.splitlines()
    inside: set[int] = set()
    for region in solution_regions(text, assignment.module_file):
        inside.update(range(region.begin + 1, region.end))
    secret = {lines[i].strip() for i in inside} - {line.strip() for i, line in enumerate(lines) if i not in inside}
    released = ROOT / "assignments" / assignment.name / assignment.module_file.name
    return [line.strip() for line in released.read_text().splitlines() if line.strip() in secret - {""}]


def test_no_solution_line_and_no_hidden_test_reaches_the_student_release():
    course = assignments_in(ROOT / "source")
    assert [a.name for a in course] == sorted(p.parent.name for p in (ROOT / "source").glob("*/assignment.toml")) != []
    assert {a.name: _leaked_lines(a) for a in course} == {a.name: [] for a in course}
    released = [p for p in (ROOT / "assignments").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    hidden = [p for a in course for p in a.hidden_tests.glob("*.py")]
    assert hidden, "the course has no hidden tests"
    hidden_texts = {p.read_text() for p in hidden}
    assert not any(p.read_text() in hidden_texts for p in released if p.suffix == ".py")
    assert not {p.name for p in hidden} & {p.name for p in released}
    assert not any("hidden_tests" in p.parts for p in released)


def test_every_public_function_of_the_course_has_one_solution_region():
    for assignment in assignments_in(ROOT / "source"):
        text = assignment.module_file.read_text()
        tree = ast.parse(text)
        exported = next(
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
        )
        # a region answers the top-level definition around it: a class (10's SmallCNN) answers in each of its methods,
        # and a private helper the student writes too (10's _conv3x3_same) is not exported
        tops = [(node.name, node.lineno, node.end_lineno) for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        answered = [next(name for name, first, last in tops if first <= region.begin + 1 <= last) for region in solution_regions(text, assignment.module_file)]
        public = [name for name in answered if not name.startswith("_")]
        classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        assert sorted(set(public)) == sorted(exported), assignment.name
        assert [name for name in public if name not in classes and public.count(name) > 1] == [], assignment.name
