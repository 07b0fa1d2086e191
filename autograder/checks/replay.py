"""Property tests in a batch run: the examples are drawn once, then replayed for every submission.

With ``derandomize`` on, Hypothesis draws the same examples for every submission
whose checks pass, and stops at the first failing one (``--no-shrink``). Drawing
them costs more than most checks, so a batch run (``autograder.checks.batch.run_batch``)
asks Hypothesis once per property test for that sequence, by running the test
with a recorder in place of its body (``.hypothesis.inner_test``, which
Hypothesis lets plugins replace), and then runs the real body on each recorded
example in turn, stopping at the first failure, as Hypothesis would. The
verdict is the same; the failing example is named in a note, as Hypothesis
names it.

This holds because no check steers generation by its outcome (no ``assume``,
``target`` or ``st.data()``); ``tests/test_replay.py`` holds the course to it.

Given a ``folder``, the examples drawn are kept there too, so that the other
processes of the same ``convgrade grade`` run read them instead of drawing them
again. Only the grader's own processes write that folder (a private temporary
one), so what is in it is unpickled without a second thought.

A hidden check runs under its submission's salt (``autograder.inputs.salted``):
then Hypothesis draws from a seed derived from the salt and the test's node id
(``hypothesis.seed``'s attribute, which overrides ``derandomize``), once per seed
rather than once per run: every student has examples of their own, the same on
every rerun. No other submission replays them, so nothing is recorded:
Hypothesis runs the check itself (``run_salted``), each example checked as it is
drawn, and the first failure ends the run, the verdict a replay would give, for
the cost of the examples up to it. Hypothesis also mixes in literals from every
local module loaded so far; salted examples are drawn without them
(``no_local_constants``), so that they follow from the seed alone, whatever the
grading process happened to import before that student.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from autograder.atomic import atomic_write_bytes
from autograder.inputs import current_salt, salted_seed

Examples = list[dict[str, Any]]


class ReplayExamples:
    """A pytest plugin: ``pytest_pyfunc_call`` for Hypothesis tests, replaying recorded examples."""

    def __init__(self, folder: Path | None = None) -> None:
        self.examples: dict[str, Examples] = {}  # by node id: the run's tests do not change
        self.folder = folder  # where the processes of one run share what they drew

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        given = getattr(pyfuncitem.obj, "hypothesis", None)
        if given is None:
            return None
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        salt = current_salt()
        if salt is not None:
            run_salted(pyfuncitem.obj, args, seed=salted_seed(salt, pyfuncitem.nodeid))
            return True
        if pyfuncitem.nodeid not in self.examples:
            self.examples[pyfuncitem.nodeid] = self._shared(pyfuncitem.nodeid, lambda: record(pyfuncitem.obj, args))
        body = given.inner_test
        owner = () if pyfuncitem.instance is None else (pyfuncitem.instance,)
        for drawn in self.examples[pyfuncitem.nodeid]:
            example = fresh(drawn)  # a check may change its inputs; the next submission gets them fresh
            try:
                body(*owner, **args, **example)
            except BaseException as exc:
                shown = ", ".join(f"{key}={value!r}" for key, value in drawn.items())
                exc.add_note(f"Falsifying example: {pyfuncitem.originalname}({shown})")
                raise
        return True

    def _shared(self, nodeid: str, draw: Any) -> Examples:
        """The examples another process of this run drew, else ``draw()``'s, kept for the others."""
        if self.folder is None:
            return draw()
        path = self.folder / f"{hashlib.sha256(nodeid.encode()).hexdigest()[:32]}.pickle"
        try:
            return pickle.loads(path.read_bytes())
        except FileNotFoundError:
            pass
        examples = draw()
        atomic_write_bytes(path, pickle.dumps(examples), durable=False)  # whole or not at all, whoever writes it first or last
        return examples


def fresh(value: Any) -> Any:
    """A copy as ``copy.deepcopy`` makes it, quicker for what strategies draw: tensors, numbers, tuples, dataclasses."""
    kind = type(value)
    if kind in (int, float, bool, str, type(None)) or isinstance(value, torch.dtype):
        return value
    if kind is torch.Tensor and value.is_leaf and not value.requires_grad:
        return value.clone()  # keeps dtype, shape, strides and values: all a check can see of its input
    if kind in (list, tuple):
        return kind(fresh(item) for item in value)
    if kind is dict:
        return {key: fresh(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: fresh(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init})
    return copy.deepcopy(value)


def record(test: Any, args: dict[str, Any], *, seed: int | None = None) -> Examples:
    """The examples Hypothesis runs ``test`` on when every one passes, in order (drawn from ``seed``, if given)."""
    examples: Examples = []

    def recorder(body: Any, *_owner: Any, **kwargs: Any) -> None:  # Hypothesis passes a method's ``self`` by name
        examples.append(copy.deepcopy({key: value for key, value in kwargs.items() if key not in args and key != "self"}))

    _run_with(test, args, recorder, seed=seed)
    return examples


def run_salted(test: Any, args: dict[str, Any], *, seed: int) -> None:
    """Hypothesis runs ``test`` from ``seed``, each example checked as it is drawn; the first failure is the verdict.

    Hypothesis runs a failing example once more to report it: the failure it
    got is raised again then, so the student's code runs once per example and a
    submission that fails only sometimes cannot turn its failure into an error of
    the check's (Hypothesis's ``Flaky``). This needs the batch's ``--no-shrink``:
    without shrinking, the report is the only run after the first failure.
    """
    failures: list[BaseException] = []

    def checked(body: Any, *owner: Any, **kwargs: Any) -> None:
        if failures:  # Hypothesis reporting the failing example
            raise failures[0]
        try:
            body(*owner, **kwargs)
        except BaseException as exc:
            failures.append(exc)
            raise

    _run_with(test, args, checked, seed=seed)


def _run_with(test: Any, args: dict[str, Any], inner: Any, *, seed: int | None) -> None:
    """Run the Hypothesis test ``test`` with ``inner(body, ...)`` in place of its body (and from ``seed``, if given)."""
    given = test.hypothesis
    body = given.inner_test
    wrapped = getattr(test, "__func__", test)  # a test method: the function @given made, where Hypothesis reads the seed
    fixed = wrapped._hypothesis_internal_use_seed  # what ``hypothesis.seed(n)`` sets; it overrides ``derandomize``

    @functools.wraps(body)  # the same digest, so derandomize draws from the same seed
    def replaced(*owner: Any, **kwargs: Any) -> None:
        inner(body, *owner, **kwargs)

    given.inner_test = replaced
    if seed is not None:
        wrapped._hypothesis_internal_use_seed = seed
    try:
        with no_local_constants() if seed is not None else contextlib.nullcontext():
            test(**args)
    finally:
        given.inner_test = body
        wrapped._hypothesis_internal_use_seed = fixed


_ALLOWED: Any = None  # Hypothesis's cache of the literals allowed per kind of draw, for draws without local ones


@contextlib.contextmanager
def no_local_constants() -> Iterator[None]:
    """Hypothesis draws inside the block as if no local module were loaded.

    Hypothesis sometimes draws a literal found in the source of a local module
    it has seen loaded (``hypothesis.internal.conjecture.providers``), so what it
    draws from one seed changes when the process imports one more module. Under
    another Hypothesis, without these internals, it draws as it does.
    """
    global _ALLOWED
    providers = _providers()
    if providers is None:
        yield
        return
    saved = providers._get_local_constants, providers.CONSTANTS_CACHE
    if _ALLOWED is None:  # kept apart from Hypothesis's own, which holds the local literals
        _ALLOWED = type(providers.CONSTANTS_CACHE)(1024)
    none = providers.Constants()
    providers._get_local_constants, providers.CONSTANTS_CACHE = (lambda: none), _ALLOWED
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = saved


def _providers() -> ModuleType | None:
    """Hypothesis's module of primitive draws, if it has the pool of local literals this module knows."""
    from hypothesis.internal.conjecture import providers

    known = all(hasattr(providers, name) for name in ("_get_local_constants", "Constants", "CONSTANTS_CACHE"))
    return providers if known else None
