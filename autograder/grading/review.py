"""A static scan of a submission's source, in the grader, for tampering: it flags for review, it never changes a score.

The student's module and the helper modules beside it are read (regular files,
bounded, never followed: ``read_regular``) and parsed with ``ast``, never run.
What the scan looks for is what an attack on the grader needs and an honest
convolution never does (``PATTERNS``, each with the reason an instructor reads):
another thread or process, the profiler and dispatch hooks the forbidden-call
watch relies on, C-level access, the worker's or the grader's own modules,
patched builtins, modules or library functions. Names are resolved through the
module's imports (``import threading as t``; ``from gc import get_objects``),
and a string that names a pattern is flagged too (``getattr(sys, "setprofile")``).
Source that does not parse is searched as text instead. Each pattern is flagged
once per file, at its first line, so a flag reads as a question, not as noise.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.grading.submissions import read_regular

MAX_SOURCE_BYTES = 2**20  # as the sandbox reads a module: a larger file is not source code, and is not scanned
MAX_FILES = 21  # the module and the 20 helper modules the sandbox may import beside it
MAX_FLAGS = 40  # per submission: a longer list says nothing more

THREADS = "runs code in another thread or process, outside the watch on the graded call"
HOOKS = "replaces the profiler or trace hook that the forbidden-call watch uses"
DISPATCH = "reaches torch's dispatch machinery, which the forbidden-call watch relies on"
FRAMES = "reaches frames and objects the student's code was not given (the worker's, the grader's)"
PATCHING = "patches what other code relies on (builtins, modules, library functions)"
HIDDEN_CODE = "runs code the scan cannot read"
FILES = "reads or changes files: a convolution needs none (hidden tests, other students' work, results are the usual targets)"

PATTERNS: dict[str, str] = {  # a dotted name (a module, or a name in one) -> why it is flagged
    "threading": THREADS,
    "_thread": THREADS,
    "concurrent.futures": THREADS,
    "multiprocessing": THREADS,
    "subprocess": THREADS,
    "pty": THREADS,
    "os.fork": THREADS,
    "os.forkpty": THREADS,
    "os.system": THREADS,
    "os.popen": THREADS,
    "os.posix_spawn": THREADS,
    "os.posix_spawnp": THREADS,
    "signal": "handles or sends signals, which can stop the call's time limit or the worker",
    "os.kill": "sends signals to other processes (the worker, the zygote)",
    "os.killpg": "sends signals to other processes (the worker, the zygote)",
    "os._exit": "ends the worker's process: a grader that believed an exit code would see success",
    "sys.exit": "ends the worker's process: a grader that believed an exit code would see success",
    "atexit": "runs code when the worker ends, after the checks",
    "sys.setprofile": HOOKS,
    "sys.settrace": HOOKS,
    "sys.monitoring": HOOKS,
    "sys.addaudithook": HOOKS,
    "torch.utils._python_dispatch": DISPATCH,
    "torch.overrides": DISPATCH,
    "torch.library": "registers kernels for ATen operators, which can undo the refusal of forbidden ones",
    "torch._C": DISPATCH,
    "__torch_dispatch__": DISPATCH,
    "__torch_function__": DISPATCH,
    "ctypes": "calls C directly: can patch the interpreter, the monitor or torch from below",
    "_ctypes": "calls C directly: can patch the interpreter, the monitor or torch from below",
    "cffi": "calls C directly: can patch the interpreter, the monitor or torch from below",
    "__main__": "reaches the worker's main module, which runs the calls",
    "autograder": "reaches the grader's own code (the monitor, the worker) from the student's module",
    "gc.get_objects": FRAMES,
    "gc.get_referrers": FRAMES,
    "gc.get_referents": FRAMES,
    "sys._getframe": FRAMES,
    "sys._current_frames": FRAMES,
    "inspect": FRAMES,
    "f_back": FRAMES,
    "f_globals": FRAMES,
    "f_locals": FRAMES,
    "tb_frame": FRAMES,
    "__subclasses__": FRAMES,
    "__globals__": FRAMES,
    "__code__": FRAMES,
    "importlib": "imports or reloads modules by name (the monitor's, torch's), around what the scan reads",
    "builtins": PATCHING,
    "__builtins__": PATCHING,
    "sys.modules": PATCHING,
    "os.environ": "reads the environment, to tell grading from a self-check",
    "os.getenv": "reads the environment, to tell grading from a self-check",
    "socket": "opens network connections (the sandbox has none: an attempt is worth a look)",
    "urllib": "opens network connections (the sandbox has none: an attempt is worth a look)",
    "http": "opens network connections (the sandbox has none: an attempt is worth a look)",
    "open": FILES,
    "glob": FILES,
    "shutil": FILES,
    "os.walk": FILES,
    "os.listdir": FILES,
    "os.scandir": FILES,
    "os.chmod": FILES,
    "os.remove": FILES,
    "os.unlink": FILES,
    "exec": HIDDEN_CODE,
    "eval": HIDDEN_CODE,
    "compile": HIDDEN_CODE,
    "__import__": HIDDEN_CODE,
}
ATTRIBUTES = {"__torch_dispatch__", "__torch_function__", "f_back", "f_globals", "f_locals", "tb_frame", "__subclasses__", "__globals__", "__code__", "__builtins__"}
BUILTIN_CALLS = {"exec", "eval", "compile", "__import__", "open"}  # flagged when called by these names (``torch.compile`` is not)
WRITES_ONLY = {"sys.modules"}  # flagged when written (assigned, deleted, changed by a method), not when read
MUTATORS = {"pop", "popitem", "clear", "update", "setdefault", "__setitem__", "__delitem__"}
IN_STRINGS = re.compile(  # what a string may name to reach a pattern by getattr or by name (``getattr(sys, "setprofile")``)
    r"setprofile|settrace|_python_dispatch|ctypes|autograder|__main__|sys\.modules|__builtins__|__import__"
    r"|get_objects|get_referrers|f_back|f_globals|__subclasses__|__globals__"
)


@dataclass(frozen=True)
class Flag:
    """One pattern found in a submission: where, and why an instructor may want to look."""

    pattern: str
    line: int  # 1-based, the first where the pattern appears in the file
    why: str
    file: str  # the file's name in the hand-in

    def as_json(self) -> dict[str, object]:
        """The flag as results.json's ``extra_data["review"]`` list holds it."""
        return asdict(self)


def review_folder(folder: Path, module: str) -> list[Flag]:
    """The flags of a hand-in: its module ``<module>.py`` first, then the other ``.py`` files beside it (the helpers)."""
    wanted = f"{module}.py"
    others = sorted(path.name for path in folder.glob("*.py") if path.name != wanted)
    flags: list[Flag] = []
    for name in [wanted, *others][:MAX_FILES]:
        data = read_regular(folder / name, MAX_SOURCE_BYTES)
        if data is not None:
            flags.extend(review_source(data.decode("utf-8", errors="replace"), name))
    return flags[:MAX_FLAGS]


def review_source(source: str, file: str) -> list[Flag]:
    """The flags of one file's source: each pattern once, at its first line, in line order."""
    try:
        found = list(_scan_tree(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: null bytes; the others: absurd nesting
        found = list(_scan_text(source))
    first: dict[str, tuple[int, str]] = {}
    for pattern, why, line in found:
        if pattern not in first or line < first[pattern][0]:
            first[pattern] = (line, why)
    return sorted((Flag(pattern, line, why, file) for pattern, (line, why) in first.items()), key=lambda f: (f.line, f.pattern))


def summary(flags: list[Flag], most: int = 4) -> str:
    """The flags in one short cell of grades.csv: the first patterns, each once (``threading, sys.setprofile``), and how many in all."""
    patterns = list(dict.fromkeys(flag.pattern for flag in flags))
    more = f", ... ({len(patterns)} patterns; results.json lists them)" if len(patterns) > most else ""
    return ", ".join(patterns[:most]) + more


Found = tuple[str, str, int]  # (pattern as shown, why, line)


def _matches(dotted: str) -> str | None:
    """The pattern a dotted name (``threading.Thread``, ``sys.setprofile``) falls under, if any."""
    for name in PATTERNS:
        if (dotted == name or dotted.startswith(f"{name}.")) and name not in ATTRIBUTES and name not in BUILTIN_CALLS:
            return name
    return None


def _aliases(nodes: list[ast.AST]) -> dict[str, str]:
    """What each name bound by an import stands for: ``t`` -> ``threading``, ``get_objects`` -> ``gc.get_objects``."""
    names: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return names


def _dotted(node: ast.AST, names: dict[str, str]) -> str | None:
    """``a.b.c`` as a dotted name with its first part resolved through the imports, or None when it is not a plain chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(names.get(node.id, node.id))
    return ".".join(reversed(parts))


def _of_a_module(node: ast.AST, names: dict[str, str]) -> str | None:
    """The dotted name of ``node`` when its chain starts at an imported module (or the builtins), else None."""
    root = node
    while isinstance(root, ast.Attribute):
        root = root.value
    if isinstance(root, ast.Name) and (root.id in names or root.id == "__builtins__"):
        return _dotted(node, names)
    return None


def _scan_tree(tree: ast.AST) -> Iterator[Found]:
    """Everything flagged in a parsed module."""
    nodes = list(ast.walk(tree))  # walked once: walking costs more than what is done with each node
    names = _aliases(nodes)
    quiet = _quiet_strings(nodes)
    for node in nodes:
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            yield from ((pattern, PATTERNS[pattern], line) for alias in node.names if (pattern := _matches(alias.name)))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if pattern := _matches(node.module) or _matches(f"{node.module}.{alias.name}"):
                    yield pattern, PATTERNS[pattern], line
        elif isinstance(node, ast.Attribute):
            yield from _attribute(node, names)
        elif isinstance(node, ast.Name) and node.id in ATTRIBUTES:  # __builtins__; __torch_function__ = ... in a class
            yield node.id, PATTERNS[node.id], line
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ATTRIBUTES:  # def __torch_dispatch__
            yield node.name, PATTERNS[node.name], line
        elif isinstance(node, ast.Call):
            yield from _call(node, names)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and _dotted(node.value, names) == "sys.modules":
            yield "sys.modules", PATTERNS["sys.modules"], line
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in quiet:
            if match := IN_STRINGS.search(node.value[:10_000]):
                text = match.group(0)
                yield f"{text!r} in a string", PATTERNS[next(name for name in PATTERNS if text in name)], line


def _attribute(node: ast.Attribute, names: dict[str, str]) -> Iterator[Found]:
    """An attribute flagged by its name (``f_back``), by what it resolves to (``sys.setprofile``), or as a module patched."""
    line = node.lineno
    if node.attr in ATTRIBUTES:
        yield node.attr, PATTERNS[node.attr], line
    dotted = _dotted(node, names)
    if dotted and (pattern := _matches(dotted)) and pattern not in WRITES_ONLY:
        yield pattern, PATTERNS[pattern], line
    if isinstance(node.ctx, (ast.Store, ast.Del)) and (patched := _of_a_module(node, names)):
        yield f"{patched} (assigned)", PATCHING, line  # a module's function replaced: torch.Tensor.unfold = ...


def _call(node: ast.Call, names: dict[str, str]) -> Iterator[Found]:
    """A call flagged: ``exec(...)``, ``setattr(module, ...)``, ``sys.modules.pop(...)``."""
    line = node.lineno
    if isinstance(node.func, ast.Name) and node.func.id in BUILTIN_CALLS and node.func.id not in names:
        yield node.func.id, PATTERNS[node.func.id], line
    if isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
        if patched := _of_a_module(node.args[0], names):
            yield f"{patched} (assigned)", PATCHING, line
    if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS and _dotted(node.func.value, names) == "sys.modules":
        yield "sys.modules", PATTERNS["sys.modules"], line


def _quiet_strings(nodes: list[ast.AST]) -> set[int]:
    """The strings that say nothing about tampering: docstrings and bare string statements, and ``__name__ == "__main__"``."""
    quiet = set()
    for node in nodes:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            quiet.add(id(node.value))
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "__name__":
            quiet.update(id(part) for part in node.comparators if isinstance(part, ast.Constant))
    return quiet


def _scan_text(source: str) -> Iterator[Found]:
    """What a search of the text finds, for a file that does not parse: a pattern imported, or used (``x.``, ``x(``).

    A bare word (``signal``) counts only where code uses it, so prose in a
    broken docstring does not; dotted and underscored names count anywhere.
    """
    for number, text in enumerate(source.splitlines()[:100_000], start=1):
        code = text.split("#", 1)[0][:10_000]
        if re.search(r"__name__\s*==", code):
            code = code.replace("__main__", "")  # if __name__ == "__main__": is no tampering
        for name, why in PATTERNS.items():
            if re.search(_spelled(name), code):
                yield name, why, number


def _spelled(name: str) -> str:
    """How a pattern reads in source text: imported (``import x``, ``from x import y``), or used."""
    module, _, last = name.rpartition(".")
    dotted = r"\s*\.\s*".join(re.escape(part) for part in name.split("."))
    used = "" if module or name.startswith("_") else r"\s*[.(]"  # a bare word counts only as code: ``signal.``, ``exec(``
    imported = rf"^\s*from\s+{re.escape(module)}\s+import\b.*\b{re.escape(last)}\b|" if module else ""
    return rf"{imported}^\s*(import|from)\s+{dotted}(?!\w)|(?<![\w.]){dotted}(?!\w){used}"
