"""nbgrader's own commands on a scratch copy of the course agree with convgrade.

One assignment (its notebook without the figures), three students: ``perfect`` hands in the reference module,
``partial`` the reference with its last function broken and a graded cell of the
notebook rewritten to claim points, ``absent`` nothing. Real ``nbgrader``
commands (generate_assignment, generate_solution, autograde, export,
generate_feedback) with a real kernel, and ``convgrade grade --gradebook``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT, MODULE, BROKEN = "03_padding", "padding.py", "conv2d_same"  # BROKEN: the module's last public function


def scratch_environment(scratch: Path) -> dict[str, str]:
    """The venv's commands first on PATH (nbgrader runs `alembic`), and no user Jupyter/IPython set-up: the kernel is the venv's."""
    env = {key: value for key, value in os.environ.items() if key != "JUPYTER_PATH"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(scratch / "jupyter-config"),  # no ~/.jupyter/nbgrader_config.py
        JUPYTER_DATA_DIR=str(scratch / "jupyter-data"),  # no user kernelspecs
        JUPYTER_RUNTIME_DIR=str(scratch / "jupyter-runtime"),
        JUPYTER_PREFER_ENV_PATH="1",  # the venv's python3 kernelspec first
        IPYTHONDIR=str(scratch / "ipython"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        COLUMNS="200",
    )
    return env


def _test(nodeid: str, points: float, passed: bool) -> dict:
    hidden = nodeid.startswith("hidden_tests/")
    return {"score": points if passed else 0.0, "max_score": points, "extra_data": {"nodeid": nodeid, "hidden": hidden}}


def test_a_cells_score_is_what_the_checks_its_calls_name_earned():
    from autograder.grading.nbgrader_gradebook import GradedCell, cell_scores
    from autograder.release.notebooks import CheckCall

    tests = [
        _test("tests/test_padding.py::TestPad2d::test_matches_F_pad[zeros]", 2, True),
        _test("tests/test_padding.py::TestPad2d::test_matches_F_pad[reflect]", 2, False),
        _test("tests/test_padding.py::TestPad2d::test_matches_F_pad_random", 1, True),
        _test("tests/test_padding.py::TestSamePadding::test_odd", 1, True),
        _test("hidden_tests/test_padding_hidden.py::TestPad2d::test_matches_F_pad[zeros]", 3, True),
    ]
    cells = [
        GradedCell("nb", "one-check", 4, (CheckCall(("TestPad2d::test_matches_F_pad",), False),)),
        GradedCell("nb", "class", 99, (CheckCall(("TestPad2d",), False),)),
        GradedCell("nb", "hidden", 3, (CheckCall(("TestPad2d",), True),)),
        GradedCell("nb", "by-hand", 5, ()),
    ]
    scores, problems = cell_scores(cells, tests, "padding")
    assert scores == {("nb", "one-check"): 2, ("nb", "class"): 3, ("nb", "hidden"): 3}
    assert problems == [
        "cell nb/class is worth 99 points but its checks are worth 5",
        "tests/test_padding.py::TestPad2d::test_matches_F_pad[zeros] is run by 2 graded cells (one-check, class)",
        "tests/test_padding.py::TestPad2d::test_matches_F_pad[reflect] is run by 2 graded cells (one-check, class)",
        "no graded cell runs tests/test_padding.py::TestSamePadding::test_odd (1 point)",
    ]


_EFFECTIVE_CONFIG = """
import json
from nbgrader.apps import NbGraderApp

found = {}
for command in ("generate_assignment", "generate_solution", "autograde", "generate_feedback"):
    app = NbGraderApp()
    app.initialize([command, "03_padding", "--log-level=ERROR"])
    found[command] = {
        "ignore": app.subapp.coursedir.ignore,
        "exclude_overwriting": dict(app.subapp.config.Autograde.get("exclude_overwriting", {})),
        "preprocessors": [getattr(p, "__name__", str(p)) for p in app.subapp.config.GenerateSolution.get("preprocessors", [])],
        "release": app.subapp.coursedir.release_directory,
    }
    type(app.subapp).clear_instance()
    NbGraderApp.clear_instance()
print(json.dumps(found))
"""


def test_every_nbgrader_command_reads_the_rules_that_keep_secrets_in(tmp_path):
    """The project's nbgrader_config.py as nbgrader's own commands read it (nbgrader silently drops some sections)."""
    run = subprocess.run([sys.executable, "-c", _EFFECTIVE_CONFIG], cwd=ROOT, env=scratch_environment(tmp_path),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    config = json.loads(run.stdout.strip().splitlines()[-1])
    from autograder.assignment import assignments_in

    modules = {a.name: f"{a.module}.py" for a in assignments_in(ROOT / "source")}
    for command, found in config.items():
        assert {"hidden_tests", "conftest.py", "pytest.ini", "pyproject.toml"} <= set(found["ignore"]), command
        releases = command.startswith("generate_") and command != "generate_feedback"
        assert set(modules.values()) <= set(found["ignore"]) if releases else not set(modules.values()) & set(found["ignore"]), command
    assert config["autograde"]["exclude_overwriting"] == {name: [module] for name, module in modules.items()}
    assert "Execute" not in config["generate_solution"]["preprocessors"] and config["generate_solution"]["preprocessors"]
    assert config["generate_assignment"]["release"] == "assignments"


class Course:
    """A scratch course: the project's nbgrader_config.py and one assignment's source/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = scratch_environment(root.parent / "scratch")
        shutil.copy(ROOT / "nbgrader_config.py", root)
        shutil.copytree(ROOT / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT, ignore=shutil.ignore_patterns("__pycache__"))
        self._without_demo_cells(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        self.log: list[str] = []

    @staticmethod
    def _without_demo_cells(path: Path) -> None:
        """Keep the cells nbgrader knows (setup, graded, solution) and the text: the figures cost seconds per kernel.

        tests/test_notebooks.py runs every whole notebook; here what counts is nbgrader's handling of the graded cells.
        """
        notebook = json.loads(path.read_text())
        notebook["cells"] = [c for c in notebook["cells"] if c["cell_type"] == "markdown" or "nbgrader" in c["metadata"]]
        path.write_text(json.dumps(notebook, indent=1) + "\n")

    def run(self, *command: str, ok: bool = True) -> subprocess.CompletedProcess:
        program = str(BIN / command[0])
        started = time.perf_counter()
        result = subprocess.run([program, *command[1:]], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600)
        took = time.perf_counter() - started
        self.log.append(f"$ {' '.join(command)} -> {result.returncode} in {took:.1f} s\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
        if ok:
            assert result.returncode == 0, self.log[-1]
        return result

    def submit(self, student: str, module: str, notebook: dict) -> None:
        folder = self.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / MODULE).write_text(module)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook, indent=1))

    def csv(self, name: str) -> dict[str, dict[str, str]]:
        with open(self.root / name, newline="") as handle:
            return {row["student_id"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """The whole instructor's round: release with nbgrader, submit, autograde, export; convgrade grades the same."""
    course = Course(tmp_path_factory.mktemp("course"))
    course.run("nbgrader", "generate_assignment", ASSIGNMENT)
    course.run("nbgrader", "generate_solution", ASSIGNMENT)

    reference = (course.root / "solutions" / ASSIGNMENT / MODULE).read_text()
    released = json.loads((course.root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    course.submit("perfect", reference, released)
    broken = reference + f"\n\ndef {BROKEN}(*args, **kwargs):\n    raise NotImplementedError({BROKEN!r})\n"
    tampered = json.loads(json.dumps(released))
    graded = [cell for cell in tampered["cells"] if cell["metadata"].get("nbgrader", {}).get("grade")]
    graded[-1]["source"] = "1000.0  # all the points, please"
    course.submit("partial", broken, tampered)
    (course.root / "submitted" / "absent").mkdir()

    course.run("nbgrader", "autograde", ASSIGNMENT)
    course.run("nbgrader", "export", "--to", "nbgrader.csv")
    course.run("convgrade", "grade", "submitted", "-a", ASSIGNMENT, "--out", "out", "--processes", "1", "--no-class-page", "--gradebook", "convgrade.db")
    course.run("nbgrader", "export", "--db", f"sqlite:///{course.root / 'convgrade.db'}", "--to", "convgrade.csv")
    if os.environ.get("CONVGRADE_TEST_TIMINGS"):
        print("\n".join(entry.split("\n", 1)[0] for entry in course.log))
    return course


def test_nbgrader_releases_exactly_what_convgrade_release_plans(course):
    check = course.run("convgrade", "release", "--check", "--root", str(course.root), ok=False)
    assert check.returncode == 0, course.log[-1]
    released = {p.relative_to(course.root / "assignments").as_posix() for p in (course.root / "assignments").rglob("*") if p.is_file()}
    assert released == {f"{ASSIGNMENT}/{name}" for name in (f"{ASSIGNMENT}.ipynb", MODULE, "assignment.toml", "tests/test_padding.py")}
    stub = (course.root / "assignments" / ASSIGNMENT / MODULE).read_text()
    assert f'raise NotImplementedError("{BROKEN}")' in stub and "BEGIN SOLUTION" not in stub
    assert (course.root / "solutions" / ASSIGNMENT / "hidden_tests" / "test_padding_hidden.py").is_file()
    assert "BEGIN SOLUTION" not in (course.root / "solutions" / ASSIGNMENT / MODULE).read_text()


def test_autograde_grades_the_students_module_with_the_instructors_tests(course):
    autograded = course.root / "autograded" / "partial" / ASSIGNMENT
    assert (autograded / MODULE).read_text() == (course.root / "submitted" / "partial" / ASSIGNMENT / MODULE).read_text()
    assert not (autograded / "hidden_tests").exists(), "hidden tests are read from source/, never copied"
    notebook = json.loads((autograded / f"{ASSIGNMENT}.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert not any("all the points, please" in source for source in sources), "the tampered test cell is restored"
    assert any("hidden=True" in source for source in sources), "the hidden test cells are restored"


def test_nbgrader_export_gives_the_scores_convgrade_grade_gives(course):
    ours = course.csv("out/grades.csv")
    theirs = course.csv("nbgrader.csv")
    assert set(theirs) == {"perfect", "partial"}
    for student in theirs:
        assert float(theirs[student]["score"]) == float(ours[student]["score"]), student
        assert float(theirs[student]["max_score"]) == float(ours[student]["max_score"]), student
    assert float(ours["perfect"]["score"]) == float(ours["perfect"]["max_score"])
    assert 0 < float(ours["partial"]["score"]) < float(ours["partial"]["max_score"])
    assert ours["absent"]["status"] == "missing"


def test_grade_records_the_same_scores_in_nbgraders_gradebook(course):
    ours = course.csv("out/grades.csv")
    recorded = course.csv("convgrade.csv")
    assert set(recorded) == {"perfect", "partial", "absent"}
    assert {s: float(row["score"]) for s, row in recorded.items()} == {s: float(row["score"]) for s, row in ours.items()}
    assert recorded["absent"]["timestamp"] == "" and recorded["perfect"]["max_score"] == ours["perfect"]["max_score"]
    with sqlite3.connect(course.root / "convgrade.db") as db:
        submissions = db.execute("select count(*) from submitted_assignment").fetchone()[0]
        grades = db.execute("select count(*) from grade").fetchone()[0]
    assert submissions == 2, "a student with no submission gets none"

    again = course.run("convgrade", "grade", "submitted", "-a", ASSIGNMENT, "--out", "out", "--processes", "1", "--no-class-page", "--gradebook", "convgrade.db")
    assert "2 submissions of 3 students" in again.stdout
    with sqlite3.connect(course.root / "convgrade.db") as db:
        assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == submissions
        assert db.execute("select count(*) from grade").fetchone()[0] == grades, "a rerun updates in place"


def test_export_to_nbgrader_records_an_earlier_runs_grades_as_grade_gradebook_does(course):
    """`convgrade export --to nbgrader` after the run: nbgrader's own export reads back the grades --gradebook recorded."""
    exported = course.root / "exported.db"
    done = course.run("convgrade", "export", "--to", "nbgrader", "--from", "out", "--out", str(exported), "--root", str(course.root))
    assert "exported.db" in done.stdout + done.stderr
    course.run("nbgrader", "export", "--db", f"sqlite:///{exported}", "--to", "exported.csv")
    ours, theirs = course.csv("out/grades.csv"), course.csv("exported.csv")
    assert set(theirs) == {"perfect", "partial", "absent"}
    assert {s: float(row["score"]) for s, row in theirs.items()} == {s: float(row["score"]) for s, row in ours.items()}
    assert {s: row["max_score"] for s, row in theirs.items()} == {s: row["max_score"] for s, row in course.csv("convgrade.csv").items()}
    assert _notebook_records(exported) == _notebook_records(course.root / "convgrade.db"), "the same notebook records, for autograde"


def _notebook_records(path: Path) -> list[tuple]:
    """What a gradebook knows of the assignment's notebooks: cells, points, sources, checksums, kernelspec."""
    with sqlite3.connect(path) as db:
        return sorted(
            db.execute(
                "select n.name, n.kernelspec, b.name, b.type, g.max_score, s.source, s.checksum, s.locked"
                " from base_cell b join notebook n on b.notebook_id = n.id"
                " left join grade_cells g on g.id = b.id"
                " left join source_cell s on s.name = b.name and s.notebook_id = n.id"
            ).fetchall()
        )


def test_grade_records_the_notebook_as_generate_assignment_does(course):
    """So `nbgrader autograde` works on a gradebook that only `convgrade grade --gradebook` filled."""
    records = _notebook_records(course.root / "convgrade.db")
    assert records and records == _notebook_records(course.root / "gradebook.db")
    assert any("hidden=True" in (source or "") for *_, source, _, _ in records), "the hidden test cells, for autograde to restore"


def test_feedback_hands_out_no_hidden_test(course):
    course.run("nbgrader", "generate_feedback", ASSIGNMENT)
    feedback = course.root / "feedback" / "partial" / ASSIGNMENT
    assert (feedback / f"{ASSIGNMENT}.html").is_file()
    assert not any("hidden_tests" in path.parts for path in feedback.rglob("*"))
    assert not any(path.name == MODULE and "BEGIN SOLUTION" in path.read_text() for path in (course.root / "feedback").rglob(MODULE))


def test_a_bad_gradebook_url_is_one_sentence_before_any_grading(course):
    result = course.run("convgrade", "grade", "submitted", "-a", ASSIGNMENT, "--out", "out2", "--gradebook", "nosuchdb://x/y", ok=False)
    assert result.returncode == 2
    assert "cannot open the gradebook nosuchdb://x/y" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (course.root / "out2").exists()


def test_the_roster_can_be_nbgraders_gradebook(tmp_path):
    """`--roster gradebook.db` lists the gradebook's students; a student there without a folder is missing."""
    from autograder.grading.nbgrader_gradebook import open_gradebook, students_of

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with open_gradebook(url) as gradebook:
        for student in ("ann", "bob"):
            gradebook.add_student(student)

    assert students_of(url) == ["ann", "bob"]
    submitted = tmp_path / "submitted" / "ann" / ASSIGNMENT
    submitted.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / ASSIGNMENT / MODULE, submitted)
    out = tmp_path / "out"
    command = [str(BIN / "convgrade"), "grade", str(submitted.parent.parent), "-a", ASSIGNMENT, "--out", str(out), "--processes", "1",
               "--root", str(ROOT), "--no-class-page", "--roster", str(tmp_path / "gradebook.db")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row["status"] for row in csv.DictReader(handle)}
    assert rows == {"ann": "graded", "bob": "missing"}
    nowhere = subprocess.run([*command[:-1], str(tmp_path / "none.db")], capture_output=True, text=True, timeout=120)
    assert nowhere.returncode == 2 and "there is no gradebook at" in nowhere.stderr
