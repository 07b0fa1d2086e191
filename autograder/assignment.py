"""What an assignment folder holds, and where to find assignment folders.

An assignment folder (in ``source/``, ``assignments/`` or ``solutions/``, or a
student's submission) holds ``assignment.toml``::

    title = "Padding"
    module = "padding"              # the student edits padding.py
    forbidden = ["padding", "F.pad"] # what students may not call: families and names (autograder.forbidden)

    [rubric]                        # optional; these are the defaults
    points = 100                    # what the assignment is worth
    errors = 0.10                   # the share of those points for input validation

    due = 2026-12-08T23:59:00+01:00 # optional: when it is due (course.toml says what lateness costs)
    weight = 1                      # optional: its weight in the course total
    preload = ["sklearn.datasets"]  # optional: modules the grading sandbox imports once, before it forks each
                                    # student's child (a slow import paid once per sandbox, not per student)

    [uses]                          # optional: a failure traced to the function it calls
    conv2d_same = ["pad2d", "same_padding"]

plus the module, ``tests/`` (visible tests) and, outside the student release,
``hidden_tests/``.

The rubric: every check belongs to one category (``CATEGORIES``, the
``category`` marker; ``values`` by default) and declares its points. A category
given a share in ``[rubric]`` is worth that share of ``points``; the others share
what is left in proportion to their declared points. ``convgrade release``
writes the points the checks declare per category, visible and hidden together,
into the released copies (``[rubric.declared]``), so that a student's
self-check, which has only the visible checks, scores each check as grading does.
It also writes ``[api]``: the functions the module must define, with their
parameters (``pad2d = "(input, padding, mode='zeros', value=0.0)"``), which
``convgrade submit`` holds the student's module to (``autograder.handin``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

METADATA = "assignment.toml"
VISIBLE_TESTS = "tests"
HIDDEN_TESTS = "hidden_tests"
CATEGORIES = {  # what a check measures (its ``category`` marker), and what a student reads about it
    "values": "values against PyTorch and hand-worked cases",
    "shapes": "shapes",
    "dtypes": "dtypes",
    "properties": "properties",
    "edge": "edge cases",
    "errors": "errors for bad arguments",
}
DEFAULT_CATEGORY = "values"
DEFAULT_POINTS = 100.0
DEFAULT_SHARES = {"errors": 0.10}  # the curriculum's rule: input validation is at most 10% of an assignment
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")  # a module's dotted name, as `import` takes it


@dataclass(frozen=True)
class Rubric:
    """What an assignment is worth, and how its points are shared out between the categories of its checks."""

    points: float = DEFAULT_POINTS
    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))  # category -> share of ``points``
    declared: dict[str, float] | None = None  # points the checks declare per category (written by the release)

    def factors(self, declared: dict[str, float]) -> dict[str, float]:
        """Per category, what one declared point is worth, given the points declared per category."""
        present = {category: total for category, total in declared.items() if total > 0}
        fixed = sum(share for category, share in self.shares.items() if category in present)
        free = sum(total for category, total in present.items() if category not in self.shares)
        factors = {}
        for category, total in present.items():
            if category in self.shares:
                factors[category] = self.points * self.shares[category] / total
            else:
                factors[category] = self.points * (1 - fixed) / free
        return factors

    @classmethod
    def parse(cls, data: object, path: Path) -> Rubric:
        """The ``[rubric]`` table of ``path`` (absent: the defaults), checked."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise AssignmentError(f"{path}: [rubric] must be a table.")
        points = data.get("points", DEFAULT_POINTS)
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            raise AssignmentError(f"{path}: rubric.points must be a positive number, not {points!r}.")
        shares = dict(DEFAULT_SHARES)
        for key, value in data.items():
            if key in ("points", "declared"):
                continue
            if key not in CATEGORIES:
                raise AssignmentError(f"{path}: rubric.{key} is not a category of checks; the categories are {', '.join(CATEGORIES)}.")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise AssignmentError(f"{path}: rubric.{key} must be a share between 0 and 1, not {value!r}.")
            shares[key] = float(value)
        if sum(shares.values()) > 1 + 1e-9:
            raise AssignmentError(f"{path}: the rubric's shares add up to {sum(shares.values()):g}, more than 1.")
        declared = data.get("declared")
        if declared is not None and not (
            isinstance(declared, dict) and all(key in CATEGORIES and isinstance(v, (int, float)) for key, v in declared.items())
        ):
            raise AssignmentError(f"{path}: rubric.declared is written by `convgrade release`: release again.")
        return cls(points=float(points), shares=shares, declared=None if declared is None else {k: float(v) for k, v in declared.items()})


class AssignmentError(Exception):
    """An assignment folder is missing or malformed; the message is for people."""


@dataclass(frozen=True)
class Assignment:
    """One assignment folder and its metadata."""

    folder: Path
    title: str
    module: str
    forbidden: tuple[str, ...]
    rubric: Rubric = field(default_factory=Rubric)
    uses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # function -> the functions of the module it calls
    due: datetime | None = None  # when it is due (a late hand-in pays the course's late policy)
    weight: float = 1.0  # its weight in the course total
    api: dict[str, str] = field(default_factory=dict)  # released copies: what the module must define, with its parameters
    preload: tuple[str, ...] = ()  # modules the grading sandbox imports before it forks a student's child

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
        from autograder.forbidden import UnknownName, resolve

        forbidden = data.get("forbidden", [])
        if not isinstance(forbidden, list):
            raise AssignmentError(f"{path}: forbidden is a list of names, e.g. [\"convolution\", \"F.pad\"].")
        try:
            resolve(forbidden)
        except UnknownName as exc:
            raise AssignmentError(f"{folder.name} forbids a name that names nothing: {exc} ({path}).") from None
        rubric = Rubric.parse(data.get("rubric"), path)
        uses = data.get("uses", {})
        if not (isinstance(uses, dict) and all(isinstance(v, list) and all(isinstance(f, str) for f in v) for v in uses.values())):
            raise AssignmentError(f"{path}: [uses] maps a function to the list of functions it calls, e.g. conv2d_same = [\"pad2d\"].")
        weight = data.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
            raise AssignmentError(f"{path}: weight must be a number of at least 0, not {weight!r}.")
        due = data.get("due")
        if due is not None and not (isinstance(due, datetime) and due.tzinfo is not None):
            raise AssignmentError(f"{path}: due must be a date-time with its offset, e.g. 2026-12-08T23:59:00+01:00, not {due!r}.")
        preload = data.get("preload", [])
        if not (isinstance(preload, list) and all(isinstance(name, str) and _MODULE_NAME.fullmatch(name) for name in preload)):
            raise AssignmentError(f"{path}: preload is a list of module names, e.g. [\"sklearn.datasets\"], not {preload!r:.80}.")
        api = data.get("api", {})
        if not (isinstance(api, dict) and all(isinstance(v, str) for v in api.values())):
            raise AssignmentError(f"{path}: [api] is written by `convgrade release`: release again.")
        return cls(
            folder=folder, title=data["title"], module=data["module"], forbidden=tuple(forbidden), rubric=rubric,
            uses={function: tuple(used) for function, used in uses.items()}, due=due, weight=float(weight), api=api,
            preload=tuple(preload),
        )  # fmt: skip


def check_forbidden(assignments: list[Assignment], here: bool = False) -> None:
    """Raise ``AssignmentError`` naming the assignment, the name and why, for a forbidden name that names nothing here.

    Whether ``F.max_pol2d`` exists takes importing what it names, torch: where torch is
    not loaded (the parent of ``convgrade grade``), ``python -m autograder.forbidden``
    answers, and the names found are remembered per torch, numpy and scipy version
    (in ``~/.cache/convgrade``), so a course's names cost that once. ``here``: import
    torch in this process (for a command that imports it anyway).
    """
    from autograder import forbidden

    names = sorted({name for a in assignments for name in a.forbidden if name not in forbidden.FAMILIES})
    if not names:
        return
    known, cache = _checked_names()
    todo = [name for name in names if name not in known]
    if not todo:
        return
    if here or "torch" in sys.modules:
        problems = {name: why for name in todo if (why := forbidden.unresolvable(name)) is not None}
    else:
        done = subprocess.run([sys.executable, "-m", "autograder.forbidden", *todo], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssignmentError(f"could not check the forbidden names {', '.join(todo)}: {done.stderr.strip()[-500:]}")
        problems = json.loads(done.stdout)
    for a in assignments:
        for name in a.forbidden:
            if name in problems:
                raise AssignmentError(f"{a.name} forbids {name!r}, which names nothing here: {problems[name]} ({a.folder / METADATA}).")
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(sorted(known | set(todo))), encoding="utf-8")


def _checked_names() -> tuple[set[str], Path]:
    """The forbidden names already found in this environment, and the file that remembers them."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "none"

    tag = "-".join(installed(package) for package in ("torch", "numpy", "scipy"))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convgrade" / f"forbidden-names-{tag}.json"
    try:
        return set(json.loads(cache.read_text(encoding="utf-8"))), cache
    except (OSError, ValueError):
        return set(), cache


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
