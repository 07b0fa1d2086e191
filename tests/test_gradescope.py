"""convgrade gradescope: the archive Gradescope's specification asks for, run end to end in a scratch /autograder.

The specification: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (also
gradescope/autograder_samples, docs/specs.md and docs/submission_metadata.md). setup.sh's
apt step is not run here: it is checked for syntax; its install step (install_env.sh) is
run in CI from the registries reachable there (marked ``install``: ``make test-install``).
run_autograder runs with this venv's Python (CONVGRADE_GRADESCOPE_PYTHON, for tests only)
inside bubblewrap, with the scratch folder bound at /autograder and the rest read-only,
and, after the install step, with the venv it made.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata as installed
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from autograder.course import Course, LatePolicy
from autograder.grading.gradescope import NOT_SANDBOXED, UNFROZEN, Metadata, gradescope_results, hand_in, main
from autograder.scores import GradeRow

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
ASSIGNMENT = "01_convolution"
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}  # fmt: skip
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}  # fmt: skip
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
HANDED_IN = {  # Gradescope id -> (the hand-in, when; the due date is 2026-11-24T23:00-07:00)
    "1001": (ROOT / "solutions" / ASSIGNMENT / "convolution.py", "2026-11-20T14:22:32.365935-07:00"),  # the reference, on time
    "4242": (ROOT / "examples" / "submitted" / "ben" / ASSIGNMENT / "convolution.py", "2026-11-26T11:00:00.000000-07:00"),  # ben's mistakes, 1.5 days late
}


def metadata_of(student: str, created_at: str) -> dict:
    """submission_metadata.json as Gradescope writes it, with one earlier submission."""
    earlier = {"score": 40.0, "tests": [{"score": 20, "max_score": 45, "visibility": "visible"}, {"score": 20, "max_score": 55, "visibility": "after_published"}]}
    return {
        "id": 123456, "created_at": created_at, "submission_method": "upload",
        "assignment": {"due_date": "2026-11-24T23:00:00.000000-07:00", "late_due_date": None, "id": 25828, "title": "Convolution", "total_points": "100.0"},
        "users": [{"email": f"{student}@example.com", "id": int(student), "name": "Student"}],
        "previous_submissions": [{"submission_time": "2026-11-19T14:24:48.087023-07:00", "score": 40.0, "results": earlier}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    target = folder / "autograder.zip"
    done = subprocess.run([CONVGRADE, "gradescope", ASSIGNMENT, "-o", str(target), "--root", str(ROOT), "--secret", str(folder / "secret")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_the_archive_holds_both_scripts_the_tests_and_never_the_solution(archive, tmp_path):
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
        zf.extractall(tmp_path / "source")
    assert {"setup.sh", "run_autograder"} <= names, "the specification: both scripts at the root of the archive"
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    course = f"course/source/{ASSIGNMENT}"
    assert {f"{course}/assignment.toml", f"{course}/tests/test_convolution.py", f"{course}/hidden_tests/test_convolution_hidden.py", "course/.convgrade/secret"} <= names
    assert not [n for n in names if n.endswith(("convolution.py", ".ipynb")) and "test" not in n], "the solution module and notebook never leave source/"
    assert not [n for n in names if "__pycache__" in n or n.startswith("solutions")]
    wheel = next(tmp_path.glob("source/*.whl"))  # the package installs from its wheel, entry points and templates included
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(tmp_path / "site"), str(wheel)], check=True, timeout=120)
    assert (tmp_path / "site" / "bin" / "convgrade").is_file() and (tmp_path / "site" / "autograder" / "grading" / "templates" / "gradescope_setup.sh.j2").is_file()
    assert "[pytest11]\nconvgrade = autograder.checks.plugin" in next((tmp_path / "site").glob("*.dist-info/entry_points.txt")).read_text()


def _pins(text: str) -> dict[str, str]:
    return {Requirement(line).name.lower().replace("_", "-"): line.split("==")[1] for line in text.splitlines() if "==" in line and not line.startswith("#")}


def _requirements_of(name: str, seen: set[str]) -> set[str]:
    """``name`` and every distribution it needs here, by the markers of this Python."""
    key = name.lower().replace("_", "-")
    if key in seen:
        return seen
    seen.add(key)
    for text in installed.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            _requirements_of(requirement.name, seen)
    return seen


def test_setup_sh_is_bash_and_installs_only_the_pinned_environment(archive, tmp_path):
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    setup, install = (tmp_path / "setup.sh").read_text(), (tmp_path / "install_env.sh").read_text()
    for script in ("setup.sh", "install_env.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True).returncode == 0, script
    assert (tmp_path / "constraints.txt").read_text() == (ROOT / "constraints.txt").read_text()
    pins = {**{name: installed.version(name) for name in UNFROZEN}, **_pins((ROOT / "constraints.txt").read_text())}  # what pip freeze leaves out: as installed
    installs = [shlex.split(line) for line in install.splitlines() if '"${pip[@]}" install' in line]
    assert len(installs) == 2 and "apt-get install" in setup and "bubblewrap" in setup and "python3.11-venv" in setup
    assert 'bash "$here/install_env.sh" /opt/convgrade/venv' in setup, "setup.sh runs the install step"
    for words in installs:
        requirements = [w for w in words[2:] if not w.startswith(("-", "$", "https://")) and w not in ("install",)]
        for text in requirements:
            requirement = Requirement(text)
            assert str(requirement.specifier) == f"=={pins[requirement.name]}", f"{text} is not constraints.txt's pin"
    assert "--constraint" in installs[1] and installs[1][-1].endswith(".whl"), "the package's dependencies come pinned by constraints.txt"
    named = {Requirement(w).name for words in installs for w in words if "==" in w}
    assert {"torch", *(n for n in UNFROZEN if n not in _pins((ROOT / "constraints.txt").read_text()))} <= named
    unpinned = [name for name in sorted(_requirements_of("convgrade", set()) - {"convgrade"}) if name not in pins]
    assert not unpinned, f"setup.sh pins none of {unpinned}: it would install whatever is newest"
    differ = [n for n in _requirements_of("convgrade", set()) - {"convgrade"} if installed.version(n).split("+")[0] != pins[n]]
    assert not differ, f"this venv differs from constraints.txt on {differ}"


def _run_autograder(archive: Path, scratch: Path, student: str, python: Path = Path(sys.executable)) -> subprocess.Popen:
    """Lay out /autograder as Gradescope does (source, submission, metadata, results) in ``scratch``, and start run_autograder there with ``python``."""
    module, created_at = HANDED_IN[student]
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(scratch / "source")
    shutil.copy(scratch / "source" / "run_autograder", scratch / "run_autograder")
    (scratch / "run_autograder").chmod(0o755)
    (scratch / "submission").mkdir()
    (scratch / "results").mkdir()
    shutil.copy(module, scratch / "submission")
    (scratch / "submission_metadata.json").write_text(json.dumps(metadata_of(student, created_at)))
    command = [
        "bwrap", "--ro-bind", "/", "/", "--bind", "/proc", "/proc", "--dev-bind", "/dev", "/dev", "--tmpfs", "/tmp",
        # a checkout or venv under /tmp (CI clones there) stays visible over the private /tmp
        *(arg for path in {ROOT, Path(sys.prefix).resolve(), python.parents[1]} for arg in ("--ro-bind", str(path), str(path))),
        "--bind", str(scratch), "/autograder", "--chdir", "/autograder", "--setenv", "CONVGRADE_GRADESCOPE_PYTHON", str(python),
        "--", "/autograder/run_autograder",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def graded(archive, tmp_path_factory) -> dict[str, dict]:
    """Each hand-in through run_autograder, and through `convgrade grade` as a class of two, all at once (2 cores)."""
    from autograder.sandbox.launch import bubblewrap_available

    assert bubblewrap_available(), "bubblewrap (bwrap) is needed: `make test` installs it"
    base = tmp_path_factory.mktemp("runs")
    started = {student: _run_autograder(archive, base / student, student) for student in HANDED_IN if (base / student).mkdir() is None}
    for student, (module, _) in HANDED_IN.items():
        (base / "class" / student / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(module, base / "class" / student / ASSIGNMENT)
    secret = archive.parent / "secret"
    command = [CONVGRADE, "grade", str(base / "class"), "-a", ASSIGNMENT, "--out", str(base / "out"), "-j", "1", "--root", str(ROOT), "--no-class-page", "--secret", str(secret)]  # fmt: skip
    classic = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert classic.returncode == 0, classic.stdout + classic.stderr
    runs = {}
    for student, process in started.items():
        log, _ = process.communicate(timeout=600)
        assert process.returncode == 0, log
        runs[student] = {
            "log": log, "gradescope": json.loads((base / student / "results" / "results.json").read_text()),
            "convgrade": json.loads((base / "out" / student / ASSIGNMENT / "results.json").read_text()),
        }  # fmt: skip
    return runs


@pytest.mark.install
def test_the_install_step_makes_an_environment_that_grades_as_this_one(archive, graded, tmp_path):
    """setup.sh's install step (install_env.sh) run from the registries reachable here; run_autograder grades with its venv as with this one.

    Marked ``install`` (minutes of pip): ``make test`` leaves it out, ``make test-install`` runs it, and CI runs both.
    """
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "archive")
    venv = tmp_path / "venv"
    env = {**os.environ, "CONVGRADE_TORCH_INDEX": "https://pypi.org/simple"}  # PyTorch's own index is out of reach here
    if shutil.which("python3.11") is None:
        env["CONVGRADE_PYTHON"] = sys._base_executable  # this Python is 3.11 too, by another name
    done = subprocess.run(["bash", str(tmp_path / "archive" / "install_env.sh"), str(venv)], capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "convgrade ready: torch 2.13.0+cpu" in done.stdout, "torch's CPU build, not a CUDA one"
    frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True).stdout
    installed_there = _pins("\n".join(line for line in frozen.splitlines() if "==" in line))
    pins = _pins((tmp_path / "archive" / "constraints.txt").read_text())
    differ = {name: (version, pins.get(name)) for name, version in installed_there.items() if name != "convgrade" and pins.get(name) != version.split("+")[0]}
    assert not differ, f"installed otherwise than constraints.txt pins (installed, pinned): {differ}"
    process = _run_autograder(archive, tmp_path / "run", "1001", python=venv / "bin" / "python")
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log
    ours, theirs = json.loads((tmp_path / "run" / "results" / "results.json").read_text()), graded["1001"]["gradescope"]
    assert ours["score"] == theirs["score"] > 0
    assert [(t["name"], t["score"], t["status"]) for t in ours["tests"]] == [(t["name"], t["score"], t["status"]) for t in theirs["tests"]]


def test_results_json_follows_the_specification_field_by_field(graded):
    for student, run in graded.items():
        results = run["gradescope"]
        assert set(results) <= TOP_KEYS, set(results) - TOP_KEYS
        assert isinstance(results["score"], float) and isinstance(results["execution_time"], float) and results["execution_time"] > 0
        assert results["stdout_visibility"] == "hidden" and "visibility" not in results, "the log is the instructors'; tests set their own visibility"
        assert results["tests"], student
        for test in results["tests"]:
            assert set(test) <= TEST_KEYS and {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
            assert test["status"] in {"passed", "failed"} and test["visibility"] in VISIBILITIES
            assert test["visibility"] == ("after_published" if test["extra_data"]["hidden"] else "visible")
            assert test["status"] == "passed" or test["score"] < test["max_score"]
            assert test["tags"][0] == test["name"].split(":")[0] and test["tags"][1] in {"values", "shapes", "dtypes", "properties", "edge", "errors"}
        assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}
        assert results["extra_data"]["sandbox"] == "bubblewrap" and results["extra_data"]["student"] == student
        assert "this is submission 2; your best visible score before it: 20." in results["output"]


def test_scores_and_checks_equal_convgrade_grade_for_the_same_hand_in(graded):
    for run in graded.values():
        ours, theirs = run["gradescope"], run["convgrade"]
        assert [(t["name"], t["score"], t["status"], t["output"]) for t in ours["tests"]] == [(t["name"], t["score"], t["status"], t["output"]) for t in theirs["tests"]]
        assert ours["extra_data"]["raw_score"] == theirs["score"]
    perfect = graded["1001"]["gradescope"]
    assert perfect["score"] == 100.0 and perfect["extra_data"]["status"] == "graded" and "days after the due date" not in perfect["output"]
    assert "visible checks: " in perfect["output"] and "hidden checks hold" in perfect["output"]


def test_a_late_hand_in_pays_the_course_policy_against_gradescopes_due_date(graded):
    ben = graded["4242"]["gradescope"]
    raw = graded["4242"]["convgrade"]["score"]
    assert 0 < raw < 100, "ben's 01 has a flipped kernel and an off-by-one output size"
    assert ben["extra_data"]["status"] == "late" and ben["extra_data"]["late_days"] == pytest.approx(1.5, abs=0.01)
    assert ben["score"] == pytest.approx(raw * 0.8), "course.toml: 10% a day begun, two days begun"
    assert "handed in 1.50 days after the due date" in ben["output"]
    failing = [t for t in ben["tests"] if t["status"] == "failed" and t["visibility"] == "visible"]
    assert any("likely flipped kernel" in t["output"] for t in failing), "the named mistake reaches the student"
    named = {m for t in ben["tests"] for m in t["extra_data"]["mistakes"]}
    assert "flipped kernel" in named and any(m.startswith("off by one") for m in named), f"and extra_data names them: {named}"
    assert [t["number"] for t in ben["tests"]] == [str(n) for n in range(1, len(ben["tests"]) + 1)]


def _row(score: float) -> GradeRow:
    return GradeRow("7", ASSIGNMENT, score, 10.0, "graded", raw_score=score)


def test_without_bubblewrap_only_instructors_are_told(capsys):
    results = {"score": 4.0, "output": "", "extra_data": {"review": []}, "tests": [
        {"name": "f: a", "score": 4.0, "max_score": 4.0, "status": "passed", "visibility": "visible", "output": ""},
        {"name": "f: b", "score": 0.0, "max_score": 6.0, "status": "failed", "visibility": "after_published", "output": "wrong values"},
    ]}  # fmt: skip
    out = gradescope_results(results, _row(4.0), Metadata(student="7"), Course(), None, sandboxed=False)
    warning = [t for t in out["tests"] if t["output"] == NOT_SANDBOXED]
    assert len(warning) == 1 and warning[0]["visibility"] == "hidden" and warning[0]["max_score"] == 0, "hidden: never shown to students, no points"
    assert "sandbox" not in out["output"] and "bubblewrap" not in out["output"], "the student's output says nothing of it"
    assert out["extra_data"]["sandbox"].startswith("none") and NOT_SANDBOXED in capsys.readouterr().out, "the log and extra_data say it too"
    assert out["output"] == "visible checks: 4 of 4 points; hidden checks hold 6 more, shown when grades are published.\n"
    assert [t["name"] for t in gradescope_results(results, _row(4.0), Metadata(), Course(), None, sandboxed=True)["tests"]] == ["f: a", "f: b"]


def test_metadata_reads_each_users_own_due_date_and_a_group(tmp_path):
    data = metadata_of("4242", "2026-11-26T11:00:00-07:00")
    data["users"] = [{"id": 9, "name": "B", "assignment": {"due_date": "2026-11-27T23:00:00-07:00"}}, {"id": 12, "name": "C"}]
    (tmp_path / "m.json").write_text(json.dumps(data))
    read = Metadata.read(tmp_path / "m.json")
    assert read.student == "12+9" and read.due.isoformat() == "2026-11-28T06:00:00+00:00", "an extension Gradescope gives one user counts"
    late = gradescope_results({"score": 10.0, "tests": []}, _row(10.0), read, Course(LatePolicy("per-day", 10, 50)), None, sandboxed=True)
    assert late["score"] == 10.0 and late["extra_data"]["status"] == "graded", "handed in before the student's own due date"
    assert Metadata.read(tmp_path / "none.json") == Metadata(), "outside Gradescope: no metadata, defaults"


def test_the_upload_is_laid_out_as_one_hand_in(tmp_path):
    upload = tmp_path / "submission"
    (upload / "sub").mkdir(parents=True)
    (upload / "convolution.py").write_text("x = 1\n")
    (upload / "sub" / "helper.py").write_text("y = 2\n")
    (upload / "solutions.py").symlink_to(ROOT / "solutions" / ASSIGNMENT / "convolution.py")
    os.mkfifo(upload / "pipe")
    hand_in(upload, tmp_path / "class" / "7", ASSIGNMENT)
    copied = tmp_path / "class" / "7" / ASSIGNMENT
    assert (copied / "convolution.py").read_text() == "x = 1\n" and (copied / "sub" / "helper.py").is_file()
    assert (copied / "solutions.py").is_symlink(), "a link stays a link: the grader's discovery refuses it, never follows it"
    assert not (copied / "pipe").exists(), "a pipe is never opened"
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    shutil.make_archive(str(zipped / "anything"), "zip", upload, "convolution.py")
    hand_in(zipped, tmp_path / "class" / "8", ASSIGNMENT)
    assert (tmp_path / "class" / "8" / f"{ASSIGNMENT}.zip").is_file(), "one zip is the student's zip, extracted safely by the grader"


def test_a_run_that_fails_still_writes_results_for_gradescope(tmp_path, capsys):
    (tmp_path / "source").mkdir()
    assert main(["run", str(tmp_path)]) == 1
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 0 and "autograder failed" in results["output"]
    assert {t["visibility"] for t in results["tests"]} == {"hidden"} and re.search(r"FileNotFoundError", results["tests"][0]["output"])
