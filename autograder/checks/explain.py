"""Every failure of a check, explained: a one-line reason and the full story.

A check fails in one of a few ways: a ``CheckFailure`` from the comparisons or
the student proxy (already worded for students), the student's own exception
(the call, its message and the student's frames), ``NotImplementedError`` from a
stub (``not implemented yet: `pad2d```), or a plain assertion or error of the
check itself. What the student's code printed during the check (caught by a
sandboxed child) ends the explanation.

A hidden check says less (``hidden_reason``, ``hidden_case``): what kind of
failure it is and the case by shapes, never the student's own text, values or
anything else the student's code chooses (a type's name, a returned shape, an
exit code, a parameter name), which a submission could otherwise use to report
its hidden inputs back. Its reason is rebuilt from a list of known failures
(``_CONCEALED``), keeping only the parts the grader wrote; any other failure
gets a plain one.
"""

from __future__ import annotations

import builtins
import re
import textwrap
from collections.abc import Callable
from typing import NamedTuple

import pytest

from autograder import describe
from autograder.student import Call, CheckFailure, calls


class Explanation(NamedTuple):
    """A failure, for people."""

    reason: str  # one line, for score tables
    details: str  # the whole story
    concise: bool  # whether ``details`` replaces pytest's report (and its traceback)
    partial: float = 0.0  # the share of the check's cases that passed
    hidden_reason: str = ""  # the reason without the student's own text (what a hidden check may show)
    case: str = ""  # the failing call, tensors by dtype and shape alone


def explain(exc: BaseException) -> Explanation:
    """The failure ``exc`` of a check, explained."""
    reason, details, concise = _explain(exc)
    printed = calls().printed_text()
    if printed:
        details = f"{details or reason}\n  your code printed:\n" + textwrap.indent(printed.rstrip("\n"), "    | ")
    partial = exc.partial if isinstance(exc, CheckFailure) else 0.0
    latest = calls().raised(_first(exc)) or calls().latest
    return Explanation(reason, details, concise, partial, hidden_reason(exc), hidden_case(latest) if latest else "")


def _first(exc: BaseException) -> BaseException:
    """The failure to explain: the first of a group's, however deep."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def hidden_case(call: Call) -> str:
    """The call as a hidden check may show it: tensors by dtype and shape, and no parameter name from the student's side.

    A method of the student's object keeps its ``<object>.`` (``<object>.parameters()``, ``<object>(float32[5, 1, 8, 8])``):
    a bare ``parameters()`` reads as a function of the module.
    """
    return describe.call(call.function, call.args, call.kwargs, values=False, target=call.target)


def _hidden_name(call: Call) -> str:
    """The function called, as a hidden check names it: ``pad2d``, or ``<object>.parameters`` for the student's object's method."""
    return describe.call(call.function, (), {}, values=False, target=call.target).removesuffix("()")


def hidden_reason(exc: BaseException) -> str:
    """The reason a hidden check may show for ``exc``: the kind of failure, in the grader's words alone."""
    exc = _first(exc)
    if isinstance(exc, CheckFailure):
        return conceal(exc.reason)
    call = calls().raised(exc)
    if call is not None:
        if isinstance(exc, NotImplementedError):
            return f"not implemented yet: `{_hidden_name(call)}`"
        return f"`{_hidden_name(call)}` raised {_exception_name(type(exc).__name__)}"
    if isinstance(exc, (AssertionError, pytest.fail.Exception)):
        return HIDDEN_ASSERTION
    return f"error in the check itself: {type(exc).__name__}"


HIDDEN_FALLBACK = "failed (a hidden check shows its case only)"
HIDDEN_ASSERTION = "the check's condition does not hold (a hidden check shows its case only)"
_LIKELY = r"(?P<likely>; likely [^;]*)?"  # a known mistake, named by the check: the grader's words
_TYPES = r"(?P<type>a torch\.Tensor|an int|a float|a tuple|a list)"


def _exception_name(name: str) -> str:
    """A builtin exception's name as it is; any other (a class the student named) is not shown."""
    return name if isinstance(getattr(builtins, name, None), type) and issubclass(getattr(builtins, name), BaseException) else "an exception"


def _likely(match: re.Match[str]) -> str:
    return match["likely"] or ""


_CONCEALED: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(pattern), rebuild)
    for pattern, rebuild in [
        # compare.assert_same, and its parts in a tuple ("item 1: ...")
        (r"item (?P<index>\d+): (?P<rest>.*)", lambda m: f"item {m['index']}: {conceal(m['rest'])}"),
        (r"wrong values: [^;]*" + _LIKELY, lambda m: "wrong values" + _likely(m)),
        (r"wrong shape: expected (?P<shape>\([\d, ]*\)), got \([\d, ]*\)" + _LIKELY, lambda m: f"wrong shape: expected {m['shape']}" + _likely(m)),
        (r"wrong dtype: expected (?P<dtype>[\w.]+), got [\w.]+" + _LIKELY, lambda m: f"wrong dtype: expected {m['dtype']}" + _likely(m)),
        (r"returned a .*, a subclass of torch\.Tensor; return a plain torch\.Tensor", lambda m: "returned a subclass of torch.Tensor; return a plain torch.Tensor"),
        (r"returned .*, expected " + _TYPES, lambda m: f"returned something other than {m['type']}"),
        (r"returned \d+ items, expected (?P<count>\d+)" + _LIKELY, lambda m: f"returned another number of items, expected {m['count']}" + _likely(m)),
        (r"returned [-+\w.]+, expected [-+\w.]+" + _LIKELY, lambda m: "returned a wrong number" + _likely(m)),
        # compare's error cases
        (r"(?P<count>\d+ of \d+ error cases fail); (?P<case>[^:]*): (?P<rest>.*)", lambda m: f"{m['count']}; {m['case']}: {conceal(m['rest'])}"),
        (r"wrong result for valid input: (?P<rest>.*)", lambda m: f"wrong result for valid input: {conceal(m['rest'])}"),
        (r"raises for valid input too: (?P<function>\w+)\(.*\) raised (?P<name>\w+)", lambda m: f"raises for valid input too: `{m['function']}` raised {_exception_name(m['name'])}"),
        (r"raised (?P<name>\w+) but the message (?P<rest>does not name `[^`]*`|names neither .*)", lambda m: f"raised {_exception_name(m['name'])} but the message {m['rest']}"),
        (r"expected (?P<wanted>\w+(?: naming `[^`]*`)?), got (?P<name>\w+)(?::.*)?", lambda m: f"expected {m['wanted']}, got {_exception_name(m['name'])}"),
        (r"expected (?P<wanted>\w+(?: naming `[^`]*`)?), but it returned .*", lambda m: f"expected {m['wanted']}, but it returned without raising"),
        # the student proxy (autograder.student) and checks that reword a student's exception
        (r"`(?P<function>\w+)` raised (?P<name>\w+)\b.*", lambda m: f"`{m['function']}` raised {_exception_name(m['name'])}"),
        (r"(?P<function>\w+) did not finish within (?P<limit>[\d.]+) s\b.*", lambda m: f"{m['function']} did not finish within {m['limit']} s"),
        (r"(?P<function>\w+) ran out of memory\b.*", lambda m: f"{m['function']} ran out of memory: it asked for more than the limit allows"),
        (r"(?P<function>\w+) crashed the process running it\b.*", lambda m: f"{m['function']} crashed the process running it"),
        (r"(?P<function>\w+) switched off the grader's checks\b.*", lambda m: f"{m['function']} switched off the grader's checks"),
        (r"(?P<function>\w+) called sys\.exit\b.*", lambda m: f"{m['function']} called sys.exit: a function returns its result, it never ends the program"),
        (r"(?P<function>\w+) modified its input .*", lambda m: f"{m['function']} modified an input in place: work on a copy (e.g. with .clone())"),
        (r"no time left\b.*", lambda m: "no time left: the submission's functions took longer in all than a submission may"),
        (r".* is not allowed in this exercise\b.*", lambda m: "a call this exercise does not allow: implement it yourself"),
        (r"(?P<module>[\w.]+) has no function `(?P<function>\w+)`.*", lambda m: f"{m['module']} has no function `{m['function']}`: keep the names the scaffold gives"),
        (r"(?P<module>[\w.]+) (?:could not be imported|is missing from|is a symbolic link|cannot be read|is not a regular file|holds)\b.*",
         lambda m: f"{m['module']} could not be loaded (the visible checks say why)"),
    ]
]


def conceal(reason: str) -> str:
    """``reason`` (a ``CheckFailure``'s first line) in the grader's words alone: what a hidden check may show."""
    for pattern, rebuild in _CONCEALED:
        match = pattern.fullmatch(reason)
        if match:
            return rebuild(match)
    return HIDDEN_FALLBACK


def _explain(exc: BaseException) -> tuple[str, str, bool]:
    exc = _first(exc)  # several failures at once: explain the first
    notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
    if isinstance(exc, CheckFailure):
        return exc.reason, f"{exc}{notes}", True
    call = calls().raised(exc)
    if call is not None:
        function = call.function
        if isinstance(exc, NotImplementedError):
            missing = str(exc) if str(exc).isidentifier() else function
            needed = "" if missing == function else f" (needed by `{function}`)"
            return f"not implemented yet: `{missing}`{needed}", f"not implemented yet: `{missing}`{needed}\n  call: {call.text}", True
        frames = "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}' for f in call.frames)
        message = f"{type(exc).__name__}: {exc}"
        reason = f"`{function}` raised {message.splitlines()[0]}"
        return reason, f"`{function}` raised {message}\n  call: {call.text}{frames}{notes}", True
    if isinstance(exc, AssertionError):
        text = str(exc).strip() or "assertion failed"
        return text.splitlines()[0], text, False
    if isinstance(exc, pytest.fail.Exception):
        return str(exc).splitlines()[0], str(exc), False
    return f"error in the check itself: {type(exc).__name__}: {exc}", "", False
