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

A hidden check runs under its submission's salt (``autograder.inputs.salted``),
and its examples must be the student's own, the same on every rerun. Hypothesis's
engine costs more per example than most checks, so salted examples are drawn
straight from the test's strategies (``draw_examples``: a seeded random source per
example, no engine, no database, no shrinking, and none of the literals Hypothesis
takes from the local modules loaded so far, ``no_local_constants``, so that the
draw follows from the seed alone, whatever the process imported before). The
class shares one such draw, from a seed of the test's node id with no salt in
force; when it is replayed under a salt, every tensor in it that
``autograder.inputs.randn`` drew is drawn again from the same seed mixed with that
salt (``autograder.inputs.drawn_again``): the shapes and settings are the class's
(a hidden failure shows them anyway), the values the student's. A property test
whose examples hold no such tensor (sizes and settings alone) would be the
class's alike, so its examples are drawn for each student instead, from a seed
of the salt and the node id.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import pickle
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hypothesis
import pytest
import torch
from hypothesis import strategies as st
from hypothesis.control import BuildContext
from hypothesis.errors import StopTest, UnsatisfiedAssumption
from hypothesis.internal.conjecture.data import ConjectureData

from autograder.atomic import atomic_write_bytes
from autograder.inputs import current_salt, drawn_again, salted, salted_seed

Examples = list[dict[str, Any]]


class ReplayExamples:
    """A pytest plugin: ``pytest_pyfunc_call`` for Hypothesis tests, replaying recorded examples."""

    def __init__(self, folder: Path | None = None) -> None:
        self.examples: dict[str, Examples] = {}  # by node id: the run's tests do not change
        self.folder = folder  # where the processes of one run share what they drew
        self.redrawn: dict[str, bool] = {}  # by node id: whether a salt gives its examples values of their own

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        given = getattr(pyfuncitem.obj, "hypothesis", None)
        if given is None:
            return None
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        salt = current_salt()
        examples = self._examples(pyfuncitem, args, for_salt=salt is not None)
        if salt is not None and not self._own_values(pyfuncitem.nodeid, examples):
            examples = draw_examples(pyfuncitem.obj, salted_seed(salt, pyfuncitem.nodeid))  # the student's own
        body = given.inner_test
        owner = () if pyfuncitem.instance is None else (pyfuncitem.instance,)
        for drawn in examples:
            example = fresh(drawn)  # a check may change its inputs; the next submission gets them fresh (and, salted, its own)
            try:
                body(*owner, **args, **example)
            except BaseException as exc:
                if salt is None:  # a hidden check's example is the student's, not the one drawn for the class: name none
                    shown = ", ".join(f"{key}={value!r}" for key, value in drawn.items())
                    exc.add_note(f"Falsifying example: {pyfuncitem.originalname}({shown})")
                raise
        return True

    def _own_values(self, nodeid: str, examples: Examples) -> bool:
        """Whether a salt gives each of the examples values of their own (each holds a tensor ``randn`` drew)."""
        if nodeid not in self.redrawn:
            with salted(None):
                self.redrawn[nodeid] = bool(examples) and all(any(_redrawn_tensors(example)) for example in examples)
        return self.redrawn[nodeid]

    def _examples(self, item: pytest.Function, args: dict[str, Any], *, for_salt: bool) -> Examples:
        """The test's examples for this run: derandomized as a self-check draws them, or, for a salted run, the class's draw."""
        key = f"{item.nodeid} (salted)" if for_salt else item.nodeid
        if key not in self.examples:
            if for_salt:
                seed = int.from_bytes(hashlib.sha256(item.nodeid.encode()).digest()[:8], "big") >> 1
                with salted(None):
                    self.examples[key] = self._shared(key, lambda: draw_examples(item.obj, seed))
            else:
                self.examples[key] = self._shared(key, lambda: record(item.obj, args))
        return self.examples[key]

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
    """A copy as ``copy.deepcopy`` makes it, quicker for what strategies draw: tensors, numbers, tuples, dataclasses.

    Under a salt, a tensor ``randn`` drew is drawn again, salted (``drawn_again``).
    """
    kind = type(value)
    if kind in (int, float, bool, str, type(None)) or isinstance(value, torch.dtype):
        return value
    if kind is torch.Tensor and value.is_leaf and not value.requires_grad:
        if current_salt() is not None and (again := drawn_again(value)) is not None:
            return again
        return value.clone()  # keeps dtype, shape, strides and values: all a check can see of its input
    if kind in (list, tuple):
        return kind(fresh(item) for item in value)
    if kind is dict:
        return {key: fresh(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: fresh(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init})
    return copy.deepcopy(value)


def _redrawn_tensors(value: Any) -> Iterator[bool]:
    """True for each tensor in ``value`` that a salt draws again (``randn``'s, unchanged)."""
    if type(value) is torch.Tensor:
        yield drawn_again(value) is not None
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _redrawn_tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _redrawn_tensors(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _redrawn_tensors(getattr(value, f.name))


def record(test: Any, args: dict[str, Any]) -> Examples:
    """The examples Hypothesis runs ``test`` on when every one passes, in order."""
    examples: Examples = []
    given = test.hypothesis
    body = given.inner_test

    @functools.wraps(body)  # the same digest, so derandomize draws from the same seed
    def recorder(*_owner: Any, **kwargs: Any) -> None:  # Hypothesis passes a method's ``self`` by name
        examples.append(copy.deepcopy({key: value for key, value in kwargs.items() if key not in args and key != "self"}))

    given.inner_test = recorder
    try:
        test(**args)
    finally:
        given.inner_test = body
    return examples


def draw_examples(test: Any, seed: int) -> Examples:
    """The arguments of the Hypothesis test ``test`` for its ``max_examples`` examples, drawn straight from its strategies.

    Each example from a random source of its own, seeded by ``seed`` and its
    index: the same seed gives the same examples, in this Hypothesis (pinned). A
    draw its strategies reject (a filter that found nothing) is drawn again.
    """
    wrapped = getattr(test, "__func__", test)
    count = (getattr(wrapped, "_hypothesis_internal_use_settings", None) or hypothesis.settings.default).max_examples
    strategy = st.fixed_dictionaries(test.hypothesis._given_kwargs)
    examples: Examples = []
    with no_local_constants():
        for attempt in range(10 * count):
            if len(examples) == count:
                break
            data = ConjectureData(random=random.Random(f"{seed}:{attempt}"))
            try:
                with BuildContext(data, is_final=False, wrapped_test=wrapped):
                    examples.append(data.draw(strategy))
            except (StopTest, UnsatisfiedAssumption):
                continue
    return examples


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
