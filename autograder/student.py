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

import importlib.util
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Iterator

import torch

from autograder import describe
from autograder.assignment import Assignment
from autograder.forbidden import ForbiddenCallMonitor

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
    text: str
    result: Any = None


@dataclass
class _CallLog:
    """The calls of the current test (reset by the plugin before each test)."""

    by_result: dict[int, Call] = field(default_factory=dict)
    last: Call | None = None

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


def student_call_of(exc: BaseException) -> str | None:
    """The call that raised ``exc``, when student code raised it."""
    return getattr(exc, "convgrade_call", None)


def student_frames(exc: BaseException, module_file: str) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback that lie in the student's module."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == module_file]


def load_module(path: Path, name: str) -> ModuleType:
    """Import the module at ``path`` under a name no other module uses.

    Raises ``CheckFailure`` with a reason a student can act on when the file is
    missing or does not import.
    """
    if not path.is_file():
        raise CheckFailure(f"{path.name} is missing from {path.parent}")
    unique = f"convgrade_student_{name}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise CheckFailure(
            f"{path.name} could not be imported: SyntaxError at line {exc.lineno}: {exc.msg}"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - whatever the submission raises at import
        where = student_frames(exc, str(path))
        line = f" (line {where[-1].lineno})" if where else ""
        raise CheckFailure(
            f"{path.name} could not be imported: {type(exc).__name__}: {exc}{line}"
        ) from None
    finally:
        sys.path.remove(str(path.parent))
    return module


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


def _label_arguments(signature, args, kwargs, given_args, given_kwargs) -> list[tuple[str, torch.Tensor, torch.Tensor]]:  # noqa: ANN001
    """(`name`, original, copy) for every tensor passed, named as the signature names it."""
    names = list(signature.parameters) if signature else []
    labels = [f"`{names[i]}`" if i < len(names) else f"argument {i + 1}" for i in range(len(args))]
    pairs = [pair for label, a, b in zip(labels, args, given_args) for pair in _tensor_pairs(a, b, label)]
    pairs += [pair for key in kwargs for pair in _tensor_pairs(kwargs[key], given_kwargs[key], f"`{key}`")]
    return pairs


def _settle_arguments(name: str, text: str, labelled: list[tuple[str, torch.Tensor, torch.Tensor]], result: Any) -> Any:
    """Fail when an input was modified; for ``name_`` functions, copy the changes back instead."""
    for where, original, given in labelled:
        if name.endswith("_"):
            with torch.no_grad():
                original.copy_(given)
            if result is given:
                result = original
        elif not _unchanged(original, given):
            raise CheckFailure(
                f"{name} modified its input {where} in place: work on a copy (e.g. with .clone())\n  call: {text}"
            )
    return result


def _unchanged(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    both_nan = a.isnan() & b.isnan() if a.is_floating_point() else torch.zeros_like(a, dtype=torch.bool)
    return bool(((a == b) | both_nan).all())


class Student:
    """The student's module: ``student.pad2d(...)`` calls their ``pad2d``, checked."""

    def __init__(self, assignment: Assignment, folder: Path, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT) -> None:
        self.assignment = assignment
        self.module_file = Path(folder).resolve() / f"{assignment.module}.py"
        self.call_timeout = call_timeout
        self._module: ModuleType | None = None
        self._import_failure: CheckFailure | None = None

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

    def function(self, name: str) -> Callable[..., Any]:
        """The student's own function object ``name``."""
        function = getattr(self.module, name, None)
        if not callable(function):
            raise CheckFailure(
                f"{self.module_file.name} has no function `{name}`: keep the names the scaffold gives"
            )
        return function

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        checked.__name__ = checked.__qualname__ = name
        return checked

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``name`` with copies of the arguments, under the checks."""
        function = self.function(name)
        signature = describe.signature_of(function)
        text = describe.call(name, args, kwargs, signature)
        given_args, given_kwargs = _copy_args(args), _copy_args(kwargs)
        labelled = _label_arguments(signature, args, kwargs, given_args, given_kwargs)
        monitor = ForbiddenCallMonitor.for_keys(self.assignment.forbidden)
        raised: BaseException | None = None
        result = None
        try:
            with monitor, _time_limit(self.call_timeout):
                result = function(*given_args, **given_kwargs)
        except _CallTimedOut:
            raise CheckFailure(
                f"{name} did not finish within {self.call_timeout:g} s: look for a loop that never ends, "
                f"or a Python loop over every pixel where tensor operations would do\n  call: {text}"
            ) from None
        except SystemExit as exc:
            raise CheckFailure(
                f"{name} called sys.exit({exc.code!r}): a function returns its result, it never ends the program\n  call: {text}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the student's exception, passed on below
            raised = exc
        if monitor.violations:
            first, *others = (violation.message() for violation in monitor.violations)
            also = "".join(f"\n  also: {message}" for message in others)
            raise CheckFailure(f"{first}\n  call: {text}{also}")
        if monitor.tampered:
            raise CheckFailure(
                f"{name} switched off the grader's checks (a profiler or dispatch mode was removed)\n  call: {text}"
            )
        if raised is not None:
            raised.convgrade_call = text  # type: ignore[attr-defined]
            raised.convgrade_frames = student_frames(raised, str(self.module_file))  # type: ignore[attr-defined]
            raise raised
        result = _settle_arguments(name, text, labelled, result)
        _log.add(Call(function=name, text=text, result=result))
        return result
