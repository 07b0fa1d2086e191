"""The student's module as the tests see it (the grader's side of every call).

Tests never import a student's module: they receive a ``Student`` (the
``student`` fixture) and call ``student.pad2d(x, 1)``. The call runs where the
student's code runs (in this process for a self-check, in a sandboxed child when
graded: ``autograder.sandbox``), and comes back as an ``Outcome``: plain data,
which this module alone turns into what the check sees:

- the result, or the student's own exception (``pytest.raises`` works);
- a ``CheckFailure`` for a forbidden call, a timeout, an input changed in place
  (unless the name ends in ``_``, the PyTorch convention, in which case the
  changes are copied back as the caller expects), ``sys.exit``, a crash.

A result that is not plain data (a model) stays where it was made, and the check
gets a ``Handle`` (``model(x)``, ``model.parameters()``, ``student.train(model)``),
good only with its ``Student`` while the process holding the object lives.

Every call is recorded in the check's ``CallLog``, so that a failed comparison
can say what was called, with what shapes (``compare.assert_same`` looks the
call up), and a failure explanation can show the student's frames.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from autograder import describe, settings
from autograder.assignment import Assignment
from autograder.forbidden import Violation
from autograder.sandbox.call import ImportFailed, LocalModule, ProcessDied, SandboxFailed, tensor_pairs
from autograder.sandbox.outcome import Outcome
from autograder.sandbox.wire import MAX_DEPTH, Remote


class CheckFailure(AssertionError):
    """A check failed; the first line of the message is the one-line reason."""

    partial: float = 0.0  # the share of the check's cases that passed (its share of the points)

    @property
    def reason(self) -> str:
        """The one-line reason shown in score tables."""
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class PartialCredit(CheckFailure):
    """A check of several cases failed some of them: it earns ``partial`` of its points."""

    def __init__(self, message: str, partial: float) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass
class Call:
    """One call of a student's function: what was called, and what came back or was raised."""

    function: str
    args: tuple
    kwargs: dict
    params: list[str]
    result: Any = None
    raised: BaseException | None = None  # the student's exception, as the check sees it
    frames: list[traceback.FrameSummary] = field(default_factory=list)  # the student's frames when it raised
    target: Remote | None = None  # the object whose method this is (``model.parameters()``, ``model(x)``)

    @functools.cached_property
    def text(self) -> str:
        """``pad2d(input=float32[2, 3, 5, 7], padding=(1, 2, 3, 1))``: worked out only for a failure that shows it."""
        return describe.call(self.function, self.args, self.kwargs, self.params, target=self.target)

    @property
    def case(self) -> str:
        """The call with tensors by dtype and shape alone: what a hidden check may show of its case."""
        return describe.call(self.function, self.args, self.kwargs, self.params, values=False, target=self.target)


@dataclass
class CallLog:
    """The calls of one check, and what they printed."""

    by_result: dict[int, Call] = field(default_factory=dict)
    last: Call | None = None  # the last call that returned
    latest: Call | None = None  # the last call made, however it ended
    raising: list[Call] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)  # what the check's calls printed, in order

    def add(self, call: Call) -> None:
        """Record a call that returned (the ``Call`` keeps its result alive, so ids stay unique)."""
        self.by_result[id(call.result)] = call
        self.last = call

    def call_for(self, result: Any) -> Call | None:
        """The call that returned ``result``, else the last call that returned."""
        return self.by_result.get(id(result), self.last)

    def raised(self, exc: BaseException) -> Call | None:
        """The call whose student code raised ``exc``, if student code raised it."""
        return next((call for call in self.raising if call.raised is exc), None)

    def printed_text(self, limit: int = 2000) -> str:
        """What the check's calls printed (sandboxed runs), cut to ``limit`` characters."""
        text = "".join(self.printed)
        return text if len(text) <= limit else f"{text[:limit]}\n[{len(text) - limit} more characters not shown]"


_CHECK: ContextVar[CallLog] = ContextVar("convgrade_check_calls")


def begin_check() -> CallLog:
    """Start a check: its calls are recorded in a fresh log (the plugin calls this before each check)."""
    log = CallLog()
    _CHECK.set(log)
    return log


def calls() -> CallLog:
    """The log of the check now running."""
    try:
        return _CHECK.get()
    except LookupError:
        return begin_check()


class ModuleRunner(Protocol):
    """Where a student's functions run: ``LocalModule`` here, or a sandbox's ``SandboxedModule``."""

    generation: int | None  # the life of the module now running (``None``: none runs); handles are good only in theirs

    def run(self, function: str, args: tuple, kwargs: dict, *, target: Remote | None = None, timeout: float | None = -1.0) -> Outcome:
        """Run one call (``ImportFailed`` if the module does not import, ``ProcessDied`` if it dies)."""

    def close(self) -> None:
        """End whatever runs the module."""


class Handle(Remote):
    """An object the student's code made and keeps (a ``SmallCNN``): ``model(x)`` and ``model.parameters()``
    run where it lives, checked as functions are; methods whose names start with ``_`` are not called, attributes not read."""

    def __init__(self, remote: Remote, owner: Student, generation: int | None) -> None:
        super().__init__(type_name=remote.type_name, text=remote.text, id=remote.id)
        object.__setattr__(self, "_owner", owner), object.__setattr__(self, "_generation", generation)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._owner._call(name, args, kwargs, target=self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._owner._call("__call__", args, kwargs, target=self)


class Student:
    """The student's module: ``student.pad2d(...)`` calls their ``pad2d``, checked.

    ``sandbox``: an ``autograder.sandbox.client.Sandbox`` to run the student's
    code in; without one it runs in this process (a student's self-check).
    """

    def __init__(
        self, assignment: Assignment, folder: Path, *, sandbox: Any = None,
        call_timeout: float | None = settings.CALL_TIMEOUT, budget: float | None = None,
    ) -> None:  # fmt: skip
        self.assignment = assignment
        self.module_file = Path(folder).resolve() / f"{assignment.module}.py"
        self.call_timeout = call_timeout
        self.budget = budget  # seconds all calls together may take; then every later call fails at once
        self.runner: ModuleRunner = (
            LocalModule(assignment.module, self.module_file, assignment.forbidden, call_timeout) if sandbox is None
            else sandbox.module(assignment.module, self.module_file, assignment.forbidden, call_timeout, preload=assignment.preload)
        )  # fmt: skip
        self._spent = 0.0
        self._call_limit = call_timeout  # this call's time limit: call_timeout, unless a check's ``time_limit`` raises it
        self.sandbox_failure: str | None = None  # the sandbox broke before this module's code ran: the grader's failure
        self._import_failure: str | None = None
        self._hopeless: dict[str, str] = {}  # function -> why its later calls fail at once

    def __repr__(self) -> str:
        return f"<student's {self.module_file}>"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        checked.__name__ = checked.__qualname__ = name
        return checked

    def close(self) -> None:
        """End whatever runs this student's code (a sandboxed child)."""
        self.runner.close()

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Calls in the block may each take ``seconds`` (at least ``call_timeout``): for work done by design (training),
        which a vectorised version finishes well inside and a slow one fails as too slow."""
        previous = self._call_limit
        self._call_limit = None if self.call_timeout is None else max(seconds, self.call_timeout)
        try:
            yield
        finally:
            self._call_limit = previous

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``name`` with copies of the arguments, under the checks."""
        return self._call(name, args, kwargs)

    def _call(self, name: str, args: tuple, kwargs: dict, target: Handle | None = None) -> Any:
        """Call the student's function ``name``, or the method ``name`` of the object ``target`` is a handle of."""
        shown = name if target is None else target.type_name if name == "__call__" else f"{target.type_name}.{name}"
        self._check_handles((target, args, kwargs), shown)
        if self.sandbox_failure is not None:
            raise CheckFailure(self.sandbox_failure)
        if self._import_failure is not None:
            # Raised from this one line every time, so Hypothesis sees the same failure on replay.
            raise CheckFailure(self._import_failure)
        if shown in self._hopeless:  # it hung, ran out of memory or crashed once: later calls fail at once, alike
            raise CheckFailure(self._hopeless[shown])
        if self.budget is not None and self._spent > self.budget:
            raise CheckFailure(
                f"no time left: the functions of {self.module_file.name} took {self._spent:.0f} s in all, over the "
                f"{self.budget:g} s a submission may use (look for Python loops where tensor operations would do)"
            )  # fmt: skip
        outcome = self._run(name, args, kwargs, target, shown)
        log = calls()
        if outcome.printed:
            log.printed.append(outcome.printed)
        if outcome.stale:
            raise CheckFailure(f"{shown} was given an object that the process running {self.module_file.name} does not hold")
        if outcome.missing:
            raise CheckFailure(f"{self.module_file.name} has no function `{name}`: keep the names the scaffold gives"
                               if target is None else f"a {target.type_name} has no method `{name}` that a check may call")
        call = Call(function=name, args=args, kwargs=kwargs, params=outcome.params, target=target)
        log.latest = call
        if outcome.timed_out:
            why = ("too slow: a vectorised version takes a fraction of that; look for a Python loop over samples or pixels"
                   if self._call_limit != self.call_timeout  # a check gave this call more time: only a slow version misses it
                   else "look for a loop that never ends, or a Python loop over every pixel where tensor operations would do")
            self._give_up(shown, f"{shown} did not finish within {self._call_limit:g} s: {why}\n  call: {call.text}")
        if outcome.violations:
            first_of_each_rule: dict[str, str] = {}  # shown_as -> what was caught first, in the order they were seen
            for shown_as, caught in outcome.violations:
                first_of_each_rule.setdefault(shown_as, caught)
            first, *others = (Violation(shown_as, caught).message() for shown_as, caught in first_of_each_rule.items())
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
                self._give_up(shown, f"{shown} ran out of memory: it asked for more than the limit allows\n  call: {call.text}")
            call.raised = _student_exception(outcome)
            call.frames = [traceback.FrameSummary(file, line, function, line=source) for file, line, function, source in outcome.raised.get("frames", [])]
            log.raising.append(call)
            raise call.raised
        if outcome.modified:
            raise CheckFailure(
                f"{name} modified its input {outcome.modified[0]} in place: work on a copy (e.g. with .clone())\n  call: {call.text}"
            )
        result = outcome.result
        if outcome.after is not None and name.endswith("_"):  # only an in-place function changes the caller's tensors
            _copy_back(args, kwargs, *outcome.after)
        if outcome.result_is is not None:
            result = _argument_at(outcome.result_is, args, kwargs, result)
        call.result = result = self._bind(result, self.runner.generation)
        log.add(call)
        return result

    def _bind(self, value: Any, generation: int | None, depth: int = 0) -> Any:
        """``value`` with each ``Remote`` the student's process sent made this student's ``Handle``, for this life of the process."""
        if isinstance(value, Remote):
            return Handle(value, self, generation)
        if depth < MAX_DEPTH and type(value) in (list, tuple, dict):
            bound = {key: self._bind(item, generation, depth + 1) for key, item in (value.items() if type(value) is dict else enumerate(value))}
            return bound if type(value) is dict else type(value)(bound.values())
        return value

    def _check_handles(self, value: Any, shown: str) -> None:
        """Refuse a call that passes a handle this student's running module did not give (another's, or an earlier life's)."""
        for remote in _remotes(value):
            if not (isinstance(remote, Handle) and remote._owner is self):
                raise CheckFailure(f"{shown} was given a {remote.type_name} that another student's module made: a check's mistake")
            if remote._generation is None or remote._generation != self.runner.generation:
                raise CheckFailure(
                    f"{shown} was given a {remote.type_name} that is gone: it lived in the process that ran "
                    f"{self.module_file.name} before that process ended (after a crash, a time-out or the end of the submission)"
                )  # fmt: skip

    def _run(self, name: str, args: tuple, kwargs: dict, target: Handle | None = None, shown: str | None = None) -> Outcome:
        """Run the call where the student's code runs, counting its time against the budget."""
        started = time.monotonic()
        try:
            return self.runner.run(name, args, kwargs, target=target, timeout=self._call_limit)
        except ImportFailed as failure:
            self._import_failure = str(failure)
            raise CheckFailure(self._import_failure) from None
        except SandboxFailed as failure:  # every later call fails alike; the batch makes the submission a grader error
            self.sandbox_failure = str(failure)
            raise CheckFailure(self.sandbox_failure) from None
        except ProcessDied as died:
            if died.timed_out:
                return Outcome(timed_out=True)
            self._give_up(shown or name, f"{shown or name} crashed the process running it ({died})")
            raise  # not reached: _give_up raises
        finally:
            self._spent += time.monotonic() - started

    def _give_up(self, name: str, reason: str) -> None:
        """Fail this call, and every later call of ``name``, with ``reason``.

        Hanging, exhausting memory or crashing costs seconds each time; a
        function that does it on one of the checks' small inputs gets no more.
        """
        self._hopeless[name] = reason
        raise CheckFailure(reason)


def _remotes(value: Any, depth: int = 0) -> Iterator[Remote]:
    """Every ``Remote`` in a call's target and arguments."""
    if isinstance(value, Remote):
        yield value
    elif depth < MAX_DEPTH and type(value) in (list, tuple, dict):
        for item in value.values() if type(value) is dict else value:
            yield from _remotes(item, depth + 1)


def _student_exception(outcome: Outcome) -> BaseException:
    """The student's exception: the object itself, or one rebuilt from a sandboxed child's report."""
    if outcome.exception is not None:
        return outcome.exception
    raised = outcome.raised or {}
    kind = _REBUILT.get(raised.get("type"), RuntimeError)
    message = raised.get("message", "")
    return kind(message if kind is not RuntimeError or raised.get("type") == "RuntimeError" else f"{raised.get('type')}: {message}")


_REBUILT: dict[str, type[Exception]] = {
    kind.__name__: kind
    for kind in (
        ValueError, TypeError, IndexError, KeyError, RuntimeError, NotImplementedError, ZeroDivisionError,
        AttributeError, AssertionError, ArithmeticError, OverflowError, MemoryError, NameError, UnboundLocalError,
    )
}  # fmt: skip


def _copy_back(args: tuple, kwargs: dict, args_after: list, kwargs_after: dict) -> None:
    """After a ``name_`` function: the caller's tensors take the values the student left in them.

    Only tensors the check passed, of the same shape and dtype, take values, and
    only values: whatever the child reported, nothing else of the grader changes.
    """
    pairs = [*tensor_pairs(list(args), list(args_after), ""), *(
        pair for key in kwargs for pair in tensor_pairs(kwargs[key], kwargs_after.get(key), "")
    )]
    for _, original, after in pairs:
        if type(after) is torch.Tensor and after.shape == original.shape and after.dtype == original.dtype:
            with torch.no_grad():
                original.copy_(after)


def _argument_at(place: tuple[str, int | str], args: tuple, kwargs: dict, otherwise: Any) -> Any:
    """The tensor argument the student's function returned (``("args", 0)``), or ``otherwise`` if there is none there."""
    where, key = place
    if where == "args" and type(key) is int and 0 <= key < len(args):
        found = args[key]
    elif where == "kwargs" and key in kwargs:
        found = kwargs[key]
    else:
        return otherwise
    return found if isinstance(found, torch.Tensor) else otherwise


def call_for(result: Any) -> Call | None:
    """The call of this check that returned ``result``, else its last call that returned."""
    return calls().call_for(result)


def student_call_of(exc: BaseException) -> str | None:
    """The call that raised ``exc`` (``pad2d(input=float32[1, 2])``), when student code raised it."""
    call = calls().raised(exc)
    return call.text if call is not None else None
