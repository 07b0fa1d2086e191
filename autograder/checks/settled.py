"""Property checks on a stub stop at their first example: ``pytest_runtest_call``, a hook of the ``convgrade`` plugin.

A failure that no example changes (a stub's ``NotImplementedError``, a module
that does not import) is carried past Hypothesis's search at once, instead of
being shrunk for seconds per property test to find what the first example
said already. Self-checks only: a batch run replays recorded examples
(``autograder.checks.replay``) without shrinking.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from autograder.checks.context import session_of
from autograder.student import CheckFailure, calls


class _Settled(BaseException):
    """A property test's failure that no other example changes, carried past Hypothesis's search.

    Not an ``Exception``: Hypothesis lets it through at once instead of
    shrinking, which on a stub costs seconds per property test and finds nothing
    a student needs (``not implemented yet`` is the whole story).
    """

    def __init__(self, failure: Exception) -> None:
        super().__init__()
        self.failure = failure


def _settled(failure: Exception, latest_before: object) -> bool:
    """Whether ``failure`` fails the check whatever the example: a stub, or a module that cannot be called at all.

    The latter fails before any call starts (the module does not import, lacks
    the function, or a function that hung is not called again), so the check's
    latest call is still the one from before the example.
    """
    log = calls()
    if isinstance(failure, NotImplementedError) and log.raised(failure) is not None:
        return True
    return isinstance(failure, CheckFailure) and log.latest is latest_before


def _stopping_when_settled(test: Callable[..., object]) -> Callable[..., object]:
    """``test`` (a property test's body) raising ``_Settled`` for a failure no example changes."""

    @functools.wraps(test)
    def example(*args: object, **kwargs: object) -> object:
        before = calls().latest
        try:
            return test(*args, **kwargs)
        except Exception as failure:
            if _settled(failure, before):
                raise _Settled(failure) from None
            raise

    return example


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """A property check in a self-check stops at its first example when the failure cannot depend on it.

    A batch run replays recorded examples instead (``autograder.checks.replay``), without shrinking.
    """
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None or "student" not in getattr(item, "fixturenames", ()) or session_of(item.config).batch:
        return (yield)
    body = handle.inner_test
    handle.inner_test = _stopping_when_settled(body)
    try:
        return (yield)
    except _Settled as settled:
        raise settled.failure from None
    finally:
        handle.inner_test = body
