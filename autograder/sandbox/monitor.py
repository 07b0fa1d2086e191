"""The monitor that catches forbidden calls (``autograder.forbidden``) while student code runs (in the sandbox).

While a student's function runs, ``ForbiddenCallMonitor`` watches three levels:

- ATen operators, through a ``TorchDispatchMode``: every route to a convolution
  (``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d``, ``torch.ops.aten.convolution``)
  ends in the same operator, so an alias or a private path is caught too;
- the builtins that enter those operators from Python (``torch.conv2d``,
  ``torch._C._nn.im2col``, ``torch.ops.aten.convolution.default``...), by
  identity, through ``sys.setprofile``: the same routes, minus those that reach
  the operator from C++ alone, at a fraction of the dispatch mode's cost (it
  runs Python on every operator, and loop-style student code runs thousands);
- Python functions, by code object, through the same profile hook: composites
  that never reach a distinctive operator (``F.pad(mode="circular")``,
  ``numpy.pad``, every ``torch.nn.init`` function) are caught however the
  student named them.

The batch grader watches a function's calls at the ATen level until one of them
returns, and by builtin after that (``aten=False``); self-checks always watch
every level. The monitor records what it sees and never changes the
computation; the caller fails the check afterwards. It also notices when student
code removed its hooks, which only a submission working against the grader does.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from autograder.forbidden import RULES, Rule, Violation, short_name


def _resolve(dotted: str) -> Iterable[tuple[str, types.CodeType]]:
    """Code objects for a dotted path (``pkg.mod.func``, ``pkg.mod.Class.meth`` or ``pkg.mod.*``).

    Only modules already imported are looked at: a library the submission has
    not imported cannot have been called.
    """
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        if module_name in sys.modules or parts[0] in ("torch", "numpy"):
            try:
                obj = importlib.import_module(module_name)
            except ImportError:
                continue
            break
    else:
        return
    attrs = parts[cut:]
    if attrs == ["*"]:
        for name, member in vars(obj).items():
            if inspect.isfunction(member) and member.__module__ == obj.__name__:
                yield f"{module_name}.{name}", member.__code__
        return
    for attr in attrs:
        obj = getattr(obj, attr, None)
        if obj is None:
            return
    obj = getattr(obj, "_implementation", obj)  # numpy's array-function dispatchers
    code = getattr(inspect.unwrap(obj), "__code__", None)
    if code is not None:
        yield dotted, code


def _builtin_homes() -> dict[str, object]:
    """Where torch keeps the builtins a student can call (``torch._C`` submodules are not importable by name)."""
    return {  # later names win where two hold the same builtin: torch.conv2d is F.conv2d
        "torch._C._VariableFunctions": torch._C._VariableFunctions, "torch._C._nn": torch._C._nn,
        "torch._C._special": torch._C._special, "torch": torch, "torch.nn.functional": torch.nn.functional,
    }  # fmt: skip


@functools.cache
def _builtins(rule: Rule) -> dict[int, Violation]:
    """The Python-callable builtins that enter ``rule``'s operators, by ``id``: the public names and ``torch.ops.aten``."""
    found: dict[int, Violation] = {}
    for op in sorted(rule.aten):
        for home, namespace in _builtin_homes().items():
            builtin = getattr(namespace, op, None)
            if isinstance(builtin, types.BuiltinFunctionType):
                found[id(builtin)] = Violation(rule.shown_as, short_name(f"{home}.{op}"))
        try:
            packet = getattr(torch.ops.aten, op)
        except (AttributeError, RuntimeError):
            continue
        for overload in [packet, *(getattr(packet, name) for name in packet.overloads())]:
            found[id(overload._op)] = Violation(rule.shown_as, f"aten.{op}")
    return found


_RESOLVED: dict[str, list[tuple[str, types.CodeType]]] = {}


def _resolved(dotted: str) -> list[tuple[str, types.CodeType]]:
    """``_resolve``, remembered once it finds something (until then a later import may make it)."""
    if dotted not in _RESOLVED:
        found = list(_resolve(dotted))
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
        rule = self.monitor.aten_rules.get(func.overloadpacket.__name__)
        if rule is not None:
            self.monitor.record(Violation(rule.shown_as, f"aten.{func.overloadpacket.__name__}"))
        return func(*args, **(kwargs or {}))


@dataclass
class ForbiddenCallMonitor:
    """Context manager: while active, forbidden calls are recorded in ``violations``."""

    rules: tuple[Rule, ...]
    aten: bool = True  # watch every ATen operator (False: the builtins that enter them)
    violations: list[Violation] = field(default_factory=list)
    tampered: bool = False

    @classmethod
    def for_keys(cls, keys: Iterable[str], *, aten: bool = True) -> ForbiddenCallMonitor:
        """A monitor for the rule keys an assignment lists."""
        return cls(rules=tuple(RULES[key] for key in keys), aten=aten)

    def __post_init__(self) -> None:
        self.aten_rules = {op: rule for rule in self.rules for op in rule.aten}
        self._codes: dict[types.CodeType, Violation] = {}
        # with the dispatch mode on, it sees all the builtins would (and names the operator)
        self._builtins = {} if self.aten else {key: v for rule in self.rules for key, v in _builtins(rule).items()}
        self._mode: _AtenWatch | None = None

    def record(self, violation: Violation) -> None:
        """Note a forbidden call (once per kind)."""
        if violation not in self.violations:
            self.violations.append(violation)

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call":
            violation = self._codes.get(frame.f_code)
        elif event == "c_call":
            violation = self._builtins.get(id(arg))
        else:
            return
        if violation is not None:
            self.record(violation)

    def __enter__(self) -> ForbiddenCallMonitor:
        self.violations.clear()
        self.tampered = False
        self._codes = {
            code: Violation(rule.shown_as, short_name(name))
            for rule in self.rules
            for pattern in rule.python
            for name, code in _resolved(pattern)
        }
        self._mode = _AtenWatch(self) if self.aten and self.aten_rules else None
        if self._mode is not None:
            self._mode.__enter__()
        self._previous_profile = sys.getprofile()
        if self._codes or self._builtins:
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._codes or self._builtins:
            if sys.getprofile() != self._profile:
                self.tampered = True
            sys.setprofile(self._previous_profile)
        if self._mode is not None:
            stack = torch.utils._python_dispatch._get_current_dispatch_mode_stack()
            if not stack or stack[-1] is not self._mode:
                self.tampered = True
                return
            self._mode.__exit__(*exc_info)
