"""Forbidden names in assignment.toml: how they resolve, the families added for 08-10, and a name no package edit knew.

Resolution is checked against torch itself (what ``inspect`` and the dispatcher
list), never against our own output; each family is checked as the grader
uses it, by hostile submissions in the real sandbox (``tests/test_hostile_sandbox.py``'s
style) and in a self-check's watch.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.assignment import Assignment, AssignmentError, check_forbidden
from autograder.forbidden import FAMILIES, Violation, python_targets, resolve, rule_for, unresolvable
from autograder.sandbox.call import LocalModule
from tests.test_hostile_sandbox import earns, open_student, submit

X = torch.arange(1.0, 37.0).reshape(1, 1, 6, 6)
POOLED = torch.tensor([[[[8.0, 10.0, 12.0], [20.0, 22.0, 24.0], [32.0, 34.0, 36.0]]]])  # by hand: each 2x2 window's last
W = torch.tensor([[1.0, -1.0], [0.5, 2.0]])
V = torch.tensor([[3.0, 4.0]])
LINEAR = torch.tensor([[-1.0, 9.5]])  # by hand: [3 - 4, 1.5 + 8]
ALL_OPERATORS = sorted({name.split(".")[0] for name in torch._C._dispatch_get_all_op_names()})


# --- resolution -------------------------------------------------------------------------------------------------


def test_aliases_spell_torch_nn_functional_torch_nn_and_numpy():
    assert rule_for("F.pad").python == ("torch.nn.functional.pad",)
    assert rule_for("nn.Conv2d").python == ("torch.nn.Conv2d",)
    assert rule_for("np.pad").python == ("numpy.pad",)
    assert rule_for("F.pad").shown_as == "F.pad", "a failure names it as the toml does"
    assert resolve(["padding", "F.pad", "padding"]) == (FAMILIES["padding"], rule_for("F.pad")), "in order, each once"


def test_a_module_name_forbids_every_function_it_defines():
    defined = {name for name, f in inspect.getmembers(torch.nn.init, inspect.isfunction) if f.__module__ == "torch.nn.init"}
    targets = python_targets("torch.nn.init")
    assert {attr for _, attr, _, _ in targets} == defined
    assert ("torch.nn.init.kaiming_uniform_", torch.nn.init.kaiming_uniform_) in {(caught, f) for _, _, f, caught in targets}


def test_a_class_name_forbids_constructing_that_class_only():
    [(owner, attr, function, caught)] = python_targets("torch.nn.MaxPool2d")
    assert (owner, attr, caught) == (torch.nn.MaxPool2d, "__init__", "torch.nn.MaxPool2d")
    assert function is torch.nn.MaxPool2d.__init__ is torch.nn.MaxPool1d.__init__, "inherited: refused on MaxPool2d, not by code"


def test_a_method_name_forbids_that_method():
    assert python_targets("torch.Tensor.backward") == [(torch.Tensor, "backward", torch.Tensor.backward, "torch.Tensor.backward")]


def test_an_operator_name_takes_every_overload_and_a_glob_every_name_it_matches():
    exact, glob = rule_for("aten.max_pool2d_with_indices"), rule_for("aten::max_pool2d*")
    assert exact.forbids("aten::max_pool2d_with_indices") and not exact.forbids("aten::max_pool2d_with_indices_backward")
    matched = {op for op in ALL_OPERATORS if glob.forbids(op)}
    assert matched == {op for op in ALL_OPERATORS if op.startswith("aten::max_pool2d")}
    assert "aten::max_pool2d_with_indices_backward" in matched and "aten::max_pool3d" not in matched
    assert rule_for("quantized.max_pool2d").forbids("quantized::max_pool2d")


def test_the_new_families_cover_their_operators_and_nothing_students_need():
    pooling = {op for op in ALL_OPERATORS if FAMILIES["pooling"].forbids(op)}
    assert pooling == {op for op in ALL_OPERATORS if "pool" in op and op.split("::")[0] != "inductor"}  # _alloc_from_pool is no pooling
    linear = FAMILIES["linear"]
    assert linear.forbids("aten::linear") and linear.forbids("aten::linear_backward") and linear.forbids("quantized::linear")
    assert not any(linear.forbids(op) for op in ("aten::matmul", "aten::mm", "aten::addmm", "aten::bmm", "aten::upsample_bilinear2d"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_python_name_of_a_family_names_something_here(family):
    missing = [dotted for dotted in FAMILIES[family].python if not python_targets(dotted, load=True)]
    assert not missing, f"{family} names what this environment does not have: {missing}"


def test_a_name_that_names_nothing_is_an_error_naming_the_assignment_the_name_and_why(tmp_path):
    assert unresolvable("F.max_pol2d") == "torch.nn.functional has no 'max_pol2d'"
    assert unresolvable("aten.max_pol2d") == "no dispatcher operator is called aten::max_pol2d"
    assert "no module 'numpyy'" in unresolvable("numpyy.pad")
    folder = tmp_path / "09_pooling"
    folder.mkdir()
    (folder / "assignment.toml").write_text('title = "P"\nmodule = "p"\nforbidden = ["pooling", "F.max_pol2d"]\n')
    with pytest.raises(AssignmentError, match=r"^09_pooling forbids 'F.max_pol2d', which names nothing here: torch.nn.functional has no 'max_pol2d'"):
        check_forbidden([Assignment.load(folder)], here=True)
    (folder / "assignment.toml").write_text('title = "P"\nmodule = "p"\nforbidden = ["poolng"]\n')
    with pytest.raises(AssignmentError, match=r"^09_pooling forbids a name that names nothing: 'poolng' is no family of forbidden calls \(convolution, "):
        Assignment.load(folder)


def test_the_command_line_resolver_answers_without_torch_in_the_asking_process():
    done = subprocess.run([sys.executable, "-m", "autograder.forbidden", "F.conv2d", "nn.Linear", "F.nope"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"F.nope": "torch.nn.functional has no 'nope'"}


# --- the new families, refused in the real sandbox ---------------------------------------------------------------

POOLING_ROUTES = """
import torch
import torch.nn.functional as F

def functional(x):
    return F.max_pool2d(x, 2)

def module(x):
    return torch.nn.MaxPool2d(2)(x)

def subclassed(x):
    class Mine(torch.nn.MaxPool2d):
        pass
    return Mine(2)(x)

def torch_level(x):
    return torch.max_pool2d(x, 2)

def operator(x):
    return torch.ops.aten.max_pool2d_with_indices(x, [2, 2], [2, 2])[0]

def adaptive(x):
    return F.adaptive_max_pool2d(x, 3)

def by_the_backward(x):
    _, where = torch.ops.aten.max_pool2d_with_indices.default(x.clone(), [2, 2], [2, 2])
    return torch.ops.aten.max_pool2d_with_indices_backward(torch.ones(1, 1, 3, 3), x, [2, 2], [2, 2], [0, 0], [1, 1], False, where)

def by_hand(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))
"""


@pytest.mark.parametrize("function", ["functional", "module", "subclassed", "torch_level", "operator", "adaptive", "by_the_backward"])
def test_pooling_is_refused_by_every_route(sandbox, tmp_path, function):
    student = open_student(submit(tmp_path, "mallory", POOLING_ROUTES, forbidden='["pooling"]'), sandbox)
    assert earns(student, "by_hand", POOLED, X), "pooling by hand is what 09 asks for"
    assert earns(student, function, POOLED, X) is False
    with pytest.raises(Exception, match="is not allowed in this exercise"):
        getattr(student, function)(X)


AUTOGRAD_ROUTES = """
import torch

def _loss(x):
    x = x.clone().requires_grad_()
    return x, (x * x).sum()

def by_grad(x):
    x, loss = _loss(x)
    return torch.autograd.grad(loss, x)[0]

def by_backward(x):
    x, loss = _loss(x)
    loss.backward()
    return x.grad

def by_torch_func(x):
    return torch.func.grad(lambda t: (t * t).sum())(x)

def by_the_jacobian(x):
    return torch.autograd.functional.jacobian(lambda t: (t * t).sum(), x)

def by_the_engine(x):
    from torch.autograd.variable import Variable
    x, loss = _loss(x)
    return Variable._execution_engine.run_backward((loss,), (torch.ones(()),), False, False, (x,), False, False)[0]

def by_a_fresh_engine(x):
    x, loss = _loss(x)
    return torch._C._ImperativeEngine().run_backward((loss,), (torch.ones(()),), False, False, (x,), False, False)[0]

def forward_with_requires_grad(x):
    x, loss = _loss(x)
    return (2 * x).detach()
"""


@pytest.mark.parametrize("function", ["by_grad", "by_backward", "by_torch_func", "by_the_jacobian", "by_the_engine", "by_a_fresh_engine"])
def test_autograd_is_refused_by_every_route_while_forward_passes_still_run(sandbox, tmp_path, function):
    student = open_student(submit(tmp_path, "mallory", AUTOGRAD_ROUTES, forbidden='["autograd"]'), sandbox)
    assert earns(student, "forward_with_requires_grad", 2 * X, X), "a forward pass on requires_grad tensors is not autograd"
    assert earns(student, function, 2 * X, X) is False
    with pytest.raises(Exception, match="`autograd`|is not allowed"):
        getattr(student, function)(X)
    x = X.clone().requires_grad_()
    assert torch.equal(torch.autograd.grad((x * x).sum(), x)[0], 2 * X), "the grader's own autograd is untouched"


def test_a_self_check_catches_autograd_in_the_call_and_never_the_checks_own(tmp_path):
    (tmp_path / "hostile.py").write_text(textwrap.dedent(AUTOGRAD_ROUTES))
    local = LocalModule("hostile", tmp_path / "hostile.py", ("autograd",), call_timeout=None)
    caught = local.run("by_backward", (X,), {})
    first = Violation(*caught.violations[0]).message()  # what the student wrote; then what it calls (torch.autograd.backward...)
    assert first == "`torch.Tensor.backward` is not allowed in this exercise (it does the work of `autograd`): implement it yourself"
    assert local.run("forward_with_requires_grad", (X,), {}).violations == []
    x = X.clone().requires_grad_()
    (x * x).sum().backward()
    assert torch.equal(x.grad, 2 * X) and local.run("forward_with_requires_grad", (X,), {}).violations == []


LINEAR_ROUTES = """
import torch
import torch.nn.functional as F

def functional(v, w):
    return F.linear(v, w)

def module(v, w):
    layer = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer(v).detach()

def operator(v, w):
    return torch.ops.aten.linear(v, w)

def by_matmul(v, w):
    return v @ w.T

def by_addmm(v, w):
    return torch.addmm(torch.zeros(1, 2), v, w.T)
"""


@pytest.mark.parametrize("function", ["functional", "module", "operator"])
def test_linear_is_refused_but_matmul_and_addmm_are_not(sandbox, tmp_path, function):
    student = open_student(submit(tmp_path, "mallory", LINEAR_ROUTES, forbidden='["linear"]'), sandbox)
    assert earns(student, "by_matmul", LINEAR, V, W) and earns(student, "by_addmm", LINEAR, V, W)
    assert earns(student, function, LINEAR, V, W) is False


# --- a name no package edit knew, end to end ---------------------------------------------------------------------

FLIP_TESTS = '''
import pytest
import torch

from autograder.compare import assert_same


class TestMirror:
    @pytest.mark.points(10)
    def test_mirrors_the_rows(self, student):
        """mirrors each row"""
        x = torch.arange(6.0).reshape(2, 3)
        assert_same(student.mirror(x), torch.tensor([[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]))
'''


def _flip_course(root: Path, forbidden: str) -> Path:
    """A course of one assignment whose toml forbids ``forbidden``, and a class of two: honest ann, flipping mallory."""
    folder = root / "source" / "01_mirror"
    (folder / "tests").mkdir(parents=True)
    (folder / "assignment.toml").write_text(f'title = "Mirror"\nmodule = "mirror"\nforbidden = {forbidden}\n\n[rubric]\npoints = 10\n')
    (folder / "mirror.py").write_text("def mirror(x):\n    return x[:, list(range(x.shape[1] - 1, -1, -1))]\n")
    (folder / "tests" / "test_mirror.py").write_text(FLIP_TESTS)
    for student, body in (("ann", "x[:, list(range(x.shape[1] - 1, -1, -1))]"), ("mallory", "torch.flip(x, [1])")):
        (root / "submitted" / student / "01_mirror").mkdir(parents=True)
        (root / "submitted" / student / "01_mirror" / "mirror.py").write_text(f"import torch\n\n\ndef mirror(x):\n    return {body}\n")
    return root


def _grade(root: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "convgrade"), "grade", "submitted", "--out", "out", "-j", "1", "--no-class-page"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "CONVGRADE_SECRET_FILE": str(root / "secret")})


def test_a_course_forbidding_torch_flip_refuses_the_student_who_flips(tmp_path):
    done = _grade(_flip_course(tmp_path, '["torch.flip"]'))
    assert done.returncode == 0, done.stderr
    results = {s: json.loads((tmp_path / "out" / s / "01_mirror" / "results.json").read_text()) for s in ("ann", "mallory")}
    assert results["ann"]["score"] == 10 and results["mallory"]["score"] == 0
    assert "`torch.flip` is not allowed in this exercise" in results["mallory"]["tests"][0]["output"]


def test_grading_a_course_that_forbids_a_name_that_names_nothing_stops_before_any_student_code(tmp_path):
    done = _grade(_flip_course(tmp_path, '["torch.flipp"]'))
    assert done.returncode == 2
    assert "01_mirror forbids 'torch.flipp', which names nothing here: torch has no 'flipp'" in " ".join(done.stderr.split())
    assert not (tmp_path / "out" / "ann").exists()


@pytest.mark.parametrize(
    ("shown_as", "caught", "expected"),
    [
        ("F.conv2d", "aten.convolution", "`F.conv2d` is not allowed in this exercise: implement it yourself (caught `aten.convolution`)"),
        ("F.max_pool2d", "aten.max_pool2d_with_indices", "`F.max_pool2d` is not allowed in this exercise: implement it yourself (caught `aten.max_pool2d_with_indices`)"),
        ("F.max_pool2d", "aten.avg_pool2d", "`aten.avg_pool2d` is not allowed in this exercise (a call of `F.max_pool2d`'s family): implement it yourself"),
        ("F.unfold", "aten.im2col", "`aten.im2col` is not allowed in this exercise (a call of `F.unfold`'s family): implement it yourself"),
    ],
)
def test_an_operator_caught_is_named_as_the_call_it_is_or_by_its_family(shown_as, caught, expected):
    """A student who pooled by average is not told that max pooling was the problem."""
    assert Violation(shown_as, caught).message() == expected
