"""The package's architecture holds: its boundaries, checked from the code itself.

- the parent of ``convgrade grade`` (the command line, the grading pool, the
  results files) imports neither torch nor pytest: it plans and gathers while
  its grading processes import them;
- what runs inside the sandbox imports nothing of the grader's side: no
  pytest, no student proxy, no checks, no grading;
- no module imports itself back through others (no import circle), and none
  outgrows one sitting.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"

GRADING_PARENT = [  # what `convgrade grade` imports before its grading processes start
    "autograder.cli", "autograder.grading.jobs", "autograder.grading.pool", "autograder.grading.results",
    "autograder.grading.table", "autograder.grading.submissions", "autograder.grading.nbgrader_gradebook",
    "autograder.sandbox.launch", "autograder.scores", "autograder.assignment",
]  # fmt: skip
SANDBOX_SIDE = {  # all the package a sandboxed zygote may hold
    "autograder", "autograder.sandbox", "autograder.sandbox.zygote", "autograder.sandbox.call",
    "autograder.sandbox.monitor", "autograder.sandbox.wire", "autograder.forbidden", "autograder.sandbox.refuse",
    "autograder.sandbox.outcome", "autograder.sandbox.handles",
}  # fmt: skip
MAX_LINES = 400


def _modules_after_importing(names: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after importing ``names`` (and nothing else)."""
    code = f"import importlib, json, sys\nfor name in {names!r}:\n    importlib.import_module(name)\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout))


def test_the_grading_parent_imports_neither_torch_nor_pytest():
    loaded = _modules_after_importing(GRADING_PARENT)
    assert not {"torch", "pytest", "_pytest", "hypothesis", "numpy"} & loaded


def test_the_sandbox_imports_nothing_of_the_graders_side():
    loaded = _modules_after_importing(["autograder.sandbox.zygote"])
    assert "torch" in loaded, "the zygote imports torch once, for every child it forks"
    assert not {"pytest", "_pytest", "hypothesis", "jinja2", "rich"} & loaded
    ours = {name for name in loaded if name == "autograder" or name.startswith("autograder.")}
    assert ours <= SANDBOX_SIDE, f"the sandbox imports {sorted(ours - SANDBOX_SIDE)}"


def _imports(path: Path, module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its code, typing-only imports aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for statement in block.body for node in ast.walk(statement)
    }  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in _MODULES and name != module}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_FILES = sorted(PACKAGE.rglob("*.py"))
_MODULES = {_module_name(path): path for path in _FILES}


def test_there_is_no_import_circle_in_the_package():
    graph = {module: _imports(path, module) for module, path in _MODULES.items()}
    circles = []

    def visit(module: str, trail: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in trail:
                circles.append(trail[trail.index(imported):] + [imported])
            elif imported not in seen:
                seen.add(imported)
                visit(imported, [*trail, imported])

    for start in sorted(graph):
        seen = {start}
        visit(start, [start])
    assert not circles, "import circles: " + "; ".join(" -> ".join(circle) for circle in circles[:5])


def test_the_circle_finder_finds_a_circle(tmp_path, monkeypatch):
    """The test above can fail: two modules that import each other are a circle."""
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "a.py").write_text("from autograder import b\n")
    (tmp_path / "autograder" / "b.py").write_text("def f():\n    import autograder.a\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "autograder")
    files = sorted((tmp_path / "autograder").rglob("*.py"))
    monkeypatch.setattr(sys.modules[__name__], "_MODULES", {_module_name(path): path for path in files})
    with pytest.raises(AssertionError, match="autograder.a -> autograder.b -> autograder.a"):
        test_there_is_no_import_circle_in_the_package()


@pytest.mark.parametrize("path", _FILES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_can_be_read_in_one_sitting(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by what its parts do"


def test_each_folder_of_the_package_says_what_it_holds():
    for folder in [PACKAGE, *(p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())]:
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"{folder.name}/__init__.py has no docstring"
        modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
        folders = {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
        missing = [name for name in sorted(modules | folders) if f"``{name}``" not in doc and f"``{name}/``" not in doc]
        assert not missing, f"{folder.name}/__init__.py does not name {', '.join(missing)}"
