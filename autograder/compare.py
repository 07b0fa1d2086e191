"""Compare a student's result with the expected one, and say what differs.

``assert_same(got, expected)`` checks, in this order: the exact type (a real
``torch.Tensor``, not a subclass or an object with a custom ``__eq__``), the
shape, the dtype, then the values with a tolerance suited to the dtype. The
failure's first line is a one-line reason; the lines after it give the call,
the shapes, where the first differences are, and, when a known mistake explains
the result, which one.

``error_cases(valid=..., expected=...)`` groups a function's error cases in one
check, each case worth an equal share of its points; ``expect_error`` is one
case alone. Both first make a valid call and compare its result: an error case
pays only when the function also works (a module that raises for everything
earns nothing for raising).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from autograder import describe
from autograder.mistakes import FLOAT32_PRECISION, SIGN_FLIPPED, TRANSPOSED
from autograder.sandbox.wire import Foreign
from autograder.student import CheckFailure, PartialCredit, call_for, calls, student_call_of

# (rtol, atol): |got - expected| <= atol * scale + rtol * |expected|, where
# scale = max(1, max |expected|), so large sums are not held to a tighter
# absolute bound than their float precision allows.
TOLERANCE: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
    torch.float32: (1e-4, 1e-5),
    torch.float64: (1e-9, 1e-11),
}
FLOAT_TOLERANCE = 1e-9  # relative, for Python floats
SHOW_DIFFERENCES = 5
SHOW_WHOLE = 24  # tensors this small are shown whole


def assert_same(
    got: Any,
    expected: Any,
    *,
    mistakes: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Fail with a student-readable message unless ``got`` matches ``expected``.

    ``expected`` is a tensor, an int, a float, or a tuple/list of those.
    ``mistakes`` maps a known mistake (a phrase, see ``autograder.mistakes``)
    to the result that mistake would give; a failure names the one that fits.
    Pass a function returning that mapping (``mistakes=lambda: {...}``) when the
    wrong results cost work to compute: it is called only after a mismatch.
    """
    record = call_for(got)
    mismatch = _mismatch(got, expected, rtol=rtol, atol=atol)
    if mismatch is None:
        return
    headline, details = mismatch
    known = mistakes() if callable(mistakes) else mistakes
    mistake = _diagnose(got, expected, known or {}, rtol=rtol, atol=atol)
    lines = [headline + (f"; likely {mistake.split(':')[0]}" if mistake else "")]
    if record is not None:
        lines.append(f"  call:     {record.text}")
    lines += [f"  {line}" for line in details]
    if mistake:
        lines.append(f"  likely mistake: {mistake}")
    raise CheckFailure("\n".join(lines))


VALID_CALL_NOTE = "  error cases earn points only when the function also works on a valid call"


def works_on_valid_input(valid: Callable[[], Any], expected: Any, *, rtol: float | None = None, atol: float | None = None) -> None:
    """The student's valid call ``valid()`` must return ``expected`` (``assert_same``), or the error check earns nothing.

    A function that raises for every input would otherwise pass every error
    case; this is why ``error_cases`` and ``expect_error`` require it. Fails
    with ``raises for valid input too: pad2d(input=float32[1, 1, 4, 4], padding=1)
    raised ValueError`` (the call by dtype and shape alone, as a hidden check may
    show it), or with what ``assert_same`` found wrong in the result.
    """
    log = calls()
    before = log.latest
    try:
        got = valid()
    except NotImplementedError:
        raise  # a stub: the whole check says "not implemented yet"
    except CheckFailure:
        raise  # a forbidden call, a timeout, a crash: already worded for students
    except Exception as exc:  # noqa: BLE001 - the student's exception, reported; any other is the check's own bug
        raising = log.raised(exc)
        if raising is None:
            raise
        raise CheckFailure(
            f"raises for valid input too: {raising.case} raised {type(exc).__name__}\n"
            f"  call:    {raising.text}\n  message: {_first_line(exc)}\n{VALID_CALL_NOTE}"
        ) from None
    if log.latest is before:
        raise TypeError("valid= must call the student's function (e.g. valid=lambda: student.pad2d(x, 1))")
    try:
        assert_same(got, expected, rtol=rtol, atol=atol)
    except CheckFailure as failure:
        headline, *details = str(failure).splitlines()
        raise CheckFailure("\n".join([f"wrong result for valid input: {headline}", *details, VALID_CALL_NOTE])) from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, cut to ``limit`` characters."""
    line = next(iter(str(exc).splitlines()), "")
    return line if len(line) <= limit else f"{line[:limit]}..."


@contextmanager
def _raises(error: type[Exception], *, mentions: str | None = None) -> Iterator[None]:
    """The student's call inside the block must raise ``error``, naming ``mentions``."""
    wanted = f"{error.__name__}" + (f" naming `{mentions}`" if mentions else "")
    try:
        yield
    except NotImplementedError:
        raise
    except error as exc:
        if mentions and mentions.lower() not in str(exc).lower():
            call = student_call_of(exc) or "the call"
            raise CheckFailure(
                f"raised {type(exc).__name__} but the message does not name `{mentions}`\n"
                f"  call:    {call}\n  message: {exc}"
            ) from None
        return
    except Exception as exc:  # noqa: BLE001 - the wrong kind of error, reported
        call = student_call_of(exc)
        if call is None:
            raise
        raise CheckFailure(
            f"expected {wanted}, got {type(exc).__name__}: {exc}\n  call: {call}"
        ) from None
    record = call_for(None)
    call = record.text if record else "the call"
    returned = describe.value(record.result) if record else "normally"
    raise CheckFailure(f"expected {wanted}, but it returned {returned}\n  call: {call}")


@contextmanager
def expect_error(
    error: type[Exception],
    *,
    valid: Callable[[], Any],
    expected: Any,
    mentions: str | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> Iterator[None]:
    """One error case as a check: ``valid()`` must return ``expected``, then the call inside the block must raise ``error`` naming ``mentions``."""
    works_on_valid_input(valid, expected, rtol=rtol, atol=atol)
    with _raises(error, mentions=mentions):
        yield


class ErrorCases:
    """The error cases of one check: ``with case(ValueError, mentions="padding", case="negative padding"): ...``."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[tuple[str, CheckFailure]] = []

    @contextmanager
    def __call__(self, error: type[Exception], *, case: str, mentions: str | None = None) -> Iterator[None]:
        """One case: the student's call inside the block must raise ``error`` naming ``mentions``."""
        try:
            with _raises(error, mentions=mentions):
                yield
        except NotImplementedError:
            raise  # a stub: the whole check says "not implemented yet"
        except CheckFailure as failure:
            self.failed.append((case, failure))
        else:
            self.passed.append(case)


@contextmanager
def error_cases(
    *, valid: Callable[[], Any], expected: Any, rtol: float | None = None, atol: float | None = None
) -> Iterator[ErrorCases]:
    """A function's error cases in one check, each worth an equal share of its points, once it works on a valid call.

    ::

        x = randn(1, 1, 4, 4)
        with error_cases(valid=lambda: student.pad2d(x, 1), expected=F.pad(x, (1, 1, 1, 1))) as case:
            with case(ValueError, mentions="padding", case="negative padding"):
                student.pad2d(x, -1)
            with case(ValueError, mentions="mode", case="an unknown mode"):
                student.pad2d(x, 1, mode="symmetric")

    ``valid`` makes one valid call of the same function and ``expected`` is its
    right result (compared by ``assert_same``, with ``rtol``/``atol`` if given):
    a wrong or raising valid call fails the check with no points, before any
    case runs. When some cases fail, the check fails with the first failure
    explained, the others named, and the share of cases that passed as partial
    credit.
    """
    works_on_valid_input(valid, expected, rtol=rtol, atol=atol)
    cases = ErrorCases()
    yield cases
    if not cases.failed:
        return
    total = len(cases.passed) + len(cases.failed)
    (first_case, first), *others = cases.failed
    headline = f"{len(cases.failed)} of {total} error cases fail; {first_case}: {first.reason}"
    lines = [headline, *str(first).splitlines()[1:]]
    if others:
        lines.append(f"  also failing: {'; '.join(case for case, _ in others)}")
    if cases.passed:
        lines.append(f"  passing: {'; '.join(cases.passed)}")
    raise PartialCredit("\n".join(lines), len(cases.passed) / total)


def _mismatch(got: Any, expected: Any, *, rtol: float | None, atol: float | None) -> tuple[str, list[str]] | None:
    """``None`` when they match, else (headline, detail lines)."""
    if isinstance(expected, torch.Tensor):
        return _tensor_mismatch(got, expected, rtol=rtol, atol=atol)
    if isinstance(expected, (tuple, list)):
        if type(got) not in (tuple, list, torch.Size):
            return f"returned {_kind(got)}, expected a {type(expected).__name__}", [f"expected: {expected!r}"]
        if len(got) != len(expected):
            return f"returned {len(got)} items, expected {len(expected)}", [
                f"expected: {describe.value(expected)}",
                f"got:      {describe.value(got)}",
            ]
        for i, (g, e) in enumerate(zip(got, expected)):
            inner = _mismatch(g, e, rtol=rtol, atol=atol)
            if inner is not None:
                headline, details = inner
                return f"item {i}: {headline}", [
                    f"expected: {describe.value(expected)}",
                    f"got:      {describe.value(got)}",
                    *details,
                ]
        return None
    if isinstance(expected, bool) or isinstance(expected, int):
        if type(got) is not int:
            return f"returned {_kind(got)}, expected an int", [_int_hint(got)]
        if got != expected:
            return f"returned {got}, expected {expected}", []
        return None
    if isinstance(expected, float):
        if type(got) not in (float, int):
            return f"returned {_kind(got)}, expected a float", ["return a Python float, e.g. float(value)"]
        tolerance = rtol if rtol is not None else FLOAT_TOLERANCE
        if not math.isclose(got, expected, rel_tol=tolerance, abs_tol=atol or 0.0):
            return f"returned {describe.number(got)}, expected {describe.number(expected)}", [
                f"tolerance: relative {tolerance:g}"
            ]
        return None
    raise TypeError(f"assert_same cannot compare with a {type(expected).__name__}")


def _kind(obj: Any) -> str:
    """``a tensor float32[3]``, ``None``, ``a numpy.int64``."""
    if obj is None:
        return "None"
    if isinstance(obj, Foreign):  # what a sandboxed submission returned, by name
        return f"a {obj.type_name}"
    if isinstance(obj, torch.Tensor):
        return f"a tensor {describe.value(obj)}"
    kind = type(obj)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}."
    return f"a {module}{kind.__qualname__}"


def _int_hint(got: Any) -> str:
    if isinstance(got, float):
        return "use integer arithmetic (// instead of /) or int(...)"
    return "return a Python int, e.g. int(value)"


def _tensor_mismatch(got: Any, expected: torch.Tensor, *, rtol: float | None, atol: float | None) -> tuple[str, list[str]] | None:
    if type(got) is not torch.Tensor:
        if isinstance(got, torch.Tensor) or (isinstance(got, Foreign) and got.tensor is not None):
            return (
                f"returned a {getattr(got, 'type_name', type(got).__name__)}, a subclass of torch.Tensor; return a plain torch.Tensor",
                [f"expected: {describe.tensor_spec(expected)}"],
            )
        return f"returned {_kind(got)}, expected a torch.Tensor", [f"expected: {describe.tensor_spec(expected)}"]
    specs = [f"expected: {describe.tensor_spec(expected)}", f"got:      {describe.tensor_spec(got)}"]
    if got.shape != expected.shape:
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}", specs
    if got.dtype != expected.dtype:
        return (
            f"wrong dtype: expected {describe.dtype_name(expected.dtype)}, got {describe.dtype_name(got.dtype)}",
            [*specs, "the result keeps the input's dtype: create new tensors with dtype=input.dtype"],
        )
    bad = _differs(got, expected, rtol=rtol, atol=atol)
    if not bool(bad.any()):
        return None
    count, total = int(bad.sum()), expected.numel()
    difference = (got.double() - expected.double()).abs()
    difference = torch.where(torch.isnan(difference), torch.full_like(difference, math.inf), difference)
    worst = _index(difference.argmax().item(), expected.shape)
    nan = int(torch.isnan(got).sum())
    headline = f"wrong values: {count} of {total} elements differ"
    headline += f" ({nan} NaN)" if nan else f", the largest by {describe.number(difference.max().item())} at {worst}"
    rows = [
        f"    {_index(flat, expected.shape)}: {describe.number(expected.flatten()[flat].item())} vs {describe.number(got.flatten()[flat].item())}"
        for flat in bad.flatten().nonzero().flatten()[:SHOW_DIFFERENCES].tolist()
    ]
    r, a = _tolerance(expected.dtype, rtol, atol)
    whole = []
    if expected.numel() <= SHOW_WHOLE and expected.dim() <= 2:
        whole = [f"expected values: {_values(expected)}", f"got values:      {_values(got)}"]
    return headline, [
        *specs,
        *whole,
        "first differences (index: expected vs got):",
        *rows,
        f"tolerance: |got - expected| <= {a:g} * max(1, max|expected|) + {r:g} * |expected|",
    ]


def _values(tensor: torch.Tensor) -> str:
    """``[[3, 2, 1], [0.5, -1.25, 0]]``: every value, in at most 4 significant digits."""

    def show(item: object) -> str:
        return f"[{', '.join(show(i) for i in item)}]" if isinstance(item, list) else f"{item:.4g}"

    return show(tensor.tolist())


def _tolerance(dtype: torch.dtype, rtol: float | None, atol: float | None) -> tuple[float, float]:
    default_r, default_a = TOLERANCE.get(dtype, (0.0, 0.0))
    return (default_r if rtol is None else rtol), (default_a if atol is None else atol)


def _differs(got: torch.Tensor, expected: torch.Tensor, *, rtol: float | None, atol: float | None) -> torch.Tensor:
    """A bool mask of the elements outside the tolerance (NaN always differs)."""
    if not expected.is_floating_point():
        return got != expected
    r, a = _tolerance(expected.dtype, rtol, atol)
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    return ~torch.isclose(got, expected, rtol=r, atol=a * scale)


def _index(flat: int, shape: torch.Size) -> list[int]:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return index[::-1]


def _matches(got: Any, candidate: Any, *, rtol: float | None, atol: float | None) -> bool:
    try:
        return _mismatch(got, candidate, rtol=rtol, atol=atol) is None
    except TypeError:
        return False


def _diagnose(got: Any, expected: Any, mistakes: Mapping[str, Any], *, rtol: float | None, atol: float | None) -> str | None:
    """The known mistake whose result ``got`` matches, if any."""
    for mistake, result in mistakes.items():
        if _matches(got, result, rtol=rtol, atol=atol):
            return mistake
    if not (isinstance(expected, torch.Tensor) and type(got) is torch.Tensor and expected.is_floating_point()):
        return None
    if got.shape == expected.shape and _matches(got, -expected, rtol=rtol, atol=atol) and bool(expected.any()):
        return SIGN_FLIPPED
    if expected.dim() >= 2 and got.shape == expected.mT.shape:
        if _matches(got, expected.mT.contiguous(), rtol=rtol, atol=atol):
            return TRANSPOSED
    if expected.dtype == torch.float64 and got.dtype == torch.float64:
        r, a = TOLERANCE[torch.float32]
        # only an error beyond float64 precision is float32 arithmetic; one within it is the last bits of another order
        if _matches(got, expected, rtol=r, atol=a) and not _matches(got, expected, rtol=None, atol=None):
            return FLOAT32_PRECISION
    return None
