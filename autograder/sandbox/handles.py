"""Objects that stay where student code made them: the table behind remote handles.

A student's function may return what cannot cross the sandbox's boundary as
data: a model (``SmallCNN``), a closure, a numpy array. Such a value stays in
the process that made it, in that process's ``Handles``, and the grader gets a
``Remote`` (its type name, a short text, and a number). When the grader passes
the ``Remote`` back, as an argument or as the object to call
(``model(x)``, ``model.parameters()``), this table turns the number back into
the object: numbers mean something only to the table that gave them, so a
number that a check or a hostile child made up finds nothing, and a new child
(a new student, or the same one restarted) starts with an empty table.

Plain data (what ``autograder.sandbox.wire`` carries as values: ``None``,
numbers, strings, tensors, generators, dtypes, and lists, tuples and
string-keyed dictionaries of those) is never kept: it crosses as it is, except
that a tensor that requires grad (a model's parameter) crosses as a detached
copy, in this process as over a pipe.

Runs inside the sandbox and in a self-check's process alike; nothing here
imports the grader's side.
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.sandbox.wire import MAX_DEPTH, MAX_HANDLE, Remote

MAX_KEPT = 10_000  # objects one child may keep for the grader (a check keeps a few models)
_PLAIN_LEAVES = (type(None), bool, int, float, str, torch.Size, torch.Generator, torch.dtype)


class UnknownHandle(LookupError):
    """A handle this process never gave, or no longer holds (a made-up number, or another process's)."""


class TooManyHandles(RuntimeError):
    """A child was asked to keep more objects than ``MAX_KEPT``."""


class Handles:
    """One process's objects kept for the grader, by number (numbers start at 1 and are never reused)."""

    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}
        self._numbers: dict[int, int] = {}  # id(object) -> its number: an object kept twice has one number
        self._last = 0  # the last number given (not reset by ``clear``: a number names one object, ever)

    def __len__(self) -> int:
        return len(self._objects)

    def keep(self, obj: Any) -> Remote:
        """Keep ``obj`` (once however often it is returned) and name it by a ``Remote``."""
        number = self._numbers.get(id(obj))
        if number is None:
            if len(self._objects) >= MAX_KEPT or self._last + 1 >= MAX_HANDLE:
                raise TooManyHandles(f"more than {MAX_KEPT} objects returned that are not tensors or plain values")
            self._last = number = self._last + 1
            self._objects[number], self._numbers[id(obj)] = obj, number
        kind = type(obj)
        return Remote(type_name=kind.__qualname__[:100], text=_text(obj, kind), id=number)

    def export(self, value: Any, depth: int = 0) -> Any:
        """``value`` with everything that is not plain data replaced by a ``Remote`` (containers rebuilt, only where needed)."""
        kind = type(value)
        if kind in _PLAIN_LEAVES or isinstance(value, Remote):
            return value
        if isinstance(value, torch.Tensor):
            return value.detach().clone() if value.requires_grad else value
        if depth >= MAX_DEPTH:
            return self.keep(value)
        if kind in (list, tuple):
            items = [self.export(item, depth + 1) for item in value]
            return value if all(a is b for a, b in zip(items, value)) else kind(items)
        if kind is dict and all(type(key) is str for key in value):
            items = {key: self.export(item, depth + 1) for key, item in value.items()}
            return value if all(items[key] is value[key] for key in value) else items
        return self.keep(value)

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """``value`` with each ``Remote`` replaced by the object it names here (``UnknownHandle`` if it names none)."""
        if isinstance(value, Remote):
            number = value.id
            if type(number) is not int or number not in self._objects:
                raise UnknownHandle(f"no object {number!r} is kept here")
            return self._objects[number]
        if depth >= MAX_DEPTH:
            return value
        kind = type(value)
        if kind in (list, tuple):
            return kind(self.resolve(item, depth + 1) for item in value)
        if kind is dict:
            return {key: self.resolve(item, depth + 1) for key, item in value.items()}
        return value

    def clear(self) -> None:
        """Forget every object kept (the process's handles die with it; a self-check's at ``close``)."""
        self._objects.clear()
        self._numbers.clear()


def _text(obj: Any, kind: type) -> str:
    """A short description of ``obj``: its repr, cut (or its type's name, where the repr fails)."""
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a hostile or broken __repr__
        return f"<{kind.__qualname__}>"
    return text if len(text) <= 200 else f"{text[:197]}..."
