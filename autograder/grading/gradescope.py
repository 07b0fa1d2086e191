"""Gradescope: the autograder archive of one assignment (``convgrade gradescope``), and what it runs there.

``build_archive`` writes the zip Gradescope's specification asks for
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and
``run_autograder`` at its root (templates ``gradescope_*.j2``), the package as a wheel
made here (no build step, so nothing unpinned is fetched), ``constraints.txt``, and
``course/``: ``course.toml``, the course secret and the assignment's ``assignment.toml``,
``tests/`` and ``hidden_tests/``; never its solution module nor its notebook.

On Gradescope, ``run_autograder`` runs ``python -m autograder.grading.gradescope
/autograder`` (``run``): the upload in ``/autograder/submission`` is laid out as one
hand-in of a class, graded by ``convgrade grade`` itself (one student, one process,
student code in the sandbox), and its ``results.json`` written to
``/autograder/results/`` with what Gradescope adds (``gradescope_results``): the
course's late policy against Gradescope's due date (``submission_metadata.json``),
the student's earlier submissions, and, for instructors only, a grader without
bubblewrap.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import autograder
from autograder.assignment import HIDDEN_TESTS, METADATA, VISIBLE_TESTS, Assignment, assignments_in
from autograder.atomic import atomic_write_bytes, atomic_write_text
from autograder.course import COURSE, Course, parse_time
from autograder.grading.archives import MAX_FILE_BYTES, MAX_FILES
from autograder.grading.late import with_late_policy
from autograder.grading.results import GRADES_CSV, RESULTS_JSON, VISIBLE_VISIBILITY, environment, read_results_json
from autograder.grading.secret import FOLDER, NAME
from autograder.scores import GradeRow, points_text, total

VENV = "/opt/convgrade/venv"  # where setup.sh installs the environment on Gradescope's image
APT = ("python3.11", "python3.11-venv", "bubblewrap")
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
CONSTRAINTS = "constraints.txt"
SCRIPTS = ("setup.sh", "install_env.sh", "run_autograder")  # setup.sh's system packages, its install step, and the run
UNFROZEN = ("setuptools",)  # torch and nbgrader need it, pip freeze leaves it out of constraints.txt: pinned as installed here
COURSE_FOLDER = "course"  # in the archive, so in /autograder/source: a course of one assignment
BUILT = "convgrade.json"  # what the archive grades: {"assignment": ...}
METADATA_FILE = "submission_metadata.json"  # Gradescope's, beside submission/
ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # every member's date: the same course gives the same bytes
NOT_SANDBOXED = (
    "bubblewrap could not start in this container (no user namespaces for root here?): the student's code ran "
    "WITHOUT the sandbox, with resource limits only, and could read /autograder/source (the hidden tests, the course "
    "secret) and write results. Grades of this run are not to be trusted against a hostile student."
)


class GradescopeError(Exception):
    """The archive cannot be built, or a run cannot grade; one sentence for people."""


# --- building the archive --------------------------------------------------------------------------------------------


def build_archive(root: Path, assignment: str, target: Path, secret: bytes) -> list[str]:
    """Write Gradescope's autograder zip of ``root/source/assignment`` to ``target``; the names it holds."""
    project = Path(autograder.__file__).resolve().parent.parent
    if not (project / "pyproject.toml").is_file() or not (project / CONSTRAINTS).is_file():
        raise GradescopeError(f"the package at {project} is not a checkout of convgrade (no pyproject.toml and {CONSTRAINTS} beside it): build the archive from one")
    folder = root / "source" / assignment
    if not (folder / METADATA).is_file():
        known = ", ".join(a.name for a in assignments_in(root / "source")) if (root / "source").is_dir() else "none"
        raise GradescopeError(f"unknown assignment {assignment}; source/ has {known}")
    wheel_name, wheel = package_wheel(project)
    pins = (project / CONSTRAINTS).read_text(encoding="utf-8")
    context = {
        "assignment": assignment, "venv": VENV, "apt": APT, "torch_index": TORCH_INDEX, "torch": _pin(pins, "torch"),
        "constraints": CONSTRAINTS, "wheel": wheel_name, "version": _project(project)["version"],
        "unfrozen": [f"{name}=={_installed(name)}" for name in UNFROZEN if not _pinned(pins, name)],
    }  # fmt: skip
    members: dict[str, bytes] = {
        name: environment().get_template(f"gradescope_{name}.j2").render(context).encode() for name in SCRIPTS
    }
    members |= {wheel_name: wheel, CONSTRAINTS: pins.encode(), BUILT: json.dumps({"assignment": assignment}).encode()}
    members |= {f"{COURSE_FOLDER}/{FOLDER}/{NAME}": secret + b"\n", **_course_files(root, folder)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = (0o755 if name in SCRIPTS else 0o644 if FOLDER not in name else 0o600) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    atomic_write_bytes(target, buffer.getvalue(), mode=0o600)  # it holds the hidden tests and the course secret
    return sorted(members)


def _course_files(root: Path, folder: Path) -> dict[str, bytes]:
    """The course as the grader needs it, by name in the archive: ``course.toml``, the assignment's metadata and tests."""
    Assignment.load(folder)  # a malformed assignment.toml fails here, not on Gradescope
    files = {f"{COURSE_FOLDER}/{COURSE}": (root / COURSE).read_bytes()} if (root / COURSE).is_file() else {}
    inside = f"{COURSE_FOLDER}/source/{folder.name}"
    files[f"{inside}/{METADATA}"] = (folder / METADATA).read_bytes()
    for tests in (VISIBLE_TESTS, HIDDEN_TESTS):
        for path in _files_under(folder / tests):
            files[f"{inside}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files


def _files_under(folder: Path) -> list[Path]:
    """The regular files under ``folder`` (none when it is missing), caches left out, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _project(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _pinned(constraints: str, name: str) -> str | None:
    """``name==version`` as ``constraints.txt`` pins it, if it does."""
    return next((line.strip() for line in constraints.splitlines() if line.split("==")[0].strip().lower() == name), None)


def _installed(name: str) -> str:
    """The version of ``name`` installed here, which the archive pins where ``constraints.txt`` does not."""
    try:
        return version(name)
    except PackageNotFoundError:
        raise GradescopeError(f"{CONSTRAINTS} does not pin {name}, nor is it installed here to pin as installed: add it to {CONSTRAINTS}") from None


def _pin(constraints: str, name: str) -> str:
    """``name==version`` as ``constraints.txt`` pins it."""
    if pin := _pinned(constraints, name):
        return pin
    raise GradescopeError(f"{CONSTRAINTS} does not pin {name}")


def package_wheel(project: Path) -> tuple[str, bytes]:
    """The package as a pure-Python wheel, made from its files and ``pyproject.toml`` (the wheel format, PEP 427)."""
    meta = _project(project)
    dist = f"{meta['name']}-{meta['version']}.dist-info"
    files = {p.relative_to(project).as_posix(): p.read_bytes() for p in _files_under(project / "autograder")}
    entry_points = {"console_scripts": meta.get("scripts", {}), **meta.get("entry-points", {})}
    files[f"{dist}/METADATA"] = "".join(
        [f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\nRequires-Python: {meta['requires-python']}\n"]
        + [f"Requires-Dist: {requirement}\n" for requirement in meta["dependencies"]]
    ).encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: convgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) + "\n" for group, entries in entry_points.items()
    ).encode()
    files[f"{dist}/top_level.txt"] = b"autograder\n"
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in files.items()) + f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return f"{meta['name']}-{meta['version']}-py3-none-any.whl", buffer.getvalue()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --- running on Gradescope -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metadata:
    """What ``submission_metadata.json`` says of this submission (Gradescope's "Submission Metadata" page)."""

    student: str = "student"  # the Gradescope user id(s): a group's joined by "+"
    created_at: datetime | None = None  # when it was handed in
    due: datetime | None = None  # the student's due date (their extension's, where Gradescope gives one per user)
    late_due: datetime | None = None
    previous: tuple[dict[str, Any], ...] = ()  # earlier submissions: submission_time, score, results

    @classmethod
    def read(cls, path: Path) -> Metadata:
        """The metadata in ``path``; the defaults without one (a run outside Gradescope)."""
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        users = data.get("users") or []
        own = (users[0].get("assignment") or {}) if users else {}  # newer metadata: each user's own dates
        dates = {**(data.get("assignment") or {}), **{k: v for k, v in own.items() if v}}
        ids = sorted(str(user.get("id")) for user in users if user.get("id") is not None)
        return cls(
            student="+".join(ids) or "student", created_at=_time(data.get("created_at")), due=_time(dates.get("due_date")),
            late_due=_time(dates.get("late_due_date")), previous=tuple(data.get("previous_submissions") or ()),
        )  # fmt: skip


def _time(text: object) -> datetime | None:
    return parse_time(text) if isinstance(text, str) and text else None


def run(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as ``convgrade grade`` does and write ``root/results/results.json``; the results."""
    from autograder.sandbox.launch import bubblewrap_available

    started = time.monotonic()
    source = root / "source"
    assignment = json.loads((source / BUILT).read_text(encoding="utf-8"))["assignment"]
    course = source / COURSE_FOLDER
    metadata = Metadata.read(root / METADATA_FILE)
    sandboxed = bubblewrap_available()
    with tempfile.TemporaryDirectory(prefix="convgrade-gradescope-") as scratch:
        work = Path(scratch)
        hand_in(root / "submission", work / "submitted" / metadata.student, assignment)
        command = [
            sys.executable, "-m", "autograder.cli", "grade", str(work / "submitted"), "-a", assignment, "--out", str(work / "out"),
            "--processes", "1", "--root", str(course), "--secret", str(course / FOLDER / NAME), "--no-class-page",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
        print(done.stdout, done.stderr, sep="\n", flush=True)  # Gradescope's stdout: the instructors' log
        graded = work / "out" / metadata.student / assignment / RESULTS_JSON
        if done.returncode != 0 or not graded.is_file():
            raise GradescopeError(f"convgrade grade exited {done.returncode} without results: {done.stderr.strip()[-2000:]}")
        row = _row(work / "out" / GRADES_CSV)
        results = gradescope_results(read_results_json(graded), row, metadata, Course.load(course), Assignment.load(course / "source" / assignment).due, sandboxed=sandboxed)
    results["execution_time"] = round(time.monotonic() - started, 2)
    write_results(root, results)
    return results


def hand_in(upload: Path, student: Path, assignment: str) -> None:
    """The upload as the student's hand-in of ``assignment`` in a class's layout: one zip as their zip, else a folder.

    Files are copied, links recreated as links and special files left out, so the
    grader's discovery (``autograder.grading.submissions``) sees what the student
    uploaded and refuses what it refuses in any class, saying why.
    """
    student.mkdir(parents=True)
    entries = sorted(upload.iterdir()) if upload.is_dir() else []
    if len(entries) == 1 and entries[0].suffix.lower() == ".zip" and stat.S_ISREG(entries[0].lstat().st_mode):
        shutil.copyfile(entries[0], student / f"{assignment}.zip")
        return
    target = student / assignment
    target.mkdir()
    copied = 0
    for folder, dirs, files in os.walk(upload):  # does not follow links to folders
        here = Path(folder)
        for name in sorted(files + [d for d in dirs if (here / d).is_symlink()]):
            path, copy = here / name, target / (here / name).relative_to(upload)
            mode = path.lstat().st_mode
            if copied >= MAX_FILES or not (stat.S_ISLNK(mode) or stat.S_ISREG(mode) and path.lstat().st_size <= MAX_FILE_BYTES):
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(path), copy)
            else:
                shutil.copyfile(path, copy)
            copied += 1


def _row(path: Path) -> GradeRow:
    """The one row of the run's ``grades.csv``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != 1:
        raise GradescopeError(f"{path} has {len(rows)} rows, not the one of this submission")
    row = rows[0]
    score, max_score = float(row["score"] or 0), float(row["max_score"] or 0)
    raw = float(row["raw_score"]) if row.get("raw_score") else score  # before any penalty of the student's own timestamp
    return GradeRow(row["student_id"], row["assignment"], raw, max_score, row["status"], raw_score=raw)


def gradescope_results(
    results: dict[str, Any], row: GradeRow, metadata: Metadata, course: Course, due: datetime | None, *, sandboxed: bool
) -> dict[str, Any]:
    """``convgrade grade``'s ``results.json`` with what Gradescope adds: the late penalty, earlier submissions, the sandbox."""
    deadline = metadata.due or due  # Gradescope's date (the student's own, with an extension) over assignment.toml's
    handed_in = metadata.created_at.isoformat() if metadata.created_at else ""
    (counted,), _ = with_late_policy([replace(row, handed_in=handed_in)], {row.assignment: deadline}, course.late)
    tests = list(results["tests"])
    if not sandboxed:
        tests.append({"name": "sandbox (instructors only)", "score": 0.0, "max_score": 0.0, "status": "failed", "output": NOT_SANDBOXED, "visibility": "hidden"})
        print(f"WARNING: {NOT_SANDBOXED}", flush=True)
    lines = [results.get("output", "").strip(), _late_line(counted, deadline), _visible_line(tests), _previous_line(metadata.previous)]
    extra = {**results.get("extra_data", {}), "status": counted.status, "raw_score": counted.raw_score, "late_days": counted.late_days}
    return {
        **results, "score": counted.score, "output": "\n".join(line for line in lines if line) + "\n", "tests": tests,
        "extra_data": {**extra, "sandbox": "bubblewrap" if sandboxed else "none: resource limits only", "student": metadata.student},
    }  # fmt: skip


def _late_line(row: GradeRow, deadline: datetime | None) -> str:
    if not row.late_days:
        return ""
    lost = (row.raw_score or 0.0) - row.score
    return f"handed in {row.late_days:.2f} days after the due date ({deadline.isoformat() if deadline else ''}): the course's late policy takes {points_text(lost)} points, {points_text(row.score)} of {points_text(row.raw_score or 0.0)} count."


def _visible_line(tests: list[dict[str, Any]]) -> str:
    """The visible checks' total, and what the hidden ones hold (their scores show once grades are published)."""
    shown = [test for test in tests if test.get("visibility", VISIBLE_VISIBILITY) == VISIBLE_VISIBILITY]
    hidden = total(test["max_score"] for test in tests if test.get("visibility") not in (VISIBLE_VISIBILITY, "hidden"))
    line = f"visible checks: {points_text(total(t['score'] for t in shown))} of {points_text(total(t['max_score'] for t in shown))} points"
    return line + (f"; hidden checks hold {points_text(hidden)} more, shown when grades are published." if hidden else ".")


def _previous_line(previous: tuple[dict[str, Any], ...]) -> str:
    """This submission's number, and the best visible score before it (never a total that holds hidden checks' points)."""
    if not previous:
        return ""
    best = max((_visible_score(p.get("results") or {}) for p in previous), default=None)
    what = f"; your best visible score before it: {points_text(best)}" if best is not None else ""
    return f"this is submission {len(previous) + 1}{what}."


def _visible_score(results: dict[str, Any]) -> float | None:
    tests = [t for t in results.get("tests") or () if t.get("visibility", VISIBLE_VISIBILITY) == VISIBLE_VISIBILITY]
    return total(float(t.get("score") or 0) for t in tests) if tests else None


def write_results(root: Path, results: dict[str, Any]) -> None:
    """Write ``root/results/results.json``, atomically."""
    atomic_write_text(root / "results" / RESULTS_JSON, json.dumps(results, ensure_ascii=False, indent=1) + "\n")


def failed_run(root: Path, exc: BaseException, started: float) -> None:
    """A results file for a run the grader failed: no score of the student's, and the reason for instructors."""
    traceback.print_exception(exc)
    write_results(root, {
        "score": 0.0, "execution_time": round(time.monotonic() - started, 2), "stdout_visibility": "hidden",
        "output": "The autograder failed on this submission (not your code's fault): your instructor can see why and grade it again.\n",
        "tests": [{"name": "autograder error (instructors only)", "score": 0.0, "max_score": 0.0, "status": "failed", "visibility": "hidden", "output": f"{type(exc).__name__}: {exc}"}],
        "extra_data": {"grader_error": f"{type(exc).__name__}: {exc}"},
    })  # fmt: skip


def main(argv: list[str]) -> int:
    """``python -m autograder.grading.gradescope /autograder``: what ``run_autograder`` runs; a results file always."""
    root = Path(argv[1] if len(argv) > 1 else "/autograder")
    started = time.monotonic()
    try:
        run(root)
    except Exception as exc:  # noqa: BLE001 - Gradescope must get a results file whatever failed
        failed_run(root, exc, started)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
