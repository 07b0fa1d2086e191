"""Release: ``source/`` -> ``assignments/`` (for students) and ``solutions/`` (reference).

The instructor's module marks each answer with nbgrader's markers::

    def pad2d(input, padding, mode="zeros", value=0.0):
        \"\"\"...the exercise text...\"\"\"
        ### BEGIN SOLUTION
        ...the answer...
        ### END SOLUTION

The pipeline reads top to bottom: plan every output file in memory
(``plan_release``), then either write the plan (``write_release``) or compare
it with what is on disk (``stale_files``). For the student release each solution
region becomes a stub that raises ``NotImplementedError`` naming its function,
and ``hidden_tests/`` is left out; for the reference, the marker lines go and
the code stays. Planning is deterministic: the same source gives the same bytes.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import HIDDEN_TESTS, Assignment, assignments_in

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUDENT_RELEASE = "assignments"
REFERENCE = "solutions"
IGNORED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", ".DS_Store"}


class ReleaseError(Exception):
    """The source cannot be released as it is; the message says where and why."""


@dataclass(frozen=True)
class Region:
    """One solution region: the marker lines (0-based) and the function it answers."""

    begin: int
    end: int
    indent: str
    function: str


# -- one small function per transformation ------------------------------------


def solution_regions(text: str, path: Path) -> list[Region]:
    """Every ``### BEGIN SOLUTION`` / ``### END SOLUTION`` pair, checked."""
    lines = text.splitlines()
    functions = _functions(text, path)
    regions, begin = [], None
    for number, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if begin is not None:
                raise ReleaseError(f"{path}:{number + 1}: a solution region starts inside another one")
            begin = number
        elif marker == END_SOLUTION:
            if begin is None:
                raise ReleaseError(f"{path}:{number + 1}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            regions.append(Region(begin, number, indent, _enclosing_function(functions, begin + 1, path)))
            begin = None
    if begin is not None:
        raise ReleaseError(f"{path}:{begin + 1}: {BEGIN_SOLUTION} is never closed")
    return regions


def _functions(text: str, path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise ReleaseError(f"{path}:{exc.lineno}: the source does not parse: {exc.msg}") from None
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _enclosing_function(functions: list, line: int, path: Path) -> str:
    """The innermost function whose body holds ``line`` (1-based)."""
    holding = [f for f in functions if f.lineno < line <= (f.end_lineno or 0)]
    if not holding:
        raise ReleaseError(f"{path}:{line}: a solution region must lie inside a function body")
    return max(holding, key=lambda f: f.lineno).name


def stub_module(text: str, path: Path) -> str:
    """The student's scaffold: each solution region replaced by a stub."""
    lines = text.splitlines()
    for region in reversed(solution_regions(text, path)):
        lines[region.begin : region.end + 1] = [
            f"{region.indent}# YOUR CODE HERE",
            f'{region.indent}raise NotImplementedError("{region.function}")',
        ]
    stub = "\n".join(lines) + "\n"
    _functions(stub, path)  # the stub must still parse
    return stub


def reference_module(text: str, path: Path) -> str:
    """The reference: marker lines removed, every line of code kept."""
    solution_regions(text, path)  # validates the markers
    kept = [line for line in text.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "\n".join(kept) + "\n"


def _has_markers(text: str) -> bool:
    return any(line.strip() in (BEGIN_SOLUTION, END_SOLUTION) for line in text.splitlines())


# -- the pipeline ---------------------------------------------------------------


def _source_files(assignment: Assignment) -> list[Path]:
    """Every file of the assignment's source folder, in a fixed order."""
    files = []
    for path in sorted(assignment.folder.rglob("*")):
        relative = path.relative_to(assignment.folder)
        if path.is_file() and not IGNORED.intersection(relative.parts) and not path.name.endswith((".pyc", ".pyo")):
            files.append(path)
    return files


def release_assignment(assignment: Assignment) -> dict[str, dict[Path, bytes]]:
    """Both releases of one assignment: ``{"assignments": {relative path: bytes}, "solutions": ...}``."""
    student: dict[Path, bytes] = {}
    reference: dict[Path, bytes] = {}
    for path in _source_files(assignment):
        relative = Path(assignment.name) / path.relative_to(assignment.folder)
        hidden = relative.parts[1] == HIDDEN_TESTS
        if path.suffix == ".ipynb":
            raise ReleaseError(f"{path}: notebooks are not released by convgrade yet")
        data = path.read_bytes()
        if path.suffix == ".py":
            text = data.decode("utf-8")
            if _has_markers(text):
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
    for assignment in assignments:
        for tree, files in release_assignment(assignment).items():
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
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    for tree in (STUDENT_RELEASE, REFERENCE):
        _remove_empty_folders(root / tree)
    return changes


def _remove_empty_folders(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and path.name in IGNORED:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
