"""The library calls an exercise forbids: names as users write them, the families behind them, and how a failure names what was caught.

Each assignment lists names in its ``assignment.toml``::

    forbidden = ["convolution", "F.max_pool2d", "nn.MaxPool2d", "aten.max_pool2d_with_indices", "torch.nn.init", "autograd"]

- a bare word is a family (``FAMILIES``): every route to one computation,
  forward and backward, in every namespace (``convolution``, ``im2col``,
  ``padding``, ``pooling``, ``linear``, ``autograd``, ``nn.init``);
- ``aten.NAME`` (or ``aten::NAME``, other dispatcher namespaces alike, ``*``
  allowed) is that dispatcher operator, every overload;
- any other dotted name, with ``F.`` for ``torch.nn.functional``, ``nn.`` for
  ``torch.nn`` and ``np.`` for ``numpy``, is a Python function, a class
  (constructing it is forbidden), a method (``torch.Tensor.backward``) or a
  module (``torch.nn.init``: every function in it).

``rule_for`` turns a name into a ``Rule`` without importing anything, so the
grader's parent reads assignments without torch. Where torch is loaded, the
sandbox's child refuses a rule's calls (``autograder.sandbox.refuse``) and a
self-check watches for them (``autograder.sandbox.monitor``), both finding the
Python objects through ``python_targets``. Whether a name exists is
``unresolvable``'s question (it imports what the name names): ``convgrade
release``, ``check`` and ``grade`` ask it before any student code runs
(``autograder.assignment.check_forbidden``), through ``python -m
autograder.forbidden NAME...`` where torch is not loaded.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One forbidden name, resolved: the operators and Python objects it covers, and how a failure message names it.

    ``operators`` is a regular expression over the dispatcher's operator names
    (``aten::convolution_backward``, ``quantized::conv2d``), matched whole: a
    family, so that every route to the same computation is named at once,
    forward and backward, public and private, float and quantized. ``python``
    holds dotted paths (``torch.nn.functional.pad``, ``torch.nn.init``,
    ``pkg.mod.*``) of functions, classes, methods and modules, and of C functions
    reached from Python (numpy's ``correlate``), that never reach a distinctive operator.
    """

    shown_as: str
    operators: str = ""
    python: tuple[str, ...] = ()

    def forbids(self, operator: str) -> bool:
        """Whether the dispatcher operator ``ns::name`` (overload name left off) belongs to this family."""
        return bool(self.operators) and _pattern(self.operators).fullmatch(operator) is not None


@functools.cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


_NAMESPACES = r"(aten|quantized|_quantized|mkldnn|mkldnn_prepacked|onednn)"
# every convolution the dispatcher knows, in every namespace that computes one ("convert" is not one)
_CONVOLUTION = rf"{_NAMESPACES}::\w*conv(?!ert)\w*"
_POOLING = rf"{_NAMESPACES}::\w*(_pool[123]d|max_unpool)\w*"  # max, avg, adaptive, fractional, mkldnn's, quantized; lp_pool is avg_pool
_LINEAR = r"aten::(linear|linear_backward|mkldnn_linear\w*|_mixed_dtypes_linear|fbgemm_linear\w*)|(quantized|_quantized|onednn|mkldnn|mkl|sparse)::\w*linear\w*"
_POOLS = ("max_pool", "avg_pool", "adaptive_max_pool", "adaptive_avg_pool")


def _classes(module: str, *names: str) -> tuple[str, ...]:
    return tuple(f"torch.nn.modules.{module}.{name}" for name in names)


FAMILIES: dict[str, Rule] = {
    "convolution": Rule(
        shown_as="F.conv2d",
        operators=_CONVOLUTION,
        python=(
            "numpy.convolve",
            "numpy.correlate",
            "numpy._core.multiarray.correlate",  # the C functions under both: reached without the wrappers
            "numpy._core.multiarray.correlate2",
            "scipy.signal.convolve2d",
            "scipy.signal.correlate2d",
            "scipy.signal.convolve",
            "scipy.signal.correlate",
            "scipy.ndimage.convolve",
            "scipy.ndimage.correlate",
            *_classes("conv", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d"),
        ),
    ),
    "im2col": Rule(
        shown_as="F.unfold",
        operators=r"aten::(im2col|col2im)",
        python=("torch.nn.functional.unfold", "torch.nn.functional.fold", *_classes("fold", "Unfold", "Fold")),
    ),
    "padding": Rule(
        shown_as="F.pad",
        operators=r"aten::(constant_pad_nd|pad|_pad_enum|_pad_circular|(reflection|replication)_pad[123]d(_backward)?)",
        python=(
            "torch.nn.functional.pad", "numpy.pad",
            *_classes("padding", "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "CircularPad2d"),
        ),
    ),
    "pooling": Rule(
        shown_as="F.max_pool2d",
        operators=_POOLING,
        python=(
            *(f"torch.nn.functional.{pool}{d}d" for pool in _POOLS for d in (1, 2, 3)),
            *(f"torch.nn.functional.{name}" for name in (
                "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
                "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
                "fractional_max_pool2d", "fractional_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
                "max_unpool1d", "max_unpool2d", "max_unpool3d",
            )),
            *_classes("pooling", *(f"{kind}{d}d" for kind in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool", "LPPool", "MaxUnpool")
                                   for d in (1, 2, 3)), "FractionalMaxPool2d", "FractionalMaxPool3d"),
            "scipy.ndimage.maximum_filter", "scipy.ndimage.maximum_filter1d", "scipy.ndimage.uniform_filter", "scipy.ndimage.uniform_filter1d",
        ),
    ),
    "linear": Rule(
        shown_as="F.linear",
        operators=_LINEAR,
        python=("torch.nn.functional.linear", *_classes("linear", "Linear")),
    ),
    "autograd": Rule(
        shown_as="autograd",
        python=(
            "torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.autograd.functional",
            "torch.autograd.graph._engine_run_backward", "torch.autograd.forward_ad.make_dual",
            *(f"torch.func.{name}" for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")),
            "torch.autograd.variable.Variable._execution_engine",  # the C engine every backward pass runs in
            "torch._C._ImperativeEngine",  # ... and its class, which makes a fresh one
        ),
    ),
    "nn.init": Rule(
        shown_as="torch.nn.init",
        python=("torch.nn.init", "torch.nn.modules.conv._ConvNd.reset_parameters"),
    ),
}

ALIASES = {"F.": "torch.nn.functional.", "nn.": "torch.nn.", "np.": "numpy."}
OPERATOR_NAMESPACES = ("aten", "prims", "prim", "quantized", "_quantized", "mkldnn", "mkldnn_prepacked", "onednn", "mkl", "sparse")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(\.\*)?")
_OPERATOR = re.compile(r"(?P<namespace>[A-Za-z_]\w*)(::|\.)(?P<operator>[A-Za-z_*][\w*]*)")


class UnknownName(ValueError):
    """A forbidden name that names nothing; the message says why, for people."""


def expand(name: str) -> str:
    """``F.pad`` -> ``torch.nn.functional.pad``, ``nn.Conv2d`` -> ``torch.nn.Conv2d``, ``np.pad`` -> ``numpy.pad``."""
    for short, long in ALIASES.items():
        if name.startswith(short):
            return long + name.removeprefix(short)
    return name


def rule_for(name: object) -> Rule:
    """The rule a forbidden name stands for (``UnknownName`` when it cannot be one); imports nothing."""
    if not isinstance(name, str):
        raise UnknownName(f"{name!r} is not a name: write it as a string, e.g. \"F.conv2d\"")
    if name in FAMILIES:
        return FAMILIES[name]
    if (operator := _OPERATOR.fullmatch(name)) and ("::" in name or operator["namespace"] in OPERATOR_NAMESPACES):
        namespace, what = operator["namespace"], operator["operator"]
        return Rule(shown_as=f"{namespace}.{what}", operators=rf"{namespace}::" + what.replace("*", r"\w*"))
    if "." not in name:
        raise UnknownName(f"{name!r} is no family of forbidden calls ({', '.join(FAMILIES)}) and no dotted name (F.conv2d, aten.conv2d)")
    if not _DOTTED.fullmatch(name):
        raise UnknownName(f"{name!r} is not a dotted Python name (torch.nn.functional.pad, nn.Conv2d, np.pad) nor an operator (aten.conv2d)")
    return Rule(shown_as=name, python=(expand(name),))


def resolve(names: Iterable[object]) -> tuple[Rule, ...]:
    """The rules of an assignment's ``forbidden`` names, in their order, each once (``UnknownName`` for the first bad one)."""
    return tuple(dict.fromkeys(rule_for(name) for name in names))


# --- where the named Python objects are (modules are imported only with ``load``) ------------------------------


def _owner(dotted: str, load: bool) -> tuple[object, list[str]] | None:
    """The longest loaded (or, with ``load``, importable) module that starts ``dotted``, and the attribute path after it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        if module_name in sys.modules:
            return sys.modules[module_name], parts[cut:]
        if load:
            try:
                return importlib.import_module(module_name), parts[cut:]
            except ImportError:
                continue
    return None


def _functions_of(module: types.ModuleType) -> list[tuple[str, object]]:
    """The functions a module defines itself (not those it imported)."""
    return [(name, member) for name, member in list(vars(module).items())
            if isinstance(member, types.FunctionType) and member.__module__ == module.__name__]  # fmt: skip


def python_targets(dotted: str, load: bool = False) -> list[tuple[object, str, object, str]]:
    """``(owner, attribute, object, caught)`` for each thing a dotted path forbids; empty while its module is not loaded.

    A function or method is itself (on its module or class); a module or
    ``pkg.mod.*`` is every function it defines; a class is its ``__init__`` on
    that class, so constructing it (or a subclass) is what is caught, except a
    C type, whose attribute on its module stands for it. ``caught`` names it
    as a failure message shows it.
    """
    found = _owner(dotted, load)
    if found is None:
        return []
    owner, path = found
    if path[-1:] == ["*"]:
        path = path[:-1]
        dotted = dotted.removesuffix(".*")
    for attr in path[:-1]:
        owner = getattr(owner, attr, None)
        if owner is None:
            return []
    if path:
        target = getattr(owner, path[-1], None)
        if target is None:
            return []
    else:
        target = owner
    if isinstance(target, types.ModuleType):
        return [(target, name, function, f"{dotted}.{name}") for name, function in _functions_of(target)]
    if isinstance(target, type) and target.__flags__ & (1 << 9):  # Py_TPFLAGS_HEAPTYPE: a class of Python's
        return [(target, "__init__", target.__init__, dotted)]
    return [(owner, path[-1], target, dotted)]


def unresolvable(name: str) -> str | None:
    """Why ``name`` names nothing in this environment (imports what it names: torch, numpy, scipy), or ``None``."""
    if name in FAMILIES:
        return None
    try:
        rule = rule_for(name)
    except UnknownName as exc:
        return str(exc)
    if rule.operators:
        import torch

        if not any(rule.forbids(op.split(".")[0]) for op in torch._C._dispatch_get_all_op_names()):
            return f"no dispatcher operator is called {rule.shown_as.replace('.', '::', 1)}"
    for dotted in rule.python:
        if _owner(dotted, load=True) is None:
            return f"no module {dotted.split('.')[0]!r} can be imported here"
        if not python_targets(dotted, load=True) and not dotted.endswith("*"):
            owner, path = _owner(dotted, load=True)  # type: ignore[misc]
            return f"{getattr(owner, '__name__', owner)} has no {'.'.join(path)!r}"
    return None


@dataclass(frozen=True)
class Violation:
    """A forbidden call seen while student code ran."""

    shown_as: str  # how the rule names it to students: "F.conv2d"
    caught: str  # what was actually called: "aten.convolution"

    def message(self) -> str:
        """The sentence a student reads, naming what the student wrote where it is known (``nn.ZeroPad2d``, not ``F.pad``)."""
        if self.caught == self.shown_as:
            return f"`{self.shown_as}` is not allowed in this exercise: implement it yourself"
        if self.caught.split(".")[0] in OPERATOR_NAMESPACES:  # an operator: the student's own words are not known
            stem = re.sub(r"\d+d$", "", self.shown_as.rpartition(".")[2])  # conv2d -> conv, max_pool2d -> max_pool
            if stem in self.caught:  # the call the rule is shown as (aten.convolution for F.conv2d)
                return f"`{self.shown_as}` is not allowed in this exercise: implement it yourself (caught `{self.caught}`)"
            return f"`{self.caught}` is not allowed in this exercise (a call of `{self.shown_as}`'s family): implement it yourself"
        return f"`{self.caught}` is not allowed in this exercise (it does the work of `{self.shown_as}`): implement it yourself"


_SHORT = (("torch.nn.functional.", "F."), ("torch.nn.modules.conv.", "nn."), ("torch.nn.modules.padding.", "nn."),
          ("torch.nn.modules.fold.", "nn."), ("torch.nn.modules.pooling.", "nn."), ("torch.nn.modules.linear.", "nn."))  # fmt: skip


def short_name(dotted: str) -> str:
    """``torch.nn.functional.pad`` -> ``F.pad``, ``torch.nn.modules.padding.ZeroPad2d.__init__`` -> ``nn.ZeroPad2d``."""
    name = dotted.removesuffix(".__init__")
    for long, short in _SHORT:
        name = name.replace(long, short)
    return re.sub(r"^torch\.nn\.(?=[A-Z])", "nn.", name)


def main(names: list[str]) -> None:
    """``python -m autograder.forbidden NAME...``: a JSON object of each unresolvable name and why (``{}``: all resolve)."""
    problems = {name: why for name in names if (why := unresolvable(name)) is not None}
    print(json.dumps(problems))


if __name__ == "__main__":
    main(sys.argv[1:])
