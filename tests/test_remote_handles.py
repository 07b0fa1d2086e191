"""Remote handles: a student's object (a model) stays where their code runs, and checks call it there.

Each behaviour is checked in a self-check's process (``LocalModule``) and in the
real sandbox (bubblewrap), alike; then hostile children and stale handles.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from autograder.assignment import Assignment
from autograder.checks.explain import explain
from autograder.sandbox.wire import Remote
from autograder.student import CheckFailure, Handle, Student, begin_check, calls

MODULE = """
import os
import torch
import torch.nn.functional as F


class Net:
    def __init__(self, scale):
        self.weight = torch.full((3,), float(scale), requires_grad=True)
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return x * self.weight

    def parameters(self):
        return [self.weight]

    def times_called(self):
        return self.calls

    def _secret(self):
        return "private"

    def spins(self):
        while True:
            pass

    def padded(self, x):
        return F.pad(x, (1, 1))

    def crashes(self):
        os._exit(3)


def make(scale=2.0):
    return Net(scale)


def step(net, steps):
    with torch.no_grad():
        net.weight += steps
    return net


def several():
    return Net(1.0), {"named": Net(2.0), "plain": [3, "x"]}, torch.ones(2)


def same(a, b):
    return a is b


def weight_of(net):
    return net.weight
"""

X = torch.tensor([1.0, 2.0, 3.0])


def submit(root: Path, student: str, source: str = MODULE) -> Path:
    folder = root / student / "01_handles"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text('title = "Handles"\nmodule = "handles"\nforbidden = ["padding"]\n')
    (folder / "handles.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(params=["local", "sandbox"])
def where(request):
    """Where student code runs: in this process (a self-check) or in the real sandbox (grading)."""
    return None if request.param == "local" else request.getfixturevalue("sandbox")


def open_student(folder: Path, sandbox, timeout: float = 2.0) -> Student:
    begin_check()
    return Student(Assignment.load(folder), folder, sandbox=sandbox, call_timeout=timeout)


def test_an_object_comes_back_as_a_handle_and_its_calls_run_where_it_lives(where, tmp_path):
    student = open_student(submit(tmp_path, "ada"), where)
    net = student.make(2.0)
    assert isinstance(net, Handle) and net.type_name == "Net"
    assert torch.equal(net(X), X * 2), "calling the handle calls the object"
    (weight,) = net.parameters()
    assert type(weight) is torch.Tensor and not weight.requires_grad, "a parameter crosses as a plain, detached tensor"
    weight.zero_()
    assert torch.equal(net.parameters()[0], torch.full((3,), 2.0)), "and as a copy: the model keeps its own"
    assert student.step(net, 3) is not None
    assert torch.equal(net.parameters()[0], torch.full((3,), 5.0)), "a handle passed back reaches the same object"
    assert net.times_called() == 1, "state lives on between calls"
    assert student.same(net, student.step(net, 0)) is True, "returning the object again gives a handle to the same one"
    student.close()


def test_handles_inside_tuples_dicts_and_lists(where, tmp_path):
    student = open_student(submit(tmp_path, "ben"), where)
    first, named, ones = student.several()
    assert isinstance(first, Handle) and isinstance(named["named"], Handle) and named["plain"] == [3, "x"]
    assert type(ones) is torch.Tensor, "plain data stays plain"
    assert torch.equal(named["named"](X), X * 2) and torch.equal(first(X), X)
    assert type(student.weight_of(first)) is torch.Tensor, "a tensor that requires grad comes back detached"
    student.close()


def test_a_handle_call_goes_through_the_same_checks_as_a_function(where, tmp_path):
    student = open_student(submit(tmp_path, "cleo"), where, timeout=1.0)
    net = student.make()
    with pytest.raises(CheckFailure, match=r"^`F.pad` is not allowed") as caught:
        net.padded(X)
    assert "call: <Net>.padded(x=float32[3]" in str(caught.value), "the call is shown as the object's method"
    assert calls().latest.case.startswith("<object>.padded("), "a hidden check's case does not show the student's type name"
    with pytest.raises(CheckFailure, match=r"^Net.spins did not finish within 1 s: look for a loop"):
        net.spins()
    with pytest.raises(CheckFailure, match=r"^Net.spins did not finish"):
        net.spins()  # given up on: it fails at once
    with pytest.raises(CheckFailure, match=r"a Net has no method `missing`"):
        net.missing()
    with pytest.raises(AttributeError):
        net._secret  # noqa: B018 - private names are never sent
    student.close()


def test_a_hidden_failure_keeps_the_object_of_a_method_call(where, tmp_path):
    """A hidden check's case and reason show a handle's call as `<object>.parameters()`, never a bare `parameters()`."""
    student = open_student(submit(tmp_path, "hal"), where)
    net = student.make()
    net.parameters()
    explained = explain(AssertionError("the check's own condition"))  # a check that fails after the call
    assert explained.case == "<object>.parameters()"
    with pytest.raises(RuntimeError) as caught:
        net(torch.ones(2))  # (2,) * (3,): the student's object raises
    explained = explain(caught.value)
    assert (explained.case, explained.hidden_reason) == ("<object>(float32[2])", "`<object>` raised RuntimeError")
    with pytest.raises(RuntimeError) as caught:
        student.step(net, torch.ones(2))  # a function given the object: no prefix, the object shown as an argument
    assert (explain(caught.value).case, explain(caught.value).hidden_reason) == ("step(<object>, float32[2])", "`step` raised RuntimeError")
    student.close()


def test_a_raised_time_limit_fails_a_slow_call_as_too_slow(where, tmp_path):
    student = open_student(submit(tmp_path, "dev"), where, timeout=0.5)
    net = student.make()
    with student.time_limit(1.5), pytest.raises(CheckFailure, match=r"^Net.spins did not finish within 1.5 s: too slow"):
        net.spins()
    assert torch.equal(net(X), X * 2), "the limit is back to the usual one, and the object still there"
    student.close()


def test_a_handle_dies_with_its_process(where, tmp_path):
    student = open_student(submit(tmp_path, "eve"), where)
    net = student.make()
    student.close()
    with pytest.raises(CheckFailure, match=r"^Net was given a Net that is gone"):
        net(X)
    with pytest.raises(CheckFailure, match=r"^step was given a Net that is gone"):
        student.step(net, 1)
    fresh = student.make()  # numbers start again in a new process: the old handle still finds nothing
    assert torch.equal(fresh(X), X * 2)
    with pytest.raises(CheckFailure, match=r"is gone"):
        net.parameters()
    student.close()


def test_a_handle_from_a_crashed_child_is_gone(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "fay"), sandbox)
    net, other = student.make(), student.make(3.0)
    with pytest.raises(CheckFailure, match=r"crashed the process"):
        net.crashes()
    with pytest.raises(CheckFailure, match=r"is gone"):
        other(X)
    assert torch.equal(student.make()(X), X * 2), "the module runs again in a fresh child"
    student.close()


def test_a_handle_never_reaches_another_students_objects(sandbox, tmp_path):
    ada = open_student(submit(tmp_path, "ada"), sandbox)
    ada_net = ada.make(2.0)
    ben = open_student(submit(tmp_path, "ben"), sandbox)
    ben_net = ben.make(7.0)  # ben's child replaces ada's in the sandbox; his first object has ada's number
    assert ben_net.id == ada_net.id
    with pytest.raises(CheckFailure, match=r"another student's module"):
        ben.step(ada_net, 1)
    with pytest.raises(CheckFailure, match=r"is gone"):
        ada_net(X)
    assert torch.equal(ben_net(X), X * 7), "ben's object is untouched"
    ben.close()
    ada.close()


def test_a_made_up_handle_finds_nothing(where, tmp_path):
    student = open_student(submit(tmp_path, "gus"), where)
    real = student.make()
    forged = Handle(Remote(type_name="Student", text="the grader", id=424242), student, student.runner.generation)
    with pytest.raises(CheckFailure, match=r"does not hold"):
        forged(X)
    with pytest.raises(CheckFailure, match=r"does not hold"):
        student.step(forged, 1)
    with pytest.raises(CheckFailure, match=r"another student's module"):
        student.step(Remote(type_name="Net", text="", id=real.id), 1)  # a bare number never passes for a handle
    assert torch.equal(real(X), X * 2)
    student.close()


HOSTILE = MODULE + """
import autograder.sandbox.handles as handles
from autograder.sandbox.wire import Remote

real_export = handles.Handles.export


def forged_export(self, value, depth=0):
    if isinstance(value, str) and value.startswith("forge:"):
        return Remote(type_name="Student", text="the grader's own", id=int(value[6:]))
    return real_export(self, value, depth)


handles.Handles.export = forged_export


def forge(number):
    return "forge:" + str(number)
"""


def test_a_child_that_forges_handles_reaches_nothing_of_the_grader(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "mallory", HOSTILE), sandbox)
    net = student.make()
    forged = student.forge(10**6)  # a number the child never gave: bound to mallory's module, looked up only in her child
    assert isinstance(forged, Handle) and forged._owner is student
    with pytest.raises(CheckFailure, match=r"does not hold"):
        forged(X)
    assert torch.equal(student.forge(net.id)(X), X * 2), "a forged number of her own object reaches only her own object"
    with pytest.raises(CheckFailure, match=r"crashed the process.*bad handle"):
        student.forge(-1)  # not a number a handle can have: the answer is refused, the child replaced
    with pytest.raises(CheckFailure, match=r"is gone"):
        net(X)
    student.close()
