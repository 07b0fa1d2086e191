"""The release planned in memory, then written or compared with the disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from autograder.assignment import HIDDEN_TESTS, METADATA, Assignment, assignments_in, check_forbidden
from autograder.atomic import atomic_write_bytes
from autograder.release import REFERENCE, STUDENT_RELEASE, ReleaseError
from autograder.release.markers import has_markers, reference_module, stub_module
from autograder.release.notebooks import NOTEBOOK, NbgraderNotebooks

IGNORED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", ".DS_Store"}
# pytest configuration: nbgrader_config.py never copies it (a submission's must not steer its checks), so neither do we
PYTEST_CONFIG = {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"}


def _source_files(assignment: Assignment) -> list[Path]:
    """Every file of the assignment's source folder, in a fixed order."""
    files = []
    for path in sorted(assignment.folder.rglob("*")):
        relative = path.relative_to(assignment.folder)
        if path.is_file() and not IGNORED.intersection(relative.parts) and not path.name.endswith((".pyc", ".pyo")):
            files.append(path)
    return files


def release_assignment(
    assignment: Assignment, notebooks: NbgraderNotebooks | None = None, declared: dict[str, float] | None = None
) -> dict[str, dict[Path, bytes]]:
    """Both releases of one assignment: ``{"assignments": {relative path: bytes}, "solutions": ...}``.

    ``notebooks`` releases the assignment's notebooks (default: nbgrader with the
    course's config, started only when the assignment has a notebook);
    ``declared``, the points its checks declare per category (default: collected now).
    """
    student: dict[Path, bytes] = {}
    reference: dict[Path, bytes] = {}
    for path in _source_files(assignment):
        relative = Path(assignment.name) / path.relative_to(assignment.folder)
        hidden = relative.parts[1] == HIDDEN_TESTS
        if path.name in PYTEST_CONFIG:
            raise ReleaseError(f"{path}: an assignment holds no pytest configuration (nbgrader_config.py keeps a submission's out of grading)")
        if path.suffix == NOTEBOOK:
            if len(relative.parts) != 2:
                raise ReleaseError(f"{path}: a notebook must sit at the top of its assignment folder (nbgrader releases no other)")
            if notebooks is None:
                notebooks = NbgraderNotebooks(assignment.folder.parent.parent)
            student[relative] = notebooks.student_release(path)
            reference[relative] = notebooks.reference(path)
            continue
        data = path.read_bytes()
        if relative == Path(assignment.name) / METADATA:
            data = released_metadata(assignment, data.decode("utf-8"), declared).encode("utf-8")
        if path.suffix == ".py":
            text = data.decode("utf-8")
            if has_markers(text):
                if hidden or relative.parts[1] == "tests":
                    raise ReleaseError(f"{path}: tests must not hold solution markers")
                student[relative] = stub_module(text, path).encode("utf-8")
                reference[relative] = reference_module(text, path).encode("utf-8")
                continue
        if not hidden:
            student[relative] = data
        reference[relative] = data
    return {STUDENT_RELEASE: student, REFERENCE: reference}


def plan_release(source: Path) -> dict[Path, bytes]:
    """Every file both releases hold, keyed by path relative to the course root."""
    assignments = assignments_in(source)
    if not assignments:
        raise ReleaseError(f"{source} holds no assignment folder (none with assignment.toml)")
    plan: dict[Path, bytes] = {}
    from autograder.checks.rubric import collect_checks  # collecting the checks imports pytest and torch

    checks = collect_checks(*(a.folder for a in assignments))  # one pytest session for the whole course
    declared: dict[str, dict[str, float]] = {a.name: {} for a in assignments}
    for check in checks:
        totals = declared[check["assignment"]]
        totals[check["category"]] = totals.get(check["category"], 0.0) + check["declared"]
    notebooks = None
    if any(next(a.folder.glob(f"*{NOTEBOOK}"), None) for a in assignments):
        notebooks = NbgraderNotebooks(Path(source).resolve().parent, checks=checks)  # nbgrader takes seconds to import: once
    check_forbidden(assignments, here=True)
    for assignment in assignments:
        for tree, files in release_assignment(assignment, notebooks, declared[assignment.name]).items():
            plan.update({Path(tree) / relative: data for relative, data in files.items()})
    return plan


def _released_files(root: Path) -> set[Path]:
    """The files now on disk in the release trees (caches ignored)."""
    found = set()
    for tree in (STUDENT_RELEASE, REFERENCE):
        for path in (root / tree).rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and not IGNORED.intersection(relative.parts) and path.suffix != ".pyc":
                found.add(relative)
    return found


def stale_files(plan: dict[Path, bytes], root: Path) -> list[str]:
    """What differs between the plan and the disk, one line each (empty: up to date)."""
    problems = []
    for relative, data in sorted(plan.items()):
        path = root / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif path.read_bytes() != data:
            problems.append(f"differs: {relative}")
    problems += [f"not from source/: {relative}" for relative in sorted(_released_files(root) - plan.keys())]
    return problems


def write_release(plan: dict[Path, bytes], root: Path) -> list[str]:
    """Make the disk match the plan: write changed files atomically, remove strays."""
    changes = stale_files(plan, root)
    for relative in sorted(_released_files(root) - plan.keys()):
        (root / relative).unlink()
    for relative, data in sorted(plan.items()):
        path = root / relative
        if path.is_file() and path.read_bytes() == data:
            continue
        write_file(path, data)
    for tree in (STUDENT_RELEASE, REFERENCE):
        _remove_empty_folders(root / tree)
    return changes


def _remove_empty_folders(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and path.name in IGNORED:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def released_metadata(assignment: Assignment, text: str, declared: dict[str, float] | None = None) -> str:
    """``assignment.toml`` as released: the source's, and the points its checks declare per category.

    A student's copy has only the visible checks; with these totals its self-check
    scores each check as grading does (``autograder.checks.rubric``). ``declared``:
    those totals when already collected, else they are collected now.
    """
    from autograder.checks.rubric import declared_points  # collecting the checks imports pytest and torch

    if assignment.rubric.declared is not None:
        raise ReleaseError(f"{assignment.folder / METADATA}: [rubric.declared] is written by the release; remove it from source/")
    declared = declared_points(assignment.folder) if declared is None else declared
    table = "".join(f"{category} = {points:g}\n" for category, points in sorted(declared.items()))
    return f"{text.rstrip()}\n\n{_api_table(assignment)}# Written by `convgrade release`: the points the checks declare per category, visible and hidden.\n[rubric.declared]\n{table}"


def _api_table(assignment: Assignment) -> str:
    """The ``[api]`` table of the released ``assignment.toml``: the stub's functions and signatures, which ``convgrade submit`` checks.

    The student's module is the released stub, edited: what it must still define
    is recorded here, where the student's edits do not reach (``autograder.handin.api_of``).
    """
    from autograder.handin import api_of

    if assignment.api:
        raise ReleaseError(f"{assignment.folder / METADATA}: [api] is written by the release; remove it from source/")
    if not assignment.module_file.is_file():
        return ""
    text = assignment.module_file.read_text(encoding="utf-8")
    stub = stub_module(text, assignment.module_file) if has_markers(text) else text
    rows = "".join(f"{name} = {json.dumps(signature)}\n" for name, signature in api_of(stub).items())
    return f"# Written by `convgrade release`: the functions {assignment.module}.py must define, with their parameters.\n[api]\n{rows}\n"


def write_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, readable by all (0644, as nbgrader writes releases)."""
    atomic_write_bytes(path, data, mode=0o644)
