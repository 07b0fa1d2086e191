"""The student's module as the tests see it.

Tests never import a student's module directly: they receive a ``Student``
(the ``student`` fixture) and call ``student.pad2d(x, 1)``. Every such call

- runs under the assignment's ``ForbiddenCallMonitor`` and a time limit;
- gets copies of its tensor arguments, so a function that modifies its input
  in place is caught (unless its name ends in ``_``, the PyTorch convention,
  in which case the changes are copied back as the caller expects);
- is recorded, so that a failed comparison can say what was called, with
  what shapes (``compare.assert_same`` looks the call up);
- lets the student's own exceptions through (``pytest.raises`` works), tagged
  with the call that raised them.
"""

from __future__ import annotations

import functools
import linecache
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Iterator

import torch

from autograder import describe
from autograder.assignment import Assignment
from autograder.forbidden import Violation
from autograder.monitor import ForbiddenCallMonitor

DEFAULT_CALL_TIMEOUT = 10.0


class CheckFailure(AssertionError):
    """A check failed; the first line of the message is the one-line reason."""

    @property
    def reason(self) -> str:
        """The one-line reason shown in score tables."""
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class _CallTimedOut(BaseException):
    """Raised inside student code when its time is up (not an ``Exception``, so
    an ``except Exception`` in the submission cannot swallow it)."""


@dataclass
class Call:
    """One call of a student's function: what was called, and what came back."""

    function: str
    args: tuple
    kwargs: dict
    params: list[str]
    result: Any = None

    @functools.cached_property
    def text(self) -> str:
        """``pad2d(input=float32[2, 3, 5, 7], padding=(1, 2, 3, 1))``: worked out only for a failure that shows it."""
        return describe.call(self.function, self.args, self.kwargs, self.params)


@dataclass
class _CallLog:
    """The calls of the current test (reset by the plugin before each test)."""

    by_result: dict[int, Call] = field(default_factory=dict)
    last: Call | None = None
    printed: list[str] = field(default_factory=list)  # what the test's calls printed, in order

    def add(self, call: Call) -> None:
        self.by_result[id(call.result)] = call  # the Call keeps the result alive
        self.last = call


_log = _CallLog()


def forget_calls() -> None:
    """Start a new test with an empty call log."""
    global _log
    _log = _CallLog()


def call_for(result: Any) -> Call | None:
    """The call that returned ``result``, else the last call of this test."""
    return _log.by_result.get(id(result), _log.last)


def printed_output(limit: int = 2000) -> str:
    """What the student's code printed during this test (sandboxed runs), cut to ``limit`` characters."""
    text = "".join(_log.printed)
    return text if len(text) <= limit else f"{text[:limit]}\n[{len(text) - limit} more characters not shown]"


def student_call_of(exc: BaseException) -> str | None:
    """The call that raised ``exc``, when student code raised it."""
    return getattr(exc, "convgrade_call", None)


def student_frames(exc: BaseException, module_file: str) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback that lie in the student's module."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == module_file]


def load_source(source: str, filename: str, name: str) -> ModuleType:
    """Import a module from its source text, its frames named ``filename``.

    Raises ``CheckFailure`` with a reason a student can act on when it does not import.
    """
    module = ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    shown = Path(filename).name
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        raise CheckFailure(f"{shown} could not be imported: SyntaxError at line {exc.lineno}: {exc.msg}") from None
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the student's module is the point
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises at import
        where = student_frames(exc, filename)
        line = f" (line {where[-1].lineno})" if where else ""
        raise CheckFailure(f"{shown} could not be imported: {type(exc).__name__}: {exc}{line}") from None
    return module


def load_module(path: Path, name: str) -> ModuleType:
    """Import the module at ``path`` under a name no other module uses (its folder on sys.path meanwhile)."""
    if not path.is_file():
        raise CheckFailure(f"{path.name} is missing from {path.parent}")
    unique = f"convgrade_student_{name}_{abs(hash(str(path))):x}"
    sys.path.insert(0, str(path.parent))
    try:
        return load_source(path.read_text(encoding="utf-8", errors="replace"), str(path), unique)
    finally:
        sys.path.remove(str(path.parent))


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


def _copy_args(obj: Any) -> Any:
    """Tensors cloned, lists and tuples of them rebuilt, anything else shared."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if type(obj) in (list, tuple):
        return type(obj)(_copy_args(item) for item in obj)
    return obj


def _tensor_pairs(original: Any, copy: Any, path: str) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """(where, original, copy) for every tensor in an argument."""
    if isinstance(original, torch.Tensor):
        yield path, original, copy
    elif type(original) in (list, tuple):
        for i, (a, b) in enumerate(zip(original, copy)):
            yield from _tensor_pairs(a, b, f"{path}[{i}]")


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
        signature = describe.signature_of(function)
        params = list(signature.parameters) if signature else []
        try:
            _PARAMS[function] = params
        except TypeError:
            pass
        return list(params)


@functools.cache
def _monitor(forbidden: tuple[str, ...], aten: bool) -> ForbiddenCallMonitor:
    """The monitor for a set of rules, made once (it starts afresh each time it is entered)."""
    return ForbiddenCallMonitor.for_keys(forbidden, aten=aten)


@dataclass
class Outcome:
    """What one call of a student's function did, as plain data.

    ``run_call`` makes it in whichever process runs student code (the test
    process for self-checks, the sandboxed worker for grading); ``Student``
    turns it into the result, or the failure, a test sees.
    """

    params: list[str] = field(default_factory=list)  # the function's parameter names
    missing: bool = False  # the module has no such function
    result: Any = None
    result_is: tuple[str, int | str] | None = None  # ("args", i) or ("kwargs", key): the result is that argument
    raised: dict | None = None  # {"type", "message", "frames": [[file, line, function, text], ...]}
    exception: BaseException | None = None  # the exception itself, where it was not sent over a pipe
    violations: list[tuple[str, str]] = field(default_factory=list)  # (shown_as, caught)
    tampered: bool = False
    timed_out: bool = False
    exit_code: Any = None  # what sys.exit() was given, when the function called it
    modified: list[str] = field(default_factory=list)  # inputs changed in place
    after: tuple[list, dict] | None = None  # the arguments after a call of a `name_` function
    printed: str = ""  # what the call printed, where a worker caught it (capped there)

    def to_message(self) -> dict:
        """The outcome as a protocol value (the exception object stays behind)."""
        return {key: value for key, value in vars(self).items() if key != "exception"}

    @classmethod
    def from_message(cls, message: dict) -> Outcome:
        """The outcome a worker sent."""
        return cls(**{key: message[key] for key in message if key in cls.__dataclass_fields__ and key != "exception"})


def run_call(
    module: ModuleType, name: str, args: tuple, kwargs: dict, *,
    forbidden: tuple[str, ...], timeout: float | None, module_file: str, aten: bool = True,
) -> Outcome:
    """Call the student's ``name`` on copies of the arguments, under the monitor and a time limit.

    ``aten=False`` watches for forbidden calls by builtin rather than by operator
    (``autograder.monitor``: cheaper, for a function already watched once).
    """  # fmt: skip
    function = getattr(module, name, None)
    if not callable(function):
        return Outcome(missing=True)
    params = _params(function)
    given_args, given_kwargs = _copy_args(args), _copy_args(kwargs)
    outcome = Outcome(params=params)
    monitor = _monitor(forbidden, aten)
    try:
        with monitor, _time_limit(timeout):
            outcome.result = function(*given_args, **given_kwargs)
    except _CallTimedOut:
        outcome.timed_out = True
    except SystemExit as exc:
        outcome.exit_code = exc.code if type(exc.code) in (int, str, type(None)) else repr(exc.code)
    except Exception as exc:  # noqa: BLE001 - the student's exception, reported
        outcome.exception = exc
        frames = [[f.filename, f.lineno, f.name, f.line] for f in student_frames(exc, module_file)]
        outcome.raised = {"type": type(exc).__name__, "message": str(exc), "frames": frames}
    outcome.violations = [(v.shown_as, v.caught) for v in monitor.violations]
    outcome.tampered = monitor.tampered
    labels = [f"`{params[i]}`" if i < len(params) else f"argument {i + 1}" for i in range(len(args))]
    pairs = [pair for label, a, b in zip(labels, args, given_args) for pair in _tensor_pairs(a, b, label)]
    pairs += [pair for key in kwargs for pair in _tensor_pairs(kwargs[key], given_kwargs[key], f"`{key}`")]
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
    return outcome


class Student:
    """The student's module: ``student.pad2d(...)`` calls their ``pad2d``, checked."""

    def __init__(
        self, assignment: Assignment, folder: Path, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT, budget: float | None = None
    ) -> None:
        self.assignment = assignment
        self.module_file = Path(folder).resolve() / f"{assignment.module}.py"
        self.call_timeout = call_timeout
        self.budget = budget  # seconds all calls together may take; then every later call fails at once
        self._spent = 0.0
        self._module: ModuleType | None = None
        self._import_failure: CheckFailure | None = None
        self._hopeless: dict[str, str] = {}  # function -> why its later calls fail at once

    def __repr__(self) -> str:
        return f"<student's {self.module_file}>"

    @property
    def module(self) -> ModuleType:
        """The imported module (imported once; an import failure fails every check)."""
        if self._module is None and self._import_failure is None:
            try:
                self._module = load_module(self.module_file, self.assignment.module)
            except CheckFailure as failure:
                self._import_failure = failure
        if self._import_failure is not None:
            # Raised from this one line every time, so Hypothesis sees the same failure on replay.
            raise CheckFailure(str(self._import_failure))
        return self._module

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        checked.__name__ = checked.__qualname__ = name
        return checked

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``name`` with copies of the arguments, under the checks."""
        if name in self._hopeless:  # it hung, ran out of memory or crashed once: later calls fail at once, alike
            raise CheckFailure(self._hopeless[name])
        if self.budget is not None and self._spent > self.budget:
            raise CheckFailure(
                f"no time left: the functions of {self.module_file.name} took {self._spent:.0f} s in all, over the "
                f"{self.budget:g} s a submission may use (look for Python loops where tensor operations would do)"
            )  # fmt: skip
        started = time.monotonic()
        try:
            outcome = self._run(name, args, kwargs)
        finally:
            self._spent += time.monotonic() - started
        if outcome.printed:
            _log.printed.append(outcome.printed)
        if outcome.missing:
            raise CheckFailure(f"{self.module_file.name} has no function `{name}`: keep the names the scaffold gives")
        call = Call(function=name, args=args, kwargs=kwargs, params=outcome.params)
        if outcome.timed_out:
            self._give_up(name,
                f"{name} did not finish within {self.call_timeout:g} s: look for a loop that never ends, "
                f"or a Python loop over every pixel where tensor operations would do\n  call: {call.text}"
            )  # fmt: skip
        if outcome.violations:
            first, *others = (Violation(*v).message() for v in outcome.violations)
            also = "".join(f"\n  also: {message}" for message in others)
            raise CheckFailure(f"{first}\n  call: {call.text}{also}")
        if outcome.tampered:
            raise CheckFailure(
                f"{name} switched off the grader's checks (a profiler or dispatch mode was removed)\n  call: {call.text}"
            )
        if outcome.exit_code is not None:
            raise CheckFailure(
                f"{name} called sys.exit({outcome.exit_code!r}): a function returns its result, it never ends the program\n  call: {call.text}"
            )
        if outcome.raised is not None:
            if outcome.raised["type"] == "MemoryError" or "can't allocate memory" in outcome.raised["message"]:
                self._give_up(name, f"{name} ran out of memory: it asked for more than the limit allows\n  call: {call.text}")
            raise _student_exception(outcome, call.text)
        if outcome.modified:
            raise CheckFailure(
                f"{name} modified its input {outcome.modified[0]} in place: work on a copy (e.g. with .clone())\n  call: {call.text}"
            )
        result = outcome.result
        if outcome.after is not None:
            _copy_back(args, kwargs, *outcome.after)
        if outcome.result_is is not None:
            where, key = outcome.result_is
            result = args[key] if where == "args" else kwargs[key]
        call.result = result
        _log.add(call)
        return result

    def _give_up(self, name: str, reason: str) -> None:
        """Fail this call, and every later call of ``name``, with ``reason``.

        Hanging, exhausting memory or crashing costs seconds each time; a
        function that does it on one of the checks' small inputs gets no more.
        """
        self._hopeless[name] = reason
        raise CheckFailure(reason)

    def _run(self, name: str, args: tuple, kwargs: dict) -> Outcome:
        """Run the call here, in this process (a sandboxed Student runs it in its worker)."""
        return run_call(
            self.module, name, args, kwargs,
            forbidden=self.assignment.forbidden, timeout=self.call_timeout, module_file=str(self.module_file),
        )  # fmt: skip


def _student_exception(outcome: Outcome, text: str) -> BaseException:
    """The student's exception, tagged with the call: the object itself, or one rebuilt from its report."""
    raised = outcome.raised or {}
    exc = outcome.exception
    if exc is None:
        kind = _REBUILT.get(raised.get("type"), RuntimeError)
        message = raised.get("message", "")
        exc = kind(message if kind is not RuntimeError or raised.get("type") == "RuntimeError" else f"{raised.get('type')}: {message}")
    exc.convgrade_call = text  # type: ignore[attr-defined]
    exc.convgrade_frames = [  # type: ignore[attr-defined]
        traceback.FrameSummary(file, line, function, line=source) for file, line, function, source in raised.get("frames", [])
    ]
    return exc


_REBUILT: dict[str, type[Exception]] = {
    kind.__name__: kind
    for kind in (
        ValueError, TypeError, IndexError, KeyError, RuntimeError, NotImplementedError, ZeroDivisionError,
        AttributeError, AssertionError, ArithmeticError, OverflowError, MemoryError, NameError, UnboundLocalError,
    )
}  # fmt: skip


def _copy_back(args: tuple, kwargs: dict, args_after: list, kwargs_after: dict) -> None:
    """After a ``name_`` function: the caller's tensors take the values the student left in them."""
    pairs = [*_tensor_pairs(list(args), list(args_after), ""), *(
        pair for key in kwargs for pair in _tensor_pairs(kwargs[key], kwargs_after.get(key), "")
    )]
    for _, original, after in pairs:
        if isinstance(after, torch.Tensor) and after.shape == original.shape:
            with torch.no_grad():
                original.copy_(after)
