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

Notebooks (``<a>.ipynb`` at the top of the assignment folder) are nbgrader's:
``NbgraderNotebooks`` runs the preprocessors of nbgrader's ``GenerateAssignment``
(student release) and ``GenerateSolution`` (reference) as the course's
``nbgrader_config.py`` configures them, in memory, with no gradebook and no
kernel. So cell ids, locks and checksums are nbgrader's own, and
``nbgrader generate_assignment`` writes the same bytes; that config makes
nbgrader skip the modules and the hidden tests, and its post-convert hooks
(``nbgrader_wrote_student_release``, ``nbgrader_wrote_reference``) write
convgrade's modules there instead.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.assignment import HIDDEN_TESTS, Assignment, assignments_in, find_course_root

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUDENT_RELEASE = "assignments"
REFERENCE = "solutions"
IGNORED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", ".DS_Store"}
NOTEBOOK = ".ipynb"
NBGRADER_CONFIG = "nbgrader_config.py"
# What must never survive into a student's notebook (nbgrader's default delimiters).
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# pytest configuration: nbgrader_config.py never copies it (a submission's must not steer its checks), so neither do we
PYTEST_CONFIG = {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"}


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


def release_assignment(assignment: Assignment, notebooks: NbgraderNotebooks | None = None) -> dict[str, dict[Path, bytes]]:
    """Both releases of one assignment: ``{"assignments": {relative path: bytes}, "solutions": ...}``.

    ``notebooks`` releases the assignment's notebooks (default: nbgrader with the
    course's config, started only when the assignment has a notebook).
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
    notebooks = None
    if any(next(a.folder.glob(f"*{NOTEBOOK}"), None) for a in assignments):
        notebooks = NbgraderNotebooks(Path(source).resolve().parent)  # nbgrader takes seconds to import: once
    for assignment in assignments:
        for tree, files in release_assignment(assignment, notebooks).items():
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
        _write_file(path, data)
    for tree in (STUDENT_RELEASE, REFERENCE):
        _remove_empty_folders(root / tree)
    return changes


def _write_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, readable by all (0644, as nbgrader writes releases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


def _remove_empty_folders(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and path.name in IGNORED:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# -- notebooks: nbgrader's converters, in memory ----------------------------------


def nbgrader_config(root: Path) -> Any:
    """The course's ``nbgrader_config.py`` as a traitlets ``Config`` (empty without one)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if not (Path(root) / NBGRADER_CONFIG).is_file():
        return Config()
    try:
        return PyFileConfigLoader(NBGRADER_CONFIG, path=str(root)).load_config()
    except Exception as exc:  # noqa: BLE001 - the instructor's file: say which and why
        raise ReleaseError(f"{Path(root) / NBGRADER_CONFIG} cannot be loaded: {type(exc).__name__}: {exc}") from None


class NbgraderNotebooks:
    """nbgrader's ``GenerateAssignment`` and ``GenerateSolution`` preprocessors, run in memory.

    The preprocessors, and their settings, come from the course's
    ``nbgrader_config.py`` as nbgrader's own commands read it. Nothing is written:
    no file, no gradebook (``SaveCells`` is off unless ``db_url`` is given, when the
    student release records the notebook there exactly as ``nbgrader
    generate_assignment`` does) and no kernel (``Execute`` never runs).
    """

    def __init__(self, root: Path, *, db_url: str | None = None) -> None:
        import_jsonschema_without_iri_formats()
        from nbgrader.converters import GenerateAssignment, GenerateSolution
        from nbgrader.coursedir import CourseDirectory

        self.root = Path(root).resolve()
        config = nbgrader_config(self.root)
        if db_url is None:
            config.SaveCells.enabled = False
        coursedir = CourseDirectory(config=config, root=str(self.root))
        if db_url is not None:
            coursedir.db_url = db_url
        self.coursedir = coursedir
        self._converters = {
            STUDENT_RELEASE: GenerateAssignment(coursedir=coursedir, config=config),
            REFERENCE: GenerateSolution(coursedir=coursedir, config=config),
        }
        self._exporters: dict[str, Any] = {}

    def _exporter(self, tree: str) -> Any:
        """The converter's exporter with its preprocessors registered, as ``BaseConverter.start`` does."""
        if tree not in self._exporters:
            converter = self._converters[tree]
            exporter = converter.exporter_class(parent=converter, config=converter.config)
            for preprocessor in converter.preprocessors:
                if _class_name(preprocessor) != "Execute":  # a reference is never executed: see nbgrader_config.py
                    exporter.register_preprocessor(preprocessor)
            self._exporters[tree] = exporter
        return self._exporters[tree]

    def convert(self, tree: str, path: Path) -> bytes:
        """The notebook at ``path`` (in ``source/<a>/``) as nbgrader writes it into ``tree``."""
        path = Path(path)
        _check_cell_ids(path)
        converter = self._converters[tree]
        # the path as nbgrader globs it, so its own regexp finds the assignment and notebook ids
        nbgrader_path = os.path.join(converter.coursedir.format_path(converter.coursedir.source_directory, ".", path.parent.name), path.name)
        try:
            with contextlib.chdir(self.root):  # nbgrader converts from the course root (header/footer paths)
                resources = converter.init_single_notebook_resources(nbgrader_path)
                output, _ = self._exporter(tree).from_filename(nbgrader_path, resources=resources)
        except Exception as exc:  # noqa: BLE001 - nbgrader's complaint, for the instructor, with the file
            raise ReleaseError(f"{path}: nbgrader cannot release this notebook: {type(exc).__name__}: {exc}") from None
        return output.encode("utf-8")

    def student_release(self, path: Path) -> bytes:
        """``nbgrader generate_assignment``'s notebook, checked to hold no solution and no hidden test."""
        data = self.convert(STUDENT_RELEASE, path)
        try:
            leaks = notebook_leaks(data)
        except ReleaseError as exc:
            raise ReleaseError(f"{path}: {exc}") from None
        if leaks:
            raise ReleaseError(f"{path}: the student release would still hold {leaks[0]}")
        return data

    def reference(self, path: Path) -> bytes:
        """``nbgrader generate_solution``'s notebook (not executed)."""
        return self.convert(REFERENCE, path)


def import_jsonschema_without_iri_formats() -> None:
    """Import jsonschema (nbformat's validator) without its optional IRI format checks.

    When ``rfc3987_syntax`` is installed, jsonschema imports it to check the
    ``iri`` string formats, and it builds a parser at import: 3 of the 10 seconds
    ``convgrade release --check`` took. No notebook schema uses those formats,
    and jsonschema treats the module as optional, so it is hidden during that
    one import and nothing else changes.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes `import rfc3987_syntax` raise ImportError
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


def _class_name(preprocessor: object) -> str:
    if isinstance(preprocessor, str):
        return preprocessor.rsplit(".", 1)[-1]
    return getattr(preprocessor, "__name__", type(preprocessor).__name__)


def _check_cell_ids(path: Path) -> None:
    """nbformat gives a 4.5+ notebook's cells without an id (or with a repeated one) random ids: refuse them."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"{path}: not a readable notebook: {exc}") from None
    if (data.get("nbformat"), data.get("nbformat_minor", 0)) < (4, 5):
        return
    ids = [cell.get("id") for cell in data.get("cells", [])]
    if None in ids or len(set(ids)) != len(ids):
        raise ReleaseError(f"{path}: every cell needs its own id (open and save it in Jupyter, or run `nbgrader update`), or the release would not be reproducible")


def notebook_leaks(data: bytes) -> list[str]:
    """What a student's notebook must not hold: solution or hidden-test markers, a ``check(..., hidden=True)`` call."""
    notebook = json.loads(data)
    leaks = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        source = "".join(cell.get("source", ""))
        leaks += [f"{marker!r} in cell {number}" for marker in SECRET_MARKERS if marker in source]
        if cell.get("cell_type") == "code" and any(call.hidden for call in check_calls(source)):
            leaks.append(f"a check(..., hidden=True) call in cell {number}")
    return leaks


@dataclass(frozen=True)
class CheckCall:
    """One ``check("TestPad2d", ...)`` call in a notebook cell: the checks it names, visible or hidden."""

    names: tuple[str, ...]
    hidden: bool


def check_calls(source: str) -> list[CheckCall]:
    """Every ``check(...)`` / ``notebook.check(...)`` call in a code cell's source, in order."""
    try:
        tree = ast.parse(_as_python(source))
    except SyntaxError as exc:
        raise ReleaseError(f"a notebook cell does not parse (line {exc.lineno}: {exc.msg}):\n{source}") from None
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if not ((isinstance(func, ast.Name) and func.id == "check") or (isinstance(func, ast.Attribute) and func.attr == "check")):
            continue
        try:
            names = tuple(ast.literal_eval(arg) for arg in node.args)
            options = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
        except ValueError:
            raise ReleaseError(f"check(...) must name its checks with plain strings, not {ast.unparse(node)!r}") from None
        if not all(isinstance(name, str) for name in names) or not isinstance(options.get("hidden", False), bool):
            raise ReleaseError(f"check(...) takes the checks' names as strings and hidden=True/False: {ast.unparse(node)!r}")
        calls.append((node.lineno, node.col_offset, CheckCall(names, options.get("hidden", False))))
    return [call for *_, call in sorted(calls, key=lambda item: item[:2])]


def _as_python(source: str) -> str:
    """A cell's source with IPython's magics (``%time``, ``!ls``) turned into Python."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)


# -- nbgrader's hooks (nbgrader_config.py): convgrade's modules in nbgrader's releases ----


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
                    _write_file(path, data)
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
