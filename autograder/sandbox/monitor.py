"""The monitor that catches forbidden calls (``autograder.forbidden``) while a student's self-check runs.

It lives in the student's own process, so a submission can switch it off: it
is a teacher, not a guard. When a class is graded, the sandboxed child refuses
the forbidden calls outright instead (``autograder.sandbox.refuse``).

While a student's function runs, ``ForbiddenCallMonitor`` watches three levels:

- dispatcher operators, through a ``TorchDispatchMode``: every route to a convolution
  (``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d``, ``torch.ops.aten.convolution``)
  ends in an operator of the rule's family, so an alias or a private path is caught too;
- Python functions, by code object, through ``sys.setprofile``: composites
  that never reach a distinctive operator (``numpy.pad``, every
  ``torch.nn.init`` function) are caught however the student named them;
- C functions a rule names by their Python path (numpy's ``correlate``), by
  identity, through the same profile hook.

The monitor records what it sees and never changes the computation; the
caller fails the check afterwards. It also notices when student code removed
its hooks, which only a submission working against the grader does.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from autograder.forbidden import Rule, Violation, python_targets, resolve, short_name


_RESOLVED: dict[str, list[tuple[str, object, type | None]]] = {}


def _resolved(dotted: str) -> list[tuple[str, object, type | None]]:
    """``(caught, function, class)`` for each function a dotted path names, unwrapped: ``class`` when the function is
    a class's ``__init__`` (a self-check catches constructing that class, not its relatives that share the method).

    Remembered once it finds something (until then a later import may make it). Only modules already imported
    are looked at, and torch's and numpy's: a library the submission has not imported cannot have been called.
    """
    if dotted not in _RESOLVED:
        found = [
            (caught, inspect.unwrap(getattr(function, "_implementation", function)), owner if isinstance(owner, type) and attr == "__init__" else None)
            for owner, attr, function, caught in python_targets(dotted, load=dotted.startswith(("torch.", "numpy.")))
        ]  # fmt: skip
        if not found:
            return found
        _RESOLVED[dotted] = found
    return _RESOLVED[dotted]


class _AtenWatch(TorchDispatchMode):
    """Records every forbidden ATen operator that runs, then runs it unchanged."""

    def __init__(self, monitor: ForbiddenCallMonitor) -> None:
        super().__init__()
        self.monitor = monitor

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # PyTorch's default wraps __torch_dispatch__ in torch._disable_dynamo,
        # which imports all of torch._dynamo (2.3 s) on the first operator.
        # Student code is never compiled here, so opt out of the wrapper.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        operator = func._schema.name  # "aten::convolution"
        rule = self.monitor.rule_for(operator)
        if rule is not None:
            self.monitor.record(Violation(rule.shown_as, operator.replace("::", ".")))
        return func(*args, **(kwargs or {}))


@dataclass
class ForbiddenCallMonitor:
    """Context manager: while active, forbidden calls are recorded in ``violations``."""

    rules: tuple[Rule, ...]
    violations: list[Violation] = field(default_factory=list)
    tampered: bool = False

    @classmethod
    def for_keys(cls, names: Iterable[str]) -> ForbiddenCallMonitor:
        """A monitor for the forbidden names an assignment lists (``autograder.forbidden.resolve``)."""
        return cls(rules=resolve(names))

    def __post_init__(self) -> None:
        self._operator_rules: dict[str, Rule | None] = {}
        self._codes: dict[types.CodeType, list[tuple[type | None, Violation]]] = {}
        self._python_builtins: dict[int, Violation] = {}  # C functions a rule names by their Python path
        self._mode: _AtenWatch | None = None

    def rule_for(self, operator: str) -> Rule | None:
        """The rule whose family holds the dispatcher operator ``ns::name``, if any (remembered)."""
        if operator not in self._operator_rules:
            self._operator_rules[operator] = next((rule for rule in self.rules if rule.forbids(operator)), None)
        return self._operator_rules[operator]

    def record(self, violation: Violation) -> None:
        """Note a forbidden call (once per kind)."""
        if violation not in self.violations:
            self.violations.append(violation)

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call":
            watched = self._codes.get(frame.f_code)
            violation = next((v for cls, v in watched if cls is None or isinstance(frame.f_locals.get("self"), cls)), None) if watched else None
        elif event == "c_call":
            violation = self._python_builtins.get(id(arg))
        else:
            return
        if violation is not None:
            self.record(violation)

    def __enter__(self) -> ForbiddenCallMonitor:
        self.violations.clear()
        self.tampered = False
        self._codes, self._python_builtins = {}, {}
        for rule in self.rules:  # where two rules cover one call, the first named in assignment.toml names it
            for pattern in rule.python:
                for name, function, cls in _resolved(pattern):
                    violation = Violation(rule.shown_as, short_name(name))
                    if isinstance(function, types.BuiltinFunctionType):  # numpy's C functions
                        self._python_builtins.setdefault(id(function), violation)
                    elif (code := getattr(function, "__code__", None)) is not None:
                        self._codes.setdefault(code, []).append((cls, violation))
        self._mode = _AtenWatch(self) if any(rule.operators for rule in self.rules) else None
        if self._mode is not None:
            self._mode.__enter__()
        self._previous_profile = sys.getprofile()
        if self._codes or self._python_builtins:
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._codes or self._python_builtins:
            if sys.getprofile() != self._profile:
                self.tampered = True
            sys.setprofile(self._previous_profile)
        if self._mode is not None:
            stack = torch.utils._python_dispatch._get_current_dispatch_mode_stack()
            if not stack or stack[-1] is not self._mode:
                self.tampered = True
                return
            self._mode.__exit__(*exc_info)
