"""Test inputs: seeded tensors and Hypothesis strategies for convolution settings.

Every input a check uses comes from a seeded generator, so grading the same
submission twice gives the same scores.

A hidden check's inputs must not be learnable: while ``salted(salt)`` is in
force (the batch runner sets it around each hidden check, with the submission's
salt from the course secret, ``autograder.grading.secret``), ``randn(..., seed=N)``
draws from a seed mixed with the salt, and property tests' examples, drawn once
for the class, are replayed with every tensor ``randn`` drew in them drawn again
under the salt (``drawn_again``, ``autograder.checks.replay``). The same salt gives
the same inputs; another student's salt gives others. Visible checks, and every
run without a salt (a self-check, ``pytest solutions/``), keep the fixed seeds.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

_SALT: ContextVar[str | None] = ContextVar("convgrade_hidden_salt", default=None)


@contextmanager
def salted(salt: str | None) -> Iterator[None]:
    """Inputs drawn inside the block derive from ``salt`` too (``None``: the fixed seeds alone)."""
    token = _SALT.set(salt)
    try:
        yield
    finally:
        _SALT.reset(token)


def current_salt() -> str | None:
    """The salt in force: a hidden check's while it runs in a graded batch, else ``None``."""
    return _SALT.get()


def salted_seed(salt: str, seed: int | str) -> int:
    """A 63-bit seed from ``salt`` and ``seed``: keyed BLAKE2b, so one seed's draws say nothing of another's."""
    digest = hashlib.blake2b(str(seed).encode(), key=salt.encode()[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True)
class Drawn:
    """How ``randn`` made a tensor, kept on it (``tensor._convgrade_drawn``): enough to draw it again under another salt."""

    shape: tuple[int, ...]
    seed: int
    dtype: torch.dtype


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A standard-normal tensor, the same on every run for the same seed (and salt, in a hidden check)."""
    salt = _SALT.get()
    tensor = _standard_normal(shape, salted_seed(salt, seed) if salt is not None else seed, dtype)
    tensor._convgrade_drawn = Drawn(tuple(shape), seed, dtype)
    return tensor


def _standard_normal(shape: tuple[int, ...], seed: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def drawn_again(tensor: torch.Tensor) -> torch.Tensor | None:
    """``tensor`` as ``randn`` draws it under the salt in force, if ``randn`` made it and nothing changed it since; else ``None``.

    This is how a hidden property check's examples, drawn once for the whole
    class (``autograder.checks.replay``), still give every student values of
    their own: the shapes and settings are the class's, the values the student's.
    """
    drawn = tensor.__dict__.get("_convgrade_drawn")
    if not isinstance(drawn, Drawn) or tensor.shape != drawn.shape or tensor.dtype != drawn.dtype:
        return None
    if not torch.equal(tensor, _standard_normal(drawn.shape, drawn.seed, drawn.dtype)):
        return None  # drawn unsalted, then changed (a strategy that makes ties, say): its values are not the seed's alone
    return randn(*drawn.shape, seed=drawn.seed, dtype=drawn.dtype)


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; a pair stays as it is."""
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


@dataclass(frozen=True)
class ConvCase:
    """One valid convolution: input (N, C_in, H, W), weight (C_out, C_in, kh, kw), settings."""

    input: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    dilation: int | tuple[int, int]

    def kwargs(self) -> dict:
        """The settings as keyword arguments, for F.conv2d and the student's function alike."""
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}


@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, built once: ``conv_cases`` draws a dozen per case, and building one costs more than drawing it."""
    return st.integers(low, high)


@functools.cache
def _int_or_pair(low: int, high: int) -> st.SearchStrategy:
    return st.one_of(_ints(low, high), st.tuples(_ints(low, high), _ints(low, high)))


@functools.cache
def _sampled(values: tuple) -> st.SearchStrategy:
    return st.sampled_from(values)


_BOOLEANS = st.booleans()


@st.composite
def conv_cases(
    draw: st.DrawFn,
    *,
    stride: bool = False,
    padding: bool = False,
    dilation: bool = False,
    bias: bool = True,
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64),
    max_size: int = 9,
) -> ConvCase:
    """A random valid convolution; only the settings switched on vary from their defaults."""
    s = draw(_int_or_pair(1, 3)) if stride else 1
    p = draw(_int_or_pair(0, 2)) if padding else 0
    d = draw(_int_or_pair(1, 2)) if dilation else 1
    kh, kw = draw(_ints(1, 4)), draw(_ints(1, 4))
    (dh, dw), (ph, pw) = pair(d), pair(p)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h = draw(_ints(max(1, span_h - 2 * ph), max(span_h, max_size)))
    w = draw(_ints(max(1, span_w - 2 * pw), max(span_w, max_size)))
    n, c_in, c_out = draw(_ints(1, 3)), draw(_ints(1, 3)), draw(_ints(1, 4))
    dtype = draw(_sampled(dtypes))
    seed = draw(_ints(0, 2**16))
    with_bias = bias and draw(_BOOLEANS)
    return ConvCase(
        input=randn(n, c_in, h, w, seed=seed, dtype=dtype),
        weight=randn(c_out, c_in, kh, kw, seed=seed + 1, dtype=dtype),
        bias=randn(c_out, seed=seed + 2, dtype=dtype) if with_bias else None,
        stride=s,
        padding=p,
        dilation=d,
    )
