"""``convgrade submit`` as a student runs it, and its zip graded by ``convgrade grade`` as an instructor runs it.

The tiny course (``tests/conftest.py``) is released, a student fills in its
assignment folder, hands it in with ``convgrade submit`` and the class is graded
once: the zip against the very folder it came from, a zip changed after submit, a
late one whose only hand-in time is its manifest's. One real assignment checks
what the release records of a real stub and what a real hand-in holds.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from autograder.assignment import Assignment
from autograder.handin import MANIFEST, api_of
from tests import conftest

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
DUE = "2026-12-08T23:59:00Z"
HELPER = "import torch\n\n\ndef double(x):\n    if not isinstance(x, torch.Tensor):\n        raise TypeError('x must be a tensor')\n    return 2 * x\n"


def convgrade(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The command in a process of its own, seeing no Jupyter configuration but the test's."""
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "JUPYTER_CONFIG_DIR": str(cwd / ".no-jupyter-config")}
    environment.pop("JUPYTERHUB_USER", None)
    environment.update(env)
    return subprocess.run([CONVGRADE, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The tiny course, due on ``DUE`` with a per-day late policy, released: ``assignments/01_tiny`` is the student's."""
    root = tmp_path_factory.mktemp("submit") / "course"
    folder = root / "source" / "01_tiny"
    (folder / "tests").mkdir(parents=True)
    (folder / "hidden_tests").mkdir()
    (folder / "assignment.toml").write_text(f'title = "Tiny"\nmodule = "tiny"\nforbidden = ["padding"]\ndue = {DUE}\n\n[rubric]\npoints = 20\n')
    (folder / "tiny.py").write_text(conftest.TINY_REFERENCE)
    (folder / "tests" / "test_tiny.py").write_text(conftest.TINY_TESTS)
    (folder / "hidden_tests" / "test_tiny_hidden.py").write_text(conftest.TINY_HIDDEN)
    (root / "course.toml").write_text('[late]\npolicy = "per-day"\npercent_per_day = 10\nmax_percent = 50\n')
    released = convgrade("release", cwd=root)
    assert released.returncode == 0, released.stdout + released.stderr
    return root


def student_folder(course: Path, where: Path) -> Path:
    """A student's finished ``01_tiny``: the release, its function imported from a helper module, a scratch file and a notebook."""
    folder = where / "01_tiny"
    shutil.copytree(course / "assignments" / "01_tiny", folder)
    (folder / "tiny.py").write_text("from tinyhelp import double\n\n__all__ = ['double']\n")
    (folder / "tinyhelp.py").write_text(HELPER)
    (folder / "scratch.py").write_text("print('not imported by tiny.py: not handed in')\n")
    (folder / "01_tiny.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return folder


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory) -> dict:
    """A class graded once: ada's zip, bob's copy of the folder it came from, eve's zip changed after submit, lee's late zip."""
    from autograder.submit import pack

    work = tmp_path_factory.mktemp("students")
    submitted = course / "submitted"
    ada = student_folder(course, work / "ada")
    handed = convgrade("submit", "--student", "ada", "--out", str(submitted / "ada"), cwd=ada)
    assert handed.returncode == 0, handed.stdout + handed.stderr
    shutil.copytree(ada, submitted / "bob" / "01_tiny")
    eve = student_folder(course, work / "eve")
    handed_eve = convgrade("submit", "--out", str(submitted / "eve"), cwd=eve, JUPYTERHUB_USER="eve")
    assert handed_eve.returncode == 0, handed_eve.stdout + handed_eve.stderr
    tamper(submitted / "eve" / "01_tiny-eve.zip", {"01_tiny/tinyhelp.py": HELPER.replace("2 * x", "x + x"), "01_tiny/notes.txt": "added"})
    lee = student_folder(course, work / "lee")
    pack(Assignment.load(lee), "lee", "--student", submitted / "lee", now=datetime(2026, 12, 10, 1, 0, tzinfo=timezone.utc))
    done = convgrade("grade", str(submitted), "--out", str(course / "out"), "--processes", "1", "--no-class-page", cwd=course)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(course / "out" / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return {"submit": handed, "submit_eve": handed_eve, "grade": done, "rows": rows, "out": course / "out", "submitted": submitted}


def tamper(archive: Path, changes: dict[str, str]) -> None:
    """Rewrite ``archive`` with some members changed or added, its manifest left as it was."""
    with zipfile.ZipFile(archive) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members.update({name: text.encode() for name, text in changes.items()})
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def scores(out: Path, student: str) -> dict[str, float]:
    """Each check's score in the student's results.json."""
    results = json.loads((out / student / "01_tiny" / "results.json").read_text())
    return {test["name"]: test["score"] for test in results["tests"]}


def test_submit_packs_what_the_grader_needs_with_its_manifest(graded):
    archive = graded["submitted"] / "ada" / "01_tiny-ada.zip"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["01_tiny/01_tiny.ipynb", f"01_tiny/{MANIFEST}", "01_tiny/tiny.py", "01_tiny/tinyhelp.py"]
        manifest = json.loads(zf.read(f"01_tiny/{MANIFEST}"))
    assert manifest["student"] == "ada" and manifest["student_from"] == "--student" and manifest["assignment"] == "01_tiny"
    assert sorted(manifest["files"]) == ["01_tiny.ipynb", "tiny.py", "tinyhelp.py"], "scratch.py is not imported: not handed in"
    assert manifest["handed_in"].endswith("Z") and manifest["convgrade"]
    stdout = graded["submit"].stdout
    assert "tiny.py imports and defines double as released" in stdout
    assert "visible total: 11/11 points (2 of 2 checks pass)" in stdout
    assert "01_tiny-ada.zip" in stdout and "handed in by ada (from --student)" in stdout


def test_the_student_id_comes_from_jupyterhub_when_not_given(graded):
    with zipfile.ZipFile(graded["submitted"] / "eve" / "01_tiny-eve.zip") as zf:
        assert json.loads(zf.read(f"01_tiny/{MANIFEST}"))["student_from"].startswith("JUPYTERHUB_USER")


def test_a_submitted_zip_grades_as_the_folder_it_came_from(graded):
    rows, out = graded["rows"], graded["out"]
    assert rows["ada"]["raw_score"] == rows["bob"]["raw_score"] == "20.0"
    assert scores(out, "ada") == scores(out, "bob") and len(scores(out, "ada")) == 3
    results = json.loads((out / "ada" / "01_tiny" / "results.json").read_text())
    assert results["output"] == "", "a hand-in as submitted carries no note"
    assert "ada/01_tiny" not in graded["grade"].stderr


def test_a_zip_changed_after_submit_is_graded_with_a_note_and_flagged(graded):
    rows, out = graded["rows"], graded["out"]
    assert rows["eve"]["status"] in ("graded", "late") and rows["eve"]["raw_score"] == "20.0", "graded as handed in"
    note = json.loads((out / "eve" / "01_tiny" / "results.json").read_text())["output"]
    assert "modified after submit: tinyhelp.py" in note and "added after submit: notes.txt" in note
    assert "modified after submit: tinyhelp.py" in (out / "eve" / "01_tiny" / "feedback.md").read_text()
    assert "eve/01_tiny: modified after submit: tinyhelp.py; added after submit: notes.txt" in graded["grade"].stderr
    assert rows["eve"]["handed_in"] == "", "the manifest's time describes other files: no hand-in time is taken from it"
    assert "eve/01_tiny: no hand-in time" in graded["grade"].stderr


def test_the_manifest_time_feeds_the_late_policy(graded):
    lee, ada = graded["rows"]["lee"], graded["rows"]["ada"]
    assert lee["handed_in"] == "2026-12-10T01:00:00+00:00"
    assert lee["status"] == "late" and float(lee["score"]) == 16 and float(lee["raw_score"]) == 20, "two days begun: 20%"
    with zipfile.ZipFile(graded["submitted"] / "ada" / "01_tiny-ada.zip") as zf:
        stamp = json.loads(zf.read(f"01_tiny/{MANIFEST}"))["handed_in"]
    assert datetime.fromisoformat(ada["handed_in"]) == datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_the_instructors_times_win_over_the_manifest(graded, course, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("student_id,assignment,time\nlee,01_tiny,2026-12-08T12:00:00Z\n")
    done = convgrade("grade", str(graded["submitted"]), "--out", str(graded["out"]), "--processes", "1", "--no-class-page",
                     "--student", "lee", "--times", str(times), cwd=course)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with open(graded["out"] / "grades.csv", newline="") as handle:
        lee = next(row for row in csv.DictReader(handle) if row["student_id"] == "lee")
    assert lee["status"] == "graded" and float(lee["score"]) == 20 and lee["handed_in"] == "2026-12-08T12:00:00+00:00"


def test_a_classmates_zip_handed_in_as_ones_own_is_flagged(graded, tmp_path):
    from autograder.grading.submissions import discover

    submitted = tmp_path / "submitted"
    for student in ("ada", "mallory", "ray", "sam"):
        (submitted / student).mkdir(parents=True)
        shutil.copy(graded["submitted"] / "ada" / "01_tiny-ada.zip", submitted / student / "01_tiny.zip")
    with zipfile.ZipFile(submitted / "ada" / "01_tiny.zip") as zf:
        zf.extractall(submitted / "ray")
        zf.extractall(submitted / "sam")
    (submitted / "ray" / "01_tiny" / "tiny.py").unlink()
    (submitted / "sam" / "01_tiny" / MANIFEST).write_text("{not json")
    (submitted / "sam" / "01_tiny" / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    found = {s.student: s for s in discover(submitted, ["01_tiny"], tmp_path / "work")}
    assert found["ada"].flags == () and found["ada"].note is None and found["ada"].handed_in is not None
    assert found["mallory"].flags == ("its manifest.json names the student `ada`",) and "flagged" in found["mallory"].note
    assert found["ray"].flags == ("its manifest.json names the student `ada`", "removed after submit: tiny.py")[::-1]
    assert found["ray"].handed_in is None, "the manifest's time describes files that are not these"
    assert "manifest.json cannot be read (not JSON" in found["sam"].flags[0]
    assert found["sam"].handed_in == datetime(2026, 12, 1, 10, tzinfo=timezone.utc), "nbgrader's timestamp.txt, whatever the manifest"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: (f / "tiny.py").unlink(), "no `tiny.py` in"),
        (lambda f: (f / "tiny.py").rename(f / "Tiny.py"), "found `Tiny.py`, expected `tiny.py`: rename it"),
        (lambda f: (f / "tiny.py").write_text("def twice(x):\n    return 2 * x\n"), "`double` is missing: the assignment asks for `double(x)`"),
        (lambda f: (f / "tiny.py").write_text("def double(x, y=1):\n    return 2 * x\n"), "`double(x, y=1)` takes other parameters than the assignment's `double(x)`"),
        (lambda f: (f / "tiny.py").write_text("def double(x)\n    return 2 * x\n"), "tiny.py has a syntax error at line 1: expected ':'\n    def double(x)"),
        (lambda f: (f / "tiny.py").write_text("import no_such_module\n"), "tiny.py could not be imported: ModuleNotFoundError"),
    ],
    ids=["missing module", "misnamed module", "missing function", "wrong signature", "syntax error", "import error"],
)
def test_submit_refuses_a_module_the_grader_could_not_use(course, tmp_path, change, expected):
    folder = student_folder(course, tmp_path)
    change(folder)
    refused = convgrade("submit", "--student", "ada", cwd=folder)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "not handed in:" in refused.stderr and expected in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and not list(folder.glob("*.zip"))


def test_a_course_on_nbgraders_exchange_hands_over_to_nbgrader_submit(course, tmp_path):
    folder = student_folder(course, tmp_path / "home")
    (folder / "tinyhelp.py").write_text(HELPER.replace("2 * x", "2 * torch.nn.functional.pad(x, (0, 0))"))
    exchange = tmp_path / "exchange" / "conv101"
    (exchange / "inbound").mkdir(parents=True)
    shutil.copytree(course / "assignments" / "01_tiny", exchange / "outbound" / "01_tiny")  # the instructor's `nbgrader release_assignment`
    (tmp_path / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.course_id = "conv101"\nc.Exchange.root = "{exchange.parent}"\n')
    printed = convgrade("submit", "--student", "ada", cwd=folder, PATH="/usr/bin:/bin")  # no nbgrader on the PATH
    assert printed.returncode == 0, printed.stdout + printed.stderr
    assert "warning: double: `F.pad` is not allowed in this exercise" in printed.stderr, "a forbidden call: warned, not refused"
    assert "nbgrader's exchange (course conv101)" in printed.stdout
    assert f"nbgrader submit 01_tiny --course conv101 --student ada --Exchange.assignment_dir={folder.parent}" in printed.stdout and "nothing is handed in yet" in printed.stdout
    assert not list(folder.glob("*.zip")) and not any((exchange / "inbound").iterdir())
    handed = convgrade("submit", "--student", "ada", cwd=folder, PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert handed.returncode == 0, handed.stdout + handed.stderr
    (inbound,) = (exchange / "inbound").iterdir()
    assert inbound.name.startswith("ada+01_tiny+") and (inbound / "tinyhelp.py").is_file(), "nbgrader's own hand-in"
    assert not list(folder.glob("*.zip"))


def test_the_release_records_each_functions_parameters_for_submit():
    released = Assignment.load(ROOT / "assignments" / "03_padding")
    assert released.api == {
        "pad2d": "(input, padding, mode='zeros', value=0.0)",
        "same_padding": "(kernel_size, dilation=1)",
        "conv2d_same": "(input, weight, bias=None, mode='zeros')",
    }
    assert api_of("def f(a: int, /, b, *c, d: str = 'x', **k) -> int: ...\ndef _private(): ...") == {"f": "(a, /, b, *c, d='x', **k)"}


def test_a_real_reference_is_handed_in_with_its_notebook(tmp_path):
    folder = tmp_path / "03_padding"
    shutil.copytree(ROOT / "assignments" / "03_padding", folder)
    shutil.copy(ROOT / "solutions" / "03_padding" / "padding.py", folder)
    handed = convgrade("submit", "--student", "ada", cwd=folder)
    assert handed.returncode == 0, handed.stdout + handed.stderr
    with zipfile.ZipFile(folder / "03_padding-ada.zip") as zf:
        assert sorted(zf.namelist()) == ["03_padding/03_padding.ipynb", f"03_padding/{MANIFEST}", "03_padding/padding.py"]
    assert "padding.py imports and defines pad2d, same_padding, conv2d_same as released" in handed.stdout
