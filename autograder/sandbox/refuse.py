"""What a sandboxed child refuses to run: the assignment's forbidden calls, and threads.

The monitor (``autograder.sandbox.monitor``) watches a call from inside the
student's process, and what lives there the student's code can switch off. So
when a class is graded, the child makes the forbidden calls impossible before
it imports the student's module, and its report of them only ever costs the
student points (a submission that hides its report gains nothing: the
forbidden computation never ran):

- operators: every dispatcher operator in a rule's family
  (``autograder.forbidden.Rule.operators``: ``aten::convolution``,
  ``aten::convolution_backward``, ``quantized::conv2d``...) gets a kernel that
  records the call and raises ``ForbiddenCall``, for the CPU backends and the
  composite keys. Every route, alias, thread or ``functools.partial`` reaches the
  same dispatch table; the C++ library that holds these kernels is kept alive
  without a Python reference to it, so no Python code can unregister it.
- functions: every Python function a rule names (``numpy.pad``,
  ``torch.nn.init.*``), and every C function it names by path (numpy's
  ``correlate``), is replaced, in every loaded module and class that holds it,
  by one that records and raises; a Python function's own code is replaced
  too, so a reference a library took earlier finds the refusal. A module a
  rule names that is not loaded yet (``scipy.signal``) is patched as it loads.
- threads (``refuse_threads``): a seccomp filter has the kernel refuse to start a thread
  (``clone`` with ``CLONE_THREAD``: EAGAIN; ``clone3``: ENOSYS, so the C
  library falls back to ``clone``), so nothing runs beside the called thread.

What this does not stop: a submission that carries its own copy of a library
function's source, or that re-imports a C extension to get a fresh copy of a
refused function, computes what it wrote itself as far as the sandbox can
tell; ``autograder.grading.review`` flags such code for an instructor to read.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import platform
import struct
import sys
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from autograder.forbidden import Rule, Violation, python_targets, short_name


class ForbiddenCall(RuntimeError):
    """Raised in the sandboxed child by a refused call."""


class Refusals:
    """The forbidden calls refused during one call of a student's function (``run_call``'s ``watch``)."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.tampered = False  # nothing in the child to tamper with: a refusal cannot be undone from Python

    def __enter__(self) -> Refusals:
        self.violations.clear()
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


REFUSALS = Refusals()  # the child's one record: refused calls made outside a call (at import) stay in it until the first


def refused(shown_as: str, caught: str) -> None:
    """Record a refused call and raise ``ForbiddenCall`` (every refusing kernel and function ends here)."""
    violation = Violation(shown_as, caught)
    if violation not in REFUSALS.violations:
        REFUSALS.violations.append(violation)
    raise ForbiddenCall(violation.message())


def refuse(rules: Iterable[Rule]) -> None:
    """Make every call ``rules`` forbid raise ``ForbiddenCall``, and refuse threads (before the student's module loads).

    Where two rules cover one call, the first named in ``assignment.toml`` names it (the later ones are carried out first).
    """
    rules = tuple(rules)
    for rule in reversed(rules):
        plan_for(rule).carry_out()
    later = {dotted.rsplit(".", 1)[0] for rule in rules for dotted in plan_for(rule).not_loaded} - set(sys.modules)
    if later:
        sys.meta_path.insert(0, _PatchOnImport(later, list(reversed(rules))))
    refuse_threads()


def prepare(rules: Iterable[Rule]) -> None:
    """Work out every rule's plan ahead (in the zygote, once): a child then only carries one out (a few milliseconds)."""
    for rule in rules:
        plan_for(rule)


@dataclass
class _Plan:
    """What refusing one rule takes: kernels to register, attributes to replace, code to swap."""

    kernels: list[tuple[str, str, str, Callable[..., None]]] = field(default_factory=list)  # namespace, operator, key, kernel
    attributes: list[tuple[object, str, object]] = field(default_factory=list)  # (module namespace or class, name, refusal)
    codes: list[tuple[types.FunctionType, types.CodeType]] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)  # the rule's paths whose module is not loaded yet

    def carry_out(self) -> None:
        libraries: dict[str, Any] = {}
        with warnings.catch_warnings():  # "overriding a previously registered kernel": that is the point
            warnings.simplefilter("ignore")
            for namespace, operator, key, kernel in self.kernels:
                if namespace not in libraries:
                    libraries[namespace] = torch._C._dispatch_library("IMPL", namespace, "", "", 0)
                libraries[namespace].impl(operator, key, kernel, False)
        for library in libraries.values():
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(library))  # kept alive with no Python reference: never reset
        for owner, name, refusal in self.attributes:
            if type(owner) is dict:
                owner[name] = refusal
                continue
            try:
                setattr(owner, name, refusal)
            except (AttributeError, TypeError):  # a C type's attribute: its module-level aliases are still replaced
                pass
        for function, code in self.codes:
            function.__code__ = code


@functools.cache
def plan_for(rule: Rule) -> _Plan:
    """How to refuse ``rule`` in this process as it is now (remembered: the zygote's children all start from it)."""
    plan = _Plan()
    for name in operators(rule):
        namespace, operator = name.split("::")
        kernel = _refusing_kernel(rule.shown_as, name.split(".")[0].replace("::", "."))
        plan.kernels += [(namespace, operator, key, kernel) for key in KERNEL_KEYS if torch._C._dispatch_has_kernel_for_dispatch_key(name, key)]
    replacements: dict[int, tuple[object, object]] = {}  # id of an original -> (the original, its refusal)
    for dotted in rule.python:
        targets = python_targets(dotted)
        if not targets:
            plan.not_loaded.append(dotted)
        for owner, attr, original, caught in targets:
            refusal = _refusal_for(original, rule.shown_as, short_name(caught), attr)
            plan.attributes.append((owner, attr, refusal))
            if isinstance(owner, type) and attr not in vars(owner):
                continue  # an inherited method (MaxPool2d's __init__ is _MaxPoolNd's): refused on this class only
            for each in (original, _implementation(original)):
                replacements[id(each)] = (each, refusal)
                if isinstance(each, types.FunctionType) and not each.__code__.co_freevars and isinstance(refusal, types.FunctionType):
                    plan.codes.append((each, refusal.__code__))
    for module in list(sys.modules.values()):  # aliases: `from numpy import pad` in a library, done before now
        namespace = getattr(module, "__dict__", None)
        if type(namespace) is dict:
            plan.attributes += [
                (namespace, key, replacements[id(value)][1])
                for key, value in namespace.items()
                if id(value) in replacements and value is replacements[id(value)][0]
            ]
    return plan


# --- operators -----------------------------------------------------------------------------------------------

# The keys a CPU tensor of any layout dispatches to, and the composite keys that stand in for them: each operator's
# kernel under each of these, where it has one, is replaced.
KERNEL_KEYS = ("CPU", "QuantizedCPU", "MkldnnCPU", "SparseCPU", "CompositeExplicitAutograd", "CompositeImplicitAutograd")


def operators(rule: Rule) -> list[str]:
    """The dispatcher's operators in ``rule``'s family, every overload (``aten::conv2d.padding``)."""
    return sorted(name for name in torch._C._dispatch_get_all_op_names() if rule.forbids(name.split(".")[0]))


def _refusing_kernel(shown_as: str, caught: str) -> Callable[..., None]:
    """A kernel that records and raises with what it holds itself: patching this module's names changes nothing of it."""
    violation, record, error = Violation(shown_as, caught), REFUSALS.violations, ForbiddenCall

    def kernel(*args: object, **kwargs: object) -> None:
        if violation not in record:
            record.append(violation)
        raise error(violation.message())

    return kernel


# --- Python and C functions ----------------------------------------------------------------------------------


def _implementation(function: object) -> object:
    """What a wrapper calls: numpy's array-function dispatchers keep it in ``_implementation``."""
    return getattr(function, "_implementation", function)


def _refusal_for(original: object, shown_as: str, caught: str, name: str) -> object:
    """What replaces ``original``: a refusing function, or, for an object that is not called itself (the autograd engine), one whose every attribute is."""
    if callable(original):
        return _refusing_function(shown_as, caught, name)
    refusal = _refusing_function(shown_as, caught, name)
    return type("Refused", (), {"__getattr__": lambda self, attribute: refusal, "__call__": refusal, "__slots__": ()})()


def _refusing_function(shown_as: str, caught: str, name: str) -> types.FunctionType:
    """A function named ``name`` that calls ``refused``: its code holds its words as constants, and names no global."""
    source = (
        f"def {name}(*args, **kwargs):\n"
        f"    from autograder.sandbox.refuse import refused\n"
        f"    refused({shown_as!r}, {caught!r})\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<refused {caught}>", "exec"), namespace)  # noqa: S102 - our own two lines
    return namespace[name]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Refuses the functions of a module a rule names as it is imported (``scipy.signal`` is not loaded before the student's code)."""

    def __init__(self, modules: set[str], rules: list[Rule]) -> None:
        self.modules, self.rules = modules, rules

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.modules:
            return None
        sys.meta_path.remove(self)  # find it the ordinary way
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        load, rules = spec.loader.exec_module, self.rules

        def exec_module(module: types.ModuleType) -> None:
            load(module)
            sys.modules[name] = module
            for rule in rules:
                plan_for.__wrapped__(rule).carry_out()  # worked out afresh: the module is new

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


# --- threads -------------------------------------------------------------------------------------------------

_ARCHES = {"x86_64": (0xC000003E, 56), "aarch64": (0xC00000B7, 220)}  # AUDIT_ARCH_*, __NR_clone
_NR_CLONE3 = 435  # the same on both
_CLONE_THREAD = 0x00010000


def refuse_threads() -> bool:
    """Install a seccomp filter that refuses to start threads in this process and its children; whether it could."""
    if platform.machine() not in _ARCHES:
        return False
    arch, nr_clone = _ARCHES[platform.machine()]
    load_word, jump_equal, jump_set, give = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JSET|K, BPF_RET|K
    allow, refuse_with = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | errno
    program = [  # seccomp_data: nr at 0, arch at 4, args[0] (low half) at 16
        (load_word, 0, 0, 4),
        (jump_equal, 0, 5, arch),  # another ABI: allow (7)
        (load_word, 0, 0, 0),
        (jump_equal, 4, 0, _NR_CLONE3),  # clone3: ENOSYS (8)
        (jump_equal, 0, 2, nr_clone),  # not clone: allow (7)
        (load_word, 0, 0, 16),
        (jump_set, 2, 0, _CLONE_THREAD),  # a thread: EAGAIN (9)
        (give, 0, 0, allow),
        (give, 0, 0, refuse_with | errno.ENOSYS),
        (give, 0, 0, refuse_with | errno.EAGAIN),
    ]
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    filter_program = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(filter_program), 0, 0) == 0
