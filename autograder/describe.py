"""Short, readable descriptions of values and calls, for failure messages.

A tensor is shown by dtype and shape (``float32[2, 3, 5, 7]``), small ones
with their values too; an object kept where the student's code runs (a
``Remote`` handle) by its type (``<SmallCNN>``, ``<object>`` where values are not
shown); everything else by a shortened ``repr``.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from autograder.sandbox.wire import Remote

_SHORT_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16"}


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``float32``."""
    return _SHORT_DTYPES.get(dtype, str(dtype).removeprefix("torch."))


def tensor_spec(tensor: torch.Tensor) -> str:
    """``float32[2, 3, 5, 7]``."""
    return f"{dtype_name(tensor.dtype)}[{', '.join(str(s) for s in tensor.shape)}]"


def number(value: float) -> str:
    """A float in at most 6 significant digits: ``0.512346``, ``1.2e-07``."""
    return f"{value:.6g}"


def value(obj: Any, *, limit: int = 80, values: bool = True) -> str:
    """Describe any argument or result in one short line (``values=False``: tensors by dtype and shape alone)."""
    if isinstance(obj, torch.Tensor):
        spec = tensor_spec(obj)
        if type(obj) is not torch.Tensor:
            spec = f"{type(obj).__name__}({spec})"
        if not values:
            return spec
        if obj.dim() == 0:
            spec += f" {number(obj.item())}" if obj.is_floating_point() else f" {obj.item()}"
        elif obj.numel() <= 4 and obj.dim() == 1:
            spec += f" [{', '.join(number(v) for v in obj.tolist())}]"
        return spec
    if isinstance(obj, torch.Generator):
        return "torch.Generator"
    if isinstance(obj, Remote):  # the student's object: its type is the student's text, shown only with values
        return f"<{obj.type_name}>" if values else "<object>"
    if isinstance(obj, (list, tuple)) and any(isinstance(item, torch.Tensor) for item in obj):
        inner = ", ".join(value(item, values=values) for item in obj[:4])
        more = ", ..." if len(obj) > 4 else ""
        return f"[{inner}{more}]" if isinstance(obj, list) else f"({inner}{more})"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return getattr(obj, "__name__", "a function")  # its repr holds an address: another each run
    if type(obj) is functools.partial:  # a function a check hands over (08's numerical_gradient): its arguments as above
        inner = [value(arg, values=values) for arg in obj.args] + [f"{key}={value(arg, values=values)}" for key, arg in obj.keywords.items()]
        return f"partial({', '.join([value(obj.func), *inner])})"
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call(
    function: str, args: Sequence[Any], kwargs: Mapping[str, Any], params: Sequence[str] = (), *,
    values: bool = True, target: Any = None,
) -> str:
    """``pad2d(input=float32[2, 3, 5, 7], padding=(1, 2, 3, 1), mode='reflect')``.

    Positional arguments are shown with their names from ``params`` (the
    function's parameter names, in order) where it has them; ``values=False``
    shows tensors by dtype and shape alone (what a hidden check may say).
    ``target``: the object whose method ``function`` is (``<SmallCNN>.parameters()``;
    ``__call__``: ``<SmallCNN>(x=...)``).
    """  # fmt: skip
    if target is not None:
        function = value(target, values=values) + ("" if function == "__call__" else f".{function}")
    names = [params[i] if i < len(params) else None for i in range(len(args))]
    parts = [f"{name}={value(arg, values=values)}" if name else value(arg, values=values) for name, arg in zip(names, args)]
    parts += [f"{key}={value(arg, values=values)}" for key, arg in kwargs.items()]
    return f"{function}({', '.join(parts)})"


def signature_of(function: Callable[..., Any]) -> inspect.Signature | None:
    """The function's signature, or ``None`` where Python cannot tell it."""
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None
