"""One call of a student's function, wherever student code runs.

``run_call`` calls the student's function on copies of its arguments, under the
assignment's ``ForbiddenCallMonitor`` and a time limit, and describes what
happened as plain data (``Outcome``): the result, the exception it raised, the
forbidden calls seen, the inputs it changed in place. A result that is not plain
data (a model) stays in the process's ``Handles`` and the outcome carries its
``Remote``; a ``Remote`` among the arguments, or as the ``target`` whose method
is called (``model(x)``, ``model.parameters()``), is looked up there. It runs in the sandboxed
child when a class is graded (``autograder.sandbox.zygote``) and in the test
process for a student's self-check (``LocalModule``). It decides nothing: the
grader's ``autograder.student.Student`` turns an ``Outcome`` into the result, or
the failure, a check sees.

Nothing here imports the grader's side (``autograder.student``, pytest).
"""

from __future__ import annotations

import errno
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import linecache
import os
import signal
import stat
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Protocol

import torch

from autograder.forbidden import Violation
from autograder.sandbox.handles import Handles, TooManyHandles, UnknownHandle
from autograder.sandbox.monitor import ForbiddenCallMonitor
from autograder.sandbox.outcome import MESSAGE_CAP, Outcome
from autograder.sandbox.wire import Remote


class ImportFailed(Exception):
    """The student's module could not be imported; the message is the reason a student reads."""


class SandboxFailed(Exception):
    """The sandbox failed before the student's code ran: the grader's trouble, never the student's zero."""


class ProcessDied(Exception):
    """The process running the student's code died or went silent during a call."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _CallTimedOut(BaseException):
    """Raised inside student code when its time is up (not an ``Exception``, so
    an ``except Exception`` in the submission cannot swallow it)."""


def _message(exc: BaseException) -> str:
    """The exception's message, cut to ``MESSAGE_CAP`` characters (whatever its ``__str__`` does)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = f"<{type(exc).__name__} whose message could not be read>"
    return text if len(text) <= MESSAGE_CAP else f"{text[:MESSAGE_CAP]}[... {len(text) - MESSAGE_CAP} more characters not kept]"


def student_frames(exc: BaseException, module_file: str) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback that lie in the student's module."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == module_file]


def load_source(source: str, filename: str, name: str) -> ModuleType:
    """Import a module from its source text, its frames named ``filename``.

    Raises ``ImportFailed`` with a reason a student can act on when it does not import.
    """
    module = ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    shown = Path(filename).name
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        raise ImportFailed(f"{shown} could not be imported: SyntaxError at line {exc.lineno}: {exc.msg}") from None
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the student's module is the point
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises at import
        where = student_frames(exc, filename)
        line = f" (line {where[-1].lineno})" if where else ""
        raise ImportFailed(f"{shown} could not be imported: {type(exc).__name__}: {exc}{line}") from None
    return module


MAX_SOURCE_BYTES = 2**20  # a student's module is a few KiB; a larger file is not source code


def read_source(path: Path) -> str:
    """The text of a student's module, read without following a link, from a regular file of bounded size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ImportFailed(f"{path.name} is missing from {path.parent.name}/") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImportFailed(f"{path.name} is a symbolic link: hand in the file itself") from None
        raise ImportFailed(f"{path.name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ImportFailed(f"{path.name} is not a regular file")
        if info.st_size > MAX_SOURCE_BYTES:
            raise ImportFailed(f"{path.name} holds {info.st_size} bytes, more than the {MAX_SOURCE_BYTES} a module may")
        return file.read(MAX_SOURCE_BYTES + 1).decode("utf-8", errors="replace")


MAX_HELPERS = 20  # helper modules handed in beside the module, at most


def read_helpers(module_file: Path) -> dict[str, str]:
    """The other ``.py`` files beside a student's module, by module name: what it may import (regular files only, bounded)."""
    helpers = {}
    for path in sorted(module_file.parent.glob("*.py")):
        name = path.stem
        if path.name == module_file.name or not name.isidentifier() or not stat.S_ISREG(path.lstat().st_mode):
            continue
        if len(helpers) == MAX_HELPERS:
            raise ImportFailed(f"{module_file.parent.name}/ holds more than {MAX_HELPERS} other modules beside {module_file.name}")
        helpers[name] = read_source(path)
    return helpers


class HelperModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a submission's helper modules (``from helpers import f``) from their source text, in the sandboxed child."""

    def __init__(self, sources: dict[str, str], folder: str) -> None:
        self.sources, self.folder = sources, folder

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.sources or name in sys.modules:
            return None
        return importlib.util.spec_from_loader(name, self, origin=f"{self.folder}/{name}.py")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        filename = f"{self.folder}/{module.__name__}.py"
        module.__file__ = filename
        source = self.sources[module.__name__]
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the student's own helper module


def load_module(path: Path, name: str) -> ModuleType:
    """Import the module at ``path`` under a name no other module uses (its folder on sys.path meanwhile)."""
    source = read_source(path)
    unique = f"convgrade_student_{name}_{abs(hash(str(path))):x}"
    sys.path.insert(0, str(path.parent))
    try:
        return load_source(source, str(path), unique)
    finally:
        sys.path.remove(str(path.parent))


class LocalModule:
    """A student's module imported and run in this process: a student's self-check, no sandbox."""

    def __init__(self, name: str, module_file: Path, forbidden: tuple[str, ...], call_timeout: float | None) -> None:
        self.name, self.module_file, self.call_timeout = name, module_file, call_timeout
        self.monitor = ForbiddenCallMonitor.for_keys(forbidden)
        self._module: ModuleType | None = None
        self.handles = Handles()  # what the calls returned that is not plain data, as in a sandboxed child
        self.generation = 1  # which life of the module a handle belongs to: ``close`` ends this one

    @property
    def module(self) -> ModuleType:
        """The imported module (``ImportFailed`` when it does not import)."""
        if self._module is None:
            self._module = load_module(self.module_file, self.name)
        return self._module

    def run(self, function: str, args: tuple, kwargs: dict, *, target: Remote | None = None, timeout: float | None = -1.0) -> Outcome:
        """Call the student's ``function`` (a method of ``target``, if given) here, under the monitor and a time limit.

        ``timeout``: this call's limit in seconds (None: none), else the module's ``call_timeout``.
        """
        return run_call(
            self.module, function, args, kwargs, watch=self.monitor, module_file=str(self.module_file),
            timeout=self.call_timeout if timeout == -1.0 else timeout, target=target, handles=self.handles,
        )  # fmt: skip

    def close(self) -> None:
        """The module lives in this process; the objects its calls returned are let go, and their handles die."""
        self.handles.clear()
        self.generation += 1


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a caller of it is running Python's import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt Python code after ``seconds`` (main thread only; 0 or None: no limit)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _expire(signum: int, frame: FrameType | None) -> None:
        if _importing(frame):  # interrupting an import would leave a half-made module
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        raise _CallTimedOut

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def copy_args(obj: Any) -> Any:
    """Tensors cloned, lists and tuples of them rebuilt, anything else shared."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if type(obj) in (list, tuple):
        return type(obj)(copy_args(item) for item in obj)
    return obj


def tensor_pairs(original: Any, copy: Any, path: str) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """(where, original, copy) for every tensor in an argument."""
    if isinstance(original, torch.Tensor):
        yield path, original, copy
    elif type(original) in (list, tuple):
        for i, (a, b) in enumerate(zip(original, copy)):
            yield from tensor_pairs(a, b, f"{path}[{i}]")


def _unchanged(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):  # the usual case, in one operator; NaN never equals itself, hence the rest
        return True
    both_nan = a.isnan() & b.isnan() if a.is_floating_point() else torch.zeros_like(a, dtype=torch.bool)
    return bool(((a == b) | both_nan).all())


_PARAMS: weakref.WeakKeyDictionary[Callable[..., Any], list[str]] = weakref.WeakKeyDictionary()


def _params(function: Callable[..., Any]) -> list[str]:
    """The function's parameter names (worked out once per function: it is called hundreds of times)."""
    try:
        return list(_PARAMS[function])
    except (KeyError, TypeError):  # not seen yet, or not weakly referable
        try:
            params = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):  # Python cannot tell this callable's signature
            params = []
        try:
            _PARAMS[function] = params
        except TypeError:
            pass
        return list(params)


class Watch(Protocol):
    """What watches a call for forbidden calls: a ``ForbiddenCallMonitor`` here, the child's ``Refusals`` in the sandbox."""

    violations: list[Violation]
    tampered: bool

    def __enter__(self) -> object: ...

    def __exit__(self, *exc_info: object) -> object: ...


def _callee(module: ModuleType, name: str, target: Any) -> tuple[Any, list[str]]:
    """What ``name`` calls: the module's function, or the method ``name`` of the object ``target`` (``__call__``: the object itself),
    and its parameter names (an ``nn.Module``'s call takes ``forward``'s)."""
    if target is None:
        function = getattr(module, name, None)
    elif name == "__call__":
        function = target
    else:
        function = None if name.startswith("_") else getattr(target, name, None)
    signed = target.forward if name == "__call__" and isinstance(target, torch.nn.Module) else function
    return function, (_params(signed) if callable(function) else [])


def run_call(
    module: ModuleType, name: str, args: tuple, kwargs: dict, *,
    watch: Watch, timeout: float | None, module_file: str, target: Remote | None = None, handles: Handles | None = None,
) -> Outcome:
    """Call the student's ``name`` (a method of the object ``target`` names, if given) on copies of the arguments,
    under ``watch`` and a time limit; ``handles``: where objects that are not plain data are kept, and looked up."""  # fmt: skip
    if handles is not None:
        try:
            target = None if target is None else handles.resolve(target)
            args, kwargs = handles.resolve(args), handles.resolve(kwargs)
        except UnknownHandle:
            return Outcome(stale=True)
    function, params = _callee(module, name, target)
    if not callable(function):
        return Outcome(missing=True)
    given_args, given_kwargs = copy_args(args), copy_args(kwargs)
    outcome = Outcome(params=params)
    try:
        with watch, _time_limit(timeout):
            outcome.result = function(*given_args, **given_kwargs)
    except _CallTimedOut:
        outcome.timed_out = True
    except SystemExit as exc:
        outcome.exit_code = exc.code if type(exc.code) in (int, str, type(None)) else repr(exc.code)
    except Exception as exc:  # noqa: BLE001 - the student's exception, reported
        outcome.exception = exc
        frames = [[f.filename, f.lineno, f.name, f.line] for f in student_frames(exc, module_file)]
        outcome.raised = {"type": type(exc).__name__, "message": _message(exc), "frames": frames[-20:]}
    outcome.violations = [(v.shown_as, v.caught) for v in watch.violations]
    outcome.tampered = watch.tampered
    labels = [f"`{params[i]}`" if i < len(params) else f"argument {i + 1}" for i in range(len(args))]
    pairs = [pair for label, a, b in zip(labels, args, given_args) for pair in tensor_pairs(a, b, label)]
    pairs += [pair for key in kwargs for pair in tensor_pairs(kwargs[key], given_kwargs[key], f"`{key}`")]
    if name.endswith("_"):
        outcome.after = (list(given_args), dict(given_kwargs))
    else:
        outcome.modified = [where for where, original, given in pairs if not _unchanged(original, given)]
    for i, given in enumerate(given_args):
        if outcome.result is given and isinstance(given, torch.Tensor):
            outcome.result_is, outcome.result = ("args", i), None
    for key, given in given_kwargs.items():
        if outcome.result is given and isinstance(given, torch.Tensor):
            outcome.result_is, outcome.result = ("kwargs", key), None
    if handles is not None:
        _export(outcome, handles)
    return outcome


def _export(outcome: Outcome, handles: Handles) -> None:
    """The outcome's result (and a ``name_`` function's arguments after it) as plain data and handles."""
    try:
        outcome.result = handles.export(outcome.result)
        if outcome.after is not None:
            outcome.after = (handles.export(outcome.after[0]), handles.export(outcome.after[1]))
    except TooManyHandles as exc:
        outcome.result, outcome.after = None, None
        outcome.raised = {"type": "RuntimeError", "message": str(exc), "frames": []}
