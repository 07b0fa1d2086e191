"""What one call of a student's function did, as plain data: ``Outcome``, and how one from a child is checked.

A sandboxed child sends its ``Outcome`` as a wire value (``autograder.sandbox.wire``);
the grader rebuilds it with ``Outcome.from_message``, which takes nothing on the
child's word: every field is type-checked and every text bounded, and a field
an honest child never sends is refused. The outcome decides nothing itself:
``autograder.student.Student`` turns it into the result, or the failure, a
check sees. A result may hold ``autograder.sandbox.wire.Remote`` handles (objects
kept in the child): the wire decoder has checked their numbers; what they name is
the child's business, never looked up in the grader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """What one call of a student's function did, as plain data."""

    params: list[str] = field(default_factory=list)  # the function's parameter names
    missing: bool = False  # the module has no such function (or the object no such method)
    stale: bool = False  # a handle among the call's objects names nothing this process holds
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
    printed: str = ""  # what the call printed, where a sandboxed child caught it (capped there)

    def to_message(self) -> dict:
        """The outcome as a wire value (the exception object stays behind)."""
        return {key: value for key, value in vars(self).items() if key != "exception"}

    @classmethod
    def from_message(cls, message: object) -> Outcome:
        """The outcome a sandboxed child sent, checked field by field: what comes from there is data, bounded.

        ``ValueError`` names the first field that is not what an honest child sends.
        """
        if type(message) is not dict:
            raise ValueError(f"an answer that is not a dictionary: {type(message).__name__}")
        unknown = set(message) - set(cls.__dataclass_fields__) - {"exception"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)[:5]}")
        raised = message.get("raised")
        return cls(
            params=_texts(message.get("params", []), "params", items=64, size=100),
            missing=_flag(message.get("missing", False), "missing"),
            stale=_flag(message.get("stale", False), "stale"),
            result=message.get("result"),
            result_is=_place(message.get("result_is")),
            raised=None if raised is None else _raised(raised),
            violations=[tuple(_texts(pair, "violations", items=2, size=200)) for pair in _items(message.get("violations", []), "violations", 20)],  # type: ignore[misc]
            tampered=_flag(message.get("tampered", False), "tampered"),
            timed_out=_flag(message.get("timed_out", False), "timed_out"),
            exit_code=_exit_code(message.get("exit_code")),
            modified=_texts(message.get("modified", []), "modified", items=20, size=200),
            after=_after(message.get("after")),
            printed=_text(message.get("printed", ""), "printed", PRINTED_CAP + 100),
        )


PRINTED_CAP = 4096  # bytes of what one call printed that the child sends back
MESSAGE_CAP = 2000  # characters of an exception's message kept


def _text(value: object, field: str, size: int) -> str:
    if type(value) is not str:
        raise ValueError(f"{field}: not text")
    return value if len(value) <= size else f"{value[:size]}[... {len(value) - size} more characters not kept]"


def _items(value: object, field: str, items: int) -> list:
    if type(value) not in (list, tuple) or len(value) > items:  # type: ignore[arg-type]
        raise ValueError(f"{field}: not a list of at most {items}")
    return list(value)  # type: ignore[call-overload]


def _texts(value: object, field: str, *, items: int, size: int) -> list[str]:
    return [_text(item, field, size) for item in _items(value, field, items)]


def _flag(value: object, field: str) -> bool:
    if type(value) is not bool:
        raise ValueError(f"{field}: not true or false")
    return value


def _place(value: object) -> tuple[str, int | str] | None:
    """``("args", 0)`` or ``("kwargs", "weight")``: where in the arguments the result is."""
    if value is None:
        return None
    where = _items(value, "result_is", 2)
    if len(where) == 2 and ((where[0] == "args" and type(where[1]) is int) or (where[0] == "kwargs" and type(where[1]) is str)):
        return where[0], where[1]
    raise ValueError("result_is: not a place among the arguments")


def _raised(value: object) -> dict:
    if type(value) is not dict:
        raise ValueError("raised: not a dictionary")
    frames = []
    for frame in _items(value.get("frames", []), "frames", 50)[-20:]:
        parts = _items(frame, "frames", 4)
        file, line, function, text = parts if len(parts) == 4 else (None, None, None, None)
        if type(line) is not int:
            raise ValueError("frames: not [file, line, function, text]")
        frames.append([_text(file, "frames", 200), line, _text(function, "frames", 200), None if text is None else _text(text, "frames", 300)])
    return {"type": _text(value.get("type"), "raised", 100), "message": _text(value.get("message", ""), "raised", MESSAGE_CAP), "frames": frames}


def _exit_code(value: object) -> int | str | None:
    if value is None or type(value) is int:
        return value  # type: ignore[return-value]
    return _text(value, "exit_code", 200)


def _after(value: object) -> tuple[list, dict] | None:
    if value is None:
        return None
    after = _items(value, "after", 2)
    if len(after) != 2 or type(after[0]) is not list or type(after[1]) is not dict:
        raise ValueError("after: not (arguments, keyword arguments)")
    return after[0], after[1]
