"""Notebooks: nbgrader's converters run in memory, and the ``check(...)`` calls of graded cells (and the checks they run)."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.assignment import Assignment
from autograder.release import REFERENCE, STUDENT_RELEASE, ReleaseError
from autograder.release.points import POINTS, cell_source, fill_points_step, graded_code_cells, refuse_other_figures

NOTEBOOK = ".ipynb"
NBGRADER_CONFIG = "nbgrader_config.py"
# What must never survive into a student's notebook (nbgrader's default delimiters).
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


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
    generate_assignment`` does) and no kernel (``Execute`` never runs). Before
    nbgrader's steps, each graded cell gets the points of the checks it runs
    (``autograder.release.points``): ``checks`` are every assignment's checks as
    ``collect_checks`` gives them, when already collected; else each
    assignment's are collected when its first notebook is converted.
    """

    def __init__(self, root: Path, *, db_url: str | None = None, checks: list[dict] | None = None) -> None:
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
        self._checks: dict[str, list[dict]] | None = None
        if checks is not None:
            self._checks = {}
            for each in checks:
                self._checks.setdefault(each["assignment"], []).append(each)

    def _exporter(self, tree: str) -> Any:
        """The converter's exporter with its preprocessors registered, as ``BaseConverter.start`` does."""
        if tree not in self._exporters:
            converter = self._converters[tree]
            exporter = converter.exporter_class(parent=converter, config=converter.config)
            exporter.register_preprocessor(fill_points_step)  # first: nbgrader's checksums and gradebook read the points
            for preprocessor in converter.preprocessors:
                if _class_name(preprocessor) != "Execute":  # a reference is never executed: see nbgrader_config.py
                    exporter.register_preprocessor(preprocessor)
            self._exporters[tree] = exporter
        return self._exporters[tree]

    def convert(self, tree: str, path: Path) -> bytes:
        """The notebook at ``path`` (in ``source/<a>/``) as nbgrader writes it into ``tree``."""
        path = Path(path)
        points = self._cell_points(path, _check_cell_ids(path))
        converter = self._converters[tree]
        # the path as nbgrader globs it, so its own regexp finds the assignment and notebook ids
        nbgrader_path = os.path.join(converter.coursedir.format_path(converter.coursedir.source_directory, ".", path.parent.name), path.name)
        try:
            with contextlib.chdir(self.root):  # nbgrader converts from the course root (header/footer paths)
                resources = converter.init_single_notebook_resources(nbgrader_path)
                resources[POINTS] = points
                output, _ = self._exporter(tree).from_filename(nbgrader_path, resources=resources)
        except Exception as exc:  # noqa: BLE001 - nbgrader's complaint, for the instructor, with the file
            raise ReleaseError(f"{path}: nbgrader cannot release this notebook: {type(exc).__name__}: {exc}") from None
        return output.encode("utf-8")

    def _cell_points(self, path: Path, notebook: dict) -> dict[str, float]:
        """The points of each graded cell of the source notebook at ``path`` (read as ``notebook``), from its checks."""
        assignment = Assignment.load(path.parent)
        if self._checks is None or assignment.name not in self._checks:
            from autograder.checks.rubric import collect_checks  # collecting the checks imports pytest and torch

            self._checks = self._checks or {}
            self._checks[assignment.name] = collect_checks(assignment.folder)
        return cell_points(notebook, path, assignment.module, self._checks[assignment.name])

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


def _check_cell_ids(path: Path) -> dict:
    """The notebook at ``path``, read; nbformat gives a 4.5+ notebook's cells without an id (or with a repeated one) random ids: refuse them."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"{path}: not a readable notebook: {exc}") from None
    if (data.get("nbformat"), data.get("nbformat_minor", 0)) < (4, 5):
        return data
    ids = [cell.get("id") for cell in data.get("cells", [])]
    if None in ids or len(set(ids)) != len(ids):
        raise ReleaseError(f"{path}: every cell needs its own id (open and save it in Jupyter, or run `nbgrader update`), or the release would not be reproducible")
    return data


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


def runs(call: CheckCall, nodeid: str, hidden: bool, module: str) -> bool:
    """Whether ``check(*call.names, hidden=call.hidden)`` runs the check ``nodeid`` (as ``autograder.notebook.check`` selects)."""
    if hidden != call.hidden:
        return False
    file, _, rest = nodeid.partition("::")
    expected = f"test_{module}_hidden.py" if call.hidden else f"test_{module}.py"
    if Path(file).name != expected:
        return False
    return any(rest == name or rest.startswith((f"{name}::", f"{name}[")) for name in call.names)


def _call_text(name: str, hidden: bool) -> str:
    return f"check({name!r}{', hidden=True' if hidden else ''})"


def checks_worth(calls: list[CheckCall], checks: list[dict], module: str, where: str) -> float:
    """The points of the checks that ``calls`` run (each counted once); ``where`` names the cell when a name runs none.

    ``checks`` are ``collect_checks``' dicts of the assignment: nodeid, points (as
    the rubric scales them), hidden.
    """
    ran: dict[str, float] = {}
    for call in calls:
        for name in call.names:
            found = {c["nodeid"]: c["points"] for c in checks if runs(CheckCall((name,), call.hidden), c["nodeid"], c["hidden"], module)}
            if not found:
                file = f"hidden_tests/test_{module}_hidden.py" if call.hidden else f"tests/test_{module}.py"
                raise ReleaseError(f"{where} runs {_call_text(name, call.hidden)}, which names no check of {file}")
            ran.update(found)
    return round(sum(ran.values()), 6)


def cell_points(notebook: dict, path: Path, module: str, checks: list[dict]) -> dict[str, float]:
    """Each graded cell's points (by ``grade_id``): those of the checks its ``check(...)`` calls run.

    A cell that states other points is refused (``autograder.release.points``); one
    that runs no check is graded by hand and keeps its own. ``path`` is the source
    notebook (for messages), ``module`` the assignment's, ``checks`` its checks as
    ``collect_checks`` gives them.
    """
    points = {}
    for cell, meta in graded_code_cells(notebook):
        where = f"{path}: cell {meta.get('grade_id')}"
        try:
            calls = check_calls(cell_source(cell))
        except ReleaseError as exc:
            raise ReleaseError(f"{where}: {exc}") from None
        if calls:
            worth = checks_worth(calls, checks, module, where)
            refuse_other_figures(cell, meta, worth, where, ", ".join(_call_text(n, call.hidden) for call in calls for n in call.names))
            points[meta.get("grade_id")] = worth
    return points


def _as_python(source: str) -> str:
    """A cell's source with IPython's magics (``%time``, ``!ls``) turned into Python."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
