"""nbgrader's hooks (``nbgrader_config.py``): convgrade's modules in nbgrader's releases."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.assignment import Assignment, find_course_root
from autograder.release import REFERENCE, STUDENT_RELEASE
from autograder.release.notebooks import NOTEBOOK
from autograder.release.plan import release_assignment, write_file


def nbgrader_wrote_student_release(assignment: str, student: str, notebooks: Sequence[str], **_: object) -> None:
    """After ``nbgrader generate_assignment``: write convgrade's student stubs beside nbgrader's notebooks."""
    _write_after_nbgrader(STUDENT_RELEASE, notebooks)


def nbgrader_wrote_reference(assignment: str, student: str, notebooks: Sequence[str], **_: object) -> None:
    """After ``nbgrader generate_solution``: write the reference modules and the hidden tests."""
    _write_after_nbgrader(REFERENCE, notebooks)


def _write_after_nbgrader(tree: str, notebooks: Sequence[str]) -> None:
    """Write the files of ``tree`` that convgrade plans and nbgrader does not write (all but notebooks)."""
    try:
        for folder in sorted({Path(notebook).resolve().parent for notebook in notebooks}):
            root = find_course_root(folder)
            assignment = Assignment.load(folder)
            files = release_assignment(assignment, _NoNotebooks())[tree]
            for relative, data in files.items():
                path = root / tree / relative
                if path.suffix != NOTEBOOK and not (path.is_file() and path.read_bytes() == data):
                    write_file(path, data)
    except Exception as exc:
        # nbgrader logs a failing hook at INFO only: say it where the instructor sees it
        print(f"convgrade: could not write the modules of {tree}/ after nbgrader: {exc}", file=sys.stderr)
        raise


class _NoNotebooks:
    """Stands in for ``NbgraderNotebooks`` where nbgrader itself has just written the notebooks."""

    def student_release(self, path: Path) -> bytes:
        return b""

    def reference(self, path: Path) -> bytes:
        return b""
