"""What an assignment folder holds, and where to find assignment folders.

An assignment folder (in ``source/``, ``assignments/`` or ``solutions/``, or a
student's submission) holds ``assignment.toml``::

    title = "Padding"
    module = "padding"              # the student edits padding.py
    forbidden = ["padding"]         # keys of autograder.forbidden.RULES

plus the module, ``tests/`` (visible tests) and, outside the student release,
``hidden_tests/``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

METADATA = "assignment.toml"
VISIBLE_TESTS = "tests"
HIDDEN_TESTS = "hidden_tests"


class AssignmentError(Exception):
    """An assignment folder is missing or malformed; the message is for people."""


@dataclass(frozen=True)
class Assignment:
    """One assignment folder and its metadata."""

    folder: Path
    title: str
    module: str
    forbidden: tuple[str, ...]

    @property
    def name(self) -> str:
        """The assignment's name, its folder's name, e.g. ``03_padding``."""
        return self.folder.name

    @property
    def module_file(self) -> Path:
        """The file the student edits, e.g. ``padding.py``."""
        return self.folder / f"{self.module}.py"

    @property
    def visible_tests(self) -> Path:
        """The folder of tests that students receive."""
        return self.folder / VISIBLE_TESTS

    @property
    def hidden_tests(self) -> Path:
        """The folder of tests that never leave the instructor's copy."""
        return self.folder / HIDDEN_TESTS

    @classmethod
    def load(cls, folder: Path) -> Assignment:
        """Read ``folder/assignment.toml``."""
        folder = Path(folder).resolve()
        path = folder / METADATA
        if not path.is_file():
            raise AssignmentError(f"{folder} is not an assignment folder: it has no {METADATA}.")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise AssignmentError(f"{path} is not valid TOML: {exc}.") from None
        missing = [key for key in ("title", "module") if not isinstance(data.get(key), str)]
        if missing:
            raise AssignmentError(f"{path} needs a string {' and '.join(missing)}.")
        from autograder.forbidden import RULES

        forbidden = tuple(data.get("forbidden", ()))
        unknown = [key for key in forbidden if key not in RULES]
        if unknown:
            raise AssignmentError(
                f"{path} forbids unknown {', '.join(unknown)}; known: {', '.join(RULES)}."
            )
        return cls(folder=folder, title=data["title"], module=data["module"], forbidden=forbidden)


def enclosing_assignment(path: Path) -> Assignment | None:
    """The assignment whose folder holds ``path`` (a test file, say), if any."""
    for folder in [Path(path).resolve(), *Path(path).resolve().parents]:
        if (folder / METADATA).is_file():
            return Assignment.load(folder)
    return None


def assignments_in(root: Path) -> list[Assignment]:
    """Every assignment folder directly below ``root``, in name order."""
    return [Assignment.load(p.parent) for p in sorted(Path(root).glob(f"*/{METADATA}"))]


def find_course_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``source/`` or ``assignments/``."""
    start = Path(start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        if (folder / "source").is_dir() or (folder / "assignments").is_dir():
            return folder
    return None
