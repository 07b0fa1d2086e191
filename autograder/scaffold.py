"""``convgrade new NAME --module MODULE``: a new assignment in ``source/NAME`` that works before anything is edited.

It writes the module (one function, its docstring and its solution markers), a
visible and a hidden check (60 and 40 points: the assignment's 100),
``assignment.toml`` (title, module, ``forbidden = []``, a due date) and, with
``--notebook``, an nbgrader notebook whose graded cells run those checks. So
``convgrade release``, ``convgrade check NAME --path solutions`` and ``convgrade
grade`` accept it at once; the author then replaces the function and its checks.
The files come from jinja2 templates beside the grader's others
(``autograder/grading/templates/new_*.j2``).
"""

from __future__ import annotations

import keyword
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jinja2

from autograder.assignment import HIDDEN_TESTS, METADATA, VISIBLE_TESTS

FUNCTION = "double"  # the one function a new module holds, until its author writes theirs
NAME = re.compile(r"\d\d_[a-z][a-z0-9_]*")


class ScaffoldError(Exception):
    """The assignment cannot be made as asked; the message is for people."""


def _render(template: str, **values: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("autograder.grading", "templates"), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return env.get_template(template).render(**values)


def new_assignment(source: Path, name: str, module: str, notebook: bool = False, title: str | None = None) -> list[Path]:
    """Write a working assignment into ``source/name``; the files written, in order (``ScaffoldError`` when it cannot)."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"{name!r} is not an assignment name: two digits, an underscore, then lower-case words (e.g. 11_example)")
    if not module.isidentifier() or keyword.iskeyword(module) or module.startswith("test"):
        raise ScaffoldError(f"{module!r} cannot be a module students edit: a Python name, not a keyword, not starting with test")
    folder = Path(source) / name
    taken = [p.name for p in Path(source).glob(f"{name[:2]}_*")] if Path(source).is_dir() else []
    if folder.exists() or taken:
        raise ScaffoldError(f"source/ already has {', '.join(taken) or name}: pick another number or name")
    due = (datetime.now(UTC) + timedelta(days=14)).replace(hour=23, minute=59, second=0, microsecond=0)
    values = {
        "name": name, "module": module, "function": FUNCTION, "title": title or name[3:].replace("_", " ").capitalize(),
        "check_class": f"Test{FUNCTION.capitalize()}", "due": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    files = {
        folder / METADATA: _render("new_assignment.toml.j2", **values),
        folder / f"{module}.py": _render("new_module.py.j2", **values),
        folder / VISIBLE_TESTS / f"test_{module}.py": _render("new_tests.py.j2", **values),
        folder / HIDDEN_TESTS / f"test_{module}_hidden.py": _render("new_hidden_tests.py.j2", **values),
    }
    if notebook:
        files[folder / f"{name}.ipynb"] = _notebook(values)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def _notebook(values: dict[str, str]) -> str:
    """An nbgrader source notebook: the story's first cell, the imports, and the graded cells of the visible and hidden checks.

    The graded cells state no points: ``convgrade release`` writes those of the checks they run (``autograder.release.points``).
    """
    import nbformat

    def cell(kind: str, cell_id: str, source: str, grade: bool = False) -> nbformat.NotebookNode:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        made = make(source, id=cell_id)
        made.metadata["nbgrader"] = {"grade": grade, "grade_id": cell_id, "locked": True, "schema_version": 3, "solution": False}
        return made

    function, tests = values["function"], f"tests/test_{values['module']}.py::{values['check_class']}"
    notebook = nbformat.v4.new_notebook(
        cells=[
            cell("markdown", "story", f"# {values['title']}\n\nTell the story here, with pictures; `{values['module']}.py` is the exercise."),
            cell("code", "setup", f"from autograder.notebook import check\nfrom {values['module']} import {function}"),
            cell("code", f"test-{function}", f"# Visible checks for {function}: {tests}\ncheck(\"{values['check_class']}\")", True),
            cell("code", f"hidden-{function}", (
                f"# Hidden checks for {function}: they run when your work is graded.\n"
                f"### BEGIN HIDDEN TESTS\ncheck(\"{values['check_class']}\", hidden=True)\n### END HIDDEN TESTS"
            ), True),
        ],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}},
    )  # fmt: skip
    return nbformat.writes(notebook) + "\n"
