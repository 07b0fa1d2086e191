"""The course's notebooks: released by nbgrader's rules, running every check once, clean on the reference."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.assignment import assignments_in
from autograder.grading.nbgrader_gradebook import cell_scores, graded_cells
from autograder.release import ReleaseError
from autograder.release.notebooks import notebook_leaks
from autograder.release.plan import plan_release

ROOT = Path(__file__).resolve().parents[1]
COURSE = assignments_in(ROOT / "source")  # discovered: every folder of source/ with an assignment.toml
NOTEBOOKS = [a for a in COURSE if (a.folder / f"{a.name}.ipynb").is_file()]  # a notebook is optional
KERNEL = "python3"  # the venv's own ipykernel spec: see kernel_environment()


def notebook_path(tree: str, assignment) -> Path:  # noqa: ANN001 - an Assignment
    return ROOT / tree / assignment.name / f"{assignment.name}.ipynb"


def kernel_environment(scratch: Path) -> dict[str, str]:
    """Variables for a kernel that is this venv's Python, whatever the user's Jupyter or IPython set-up holds."""
    env = {
        "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),  # the user's kernelspecs live here: none
        "JUPYTER_RUNTIME_DIR": str(scratch / "jupyter-runtime"),
        "JUPYTER_PREFER_ENV_PATH": "1",  # the venv's share/jupyter/kernels/python3 before the system's
        "IPYTHONDIR": str(scratch / "ipython"),  # no startup files of the user's
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    return env


# -- releasing a notebook: a one-assignment course, no kernel --------------------------


MODULE = textwrap.dedent(
    '''
    def double(x):
        """Twice x."""
        ### BEGIN SOLUTION
        return 2 * x
        ### END SOLUTION
    '''
)
VISIBLE = textwrap.dedent(
    """
    import pytest

    class TestDouble:
        @pytest.mark.points(2)
        def test_two(self, student):
            \"\"\"double(2) is 4\"\"\"
            assert student.double(2) == 4
    """
)
HIDDEN = VISIBLE.replace("test_two", "test_three").replace("double(2) is 4", "double(3) is 6").replace("(2) == 4", "(3) == 6")


def _cell(kind: str, source: str, grade_id: str, **nbgrader) -> dict:
    make = new_code_cell if kind == "code" else new_markdown_cell
    cell = make(source, metadata={"nbgrader": {"grade": False, "solution": False, "locked": False, "schema_version": 3, "grade_id": grade_id, **nbgrader}})
    cell["id"] = grade_id
    return cell


def demo_notebook(*cells: dict) -> dict:
    cells = cells or (
        _cell("code", "from autograder.notebook import check", "setup", locked=True),
        _cell("code", "x = 1\n### BEGIN SOLUTION\nx = double(x)\n### END SOLUTION", "try-it", solution=True),
        _cell("code", 'check("TestDouble")', "visible", grade=True, locked=True, points=50),  # 2 of 4 declared: half of 100
        _cell("code", '### BEGIN HIDDEN TESTS\ncheck("TestDouble", hidden=True)\n### END HIDDEN TESTS', "hidden", grade=True, locked=True, points=50),
    )
    return new_notebook(cells=list(cells), metadata={"kernelspec": {"name": KERNEL, "display_name": "Python 3", "language": "python"}})


def demo_course(tmp_path: Path, notebook: dict | None = None) -> Path:
    """source/01_demo with a module, visible and hidden tests, and a notebook; the project's nbgrader_config.py."""
    folder = tmp_path / "source" / "01_demo"
    (folder / "tests").mkdir(parents=True)
    (folder / "hidden_tests").mkdir()
    (folder / "assignment.toml").write_text('title = "Demo"\nmodule = "demo"\n')
    (folder / "demo.py").write_text(MODULE)
    (folder / "tests" / "test_demo.py").write_text(VISIBLE)
    (folder / "hidden_tests" / "test_demo_hidden.py").write_text(HIDDEN)
    nbformat.write(nbformat.from_dict(notebook or demo_notebook()), folder / "01_demo.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    return tmp_path


def _sources(data: bytes) -> dict[str, str]:
    return {cell["id"]: "".join(cell["source"]) for cell in json.loads(data)["cells"]}


def test_a_notebook_is_released_by_nbgrader_in_memory_and_reproducibly(tmp_path):
    root = demo_course(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    plan = plan_release(root / "source")
    assert sorted(tmp_path.rglob("*")) == before, "planning writes nothing: no file, no gradebook.db"
    assert plan == plan_release(root / "source"), "the same source gives the same bytes"

    student = plan[Path("assignments/01_demo/01_demo.ipynb")]
    cells = _sources(student)
    assert "double(x)" not in cells["try-it"] and "raise NotImplementedError()" in cells["try-it"]
    assert cells["hidden"].strip() == "" and cells["visible"] == 'check("TestDouble")'
    assert notebook_leaks(student) == []
    metadata = {cell["id"]: cell["metadata"] for cell in json.loads(student)["cells"]}
    assert metadata["visible"]["editable"] is False and metadata["visible"]["nbgrader"]["checksum"]
    assert 'raise NotImplementedError("double")' in plan[Path("assignments/01_demo/demo.py")].decode()

    reference = _sources(plan[Path("solutions/01_demo/01_demo.ipynb")])
    assert "x = double(x)" in reference["try-it"] and 'check("TestDouble", hidden=True)' in reference["hidden"]
    assert not any("hidden_tests" in path.parts for path in plan if path.parts[0] == "assignments")


@pytest.mark.parametrize(
    "cell, complaint",
    [
        (_cell("code", "### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "sneaky"), "nbgrader cannot release"),
        (_cell("code", 'check("TestDouble", hidden=True)', "unwrapped", grade=True, locked=True, points=50), "hidden=True"),
        (_cell("code", "check(*names)", "dynamic", grade=True, locked=True, points=50), "plain strings"),
    ],
    ids=["solution-outside-a-solution-cell", "hidden-call-outside-the-markers", "names-not-literal"],
)
def test_a_notebook_that_would_leak_or_cannot_be_mapped_is_refused(tmp_path, cell, complaint):
    root = demo_course(tmp_path, demo_notebook(_cell("code", "from autograder.notebook import check", "setup"), cell))
    with pytest.raises(ReleaseError, match=complaint) as error:
        plan_release(root / "source")
    assert "01_demo.ipynb" in str(error.value)


def test_cells_without_ids_are_refused_as_they_would_get_random_ones(tmp_path):
    root = demo_course(tmp_path)
    path = root / "source" / "01_demo" / "01_demo.ipynb"
    data = json.loads(path.read_text())
    del data["cells"][0]["id"]
    path.write_text(json.dumps(data))
    with pytest.raises(ReleaseError, match="every cell needs its own id"):
        plan_release(root / "source")


# -- the course's notebooks -------------------------------------------------------------


def test_an_assignment_has_at_most_one_notebook_named_after_it():
    assert {a.name: sorted(p.name for p in a.folder.glob("*.ipynb")) for a in COURSE} == {a.name: [f"{a.name}.ipynb"] for a in NOTEBOOKS} | {
        a.name: [] for a in COURSE if a not in NOTEBOOKS
    }


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=lambda a: a.name)
def test_a_released_notebook_holds_no_solution_no_hidden_test_and_no_output(assignment):
    data = notebook_path("assignments", assignment).read_bytes()
    text = data.decode()
    assert notebook_leaks(data) == []
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text
    cells = json.loads(data)["cells"]
    assert not [cell["id"] for cell in cells if cell.get("outputs")]


@pytest.fixture(scope="module")
def collected() -> dict[str, list[dict]]:
    """Every check of every assignment (tests/ and hidden_tests/, collected by the plugin in one session), as results.json tests."""
    from autograder.checks.rubric import collect_checks

    checks: dict[str, list[dict]] = {a.name: [] for a in NOTEBOOKS}
    for check in collect_checks(*(a.folder for a in NOTEBOOKS)):
        points, extra = check["points"], {"nodeid": check["nodeid"], "hidden": check["hidden"]}
        checks[check["assignment"]].append({"score": points, "max_score": points, "extra_data": extra})
    return checks


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=lambda a: a.name)
def test_the_graded_cells_run_every_check_once_for_its_points(assignment, collected):
    checks = collected[assignment.name]
    assert checks and any(c["extra_data"]["hidden"] for c in checks) and not all(c["extra_data"]["hidden"] for c in checks)
    cells = graded_cells(assignment)
    scores, problems = cell_scores(cells, checks, assignment.module)
    assert problems == []
    assert [cell.grade_id for cell in cells if not cell.calls] == [], "a graded cell that runs no check"
    total = sum(c["max_score"] for c in checks)
    assert sum(cell.max_score for cell in cells) == total == sum(scores.values())


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, object]:
    """Every reference notebook, run top to bottom in solutions/<a>/, two kernels at a time (one per core)."""
    scratch = tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**kernel_environment(scratch), "OMP_NUM_THREADS": "1"}.items():
            patch.setenv(key, value)  # kernels inherit it; two single-threaded kernels share two cores
        patch.delenv("JUPYTER_PATH", raising=False)
        return asyncio.run(_execute_all([notebook_path("solutions", a) for a in NOTEBOOKS], at_once=2))


async def _execute_all(paths: list[Path], at_once: int) -> dict[str, object]:
    from nbclient import NotebookClient

    slots = asyncio.Semaphore(at_once)
    results: dict[str, object] = {}

    async def run(path: Path) -> None:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, kernel_name=KERNEL, timeout=600, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
        )
        async with slots:
            try:
                await client.async_execute()
                results[path.parent.name] = notebook
            except Exception as exc:  # noqa: BLE001 - reported by the notebook's own test
                results[path.parent.name] = exc

    await asyncio.gather(*(run(path) for path in paths))
    return results


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=lambda a: a.name)
def test_a_reference_notebook_runs_clean_and_nbgrader_gives_it_full_marks(assignment, executed, collected):
    from nbgrader.utils import determine_grade, is_grade

    notebook = executed[assignment.name]
    assert not isinstance(notebook, Exception), f"{assignment.name}.ipynb did not run: {notebook}"
    failures = [
        f"cell {cell.get('id')}: {output.get('ename', output.get('name'))}: {output.get('evalue', output.get('text', ''))[:500]}"
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")
    ]  # fmt: skip
    assert failures == []
    waiting = [cell.get("id") for cell in notebook.cells for o in cell.get("outputs", []) if "implement `" in o.get("text", "")]
    assert waiting == [], "until_implemented() hid a figure of the reference"
    graded = [cell for cell in notebook.cells if is_grade(cell)]
    silent = [cell.metadata.nbgrader["grade_id"] for cell in graded if not any(o.output_type == "execute_result" for o in cell.outputs)]
    assert silent == [], "a graded cell must return its points (nbgrader gives a silent cell full marks)"
    grades = {cell.metadata.nbgrader["grade_id"]: determine_grade(cell) for cell in graded}
    assert {grade_id: earned for grade_id, (earned, _) in grades.items()} == {grade_id: most for grade_id, (_, most) in grades.items()}
    assert sum(earned for earned, _ in grades.values()) == sum(c["max_score"] for c in collected[assignment.name])
