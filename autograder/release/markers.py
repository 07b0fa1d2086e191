"""Solution markers: the student's stub and the reference module from one source module."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.release import ReleaseError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"


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


def has_markers(text: str) -> bool:
    return any(line.strip() in (BEGIN_SOLUTION, END_SOLUTION) for line in text.splitlines())
