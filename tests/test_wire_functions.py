"""A check hands the student's code a function (08_backward's `numerical_gradient(f, x)`): by name, from an allowlist."""

from __future__ import annotations

import functools
import json

import pytest
import torch
import torch.nn.functional as F

from autograder.sandbox.wire import FUNCTIONS, Foreign, ProtocolError, decode, encode


def _frame(body: object) -> bytes:
    header = json.dumps({"body": body, "buffers": []}).encode()
    return len(header).to_bytes(4, "big") + header


def test_an_allowed_function_and_a_partial_of_one_arrive_callable():
    target = torch.randn(2, 3, dtype=torch.float64)
    sent = functools.partial(F.mse_loss, target=target, reduction="sum")
    got = decode(encode([torch.prod, sent]))
    assert got[0] is torch.prod
    assert type(got[1]) is functools.partial and got[1].func is F.mse_loss and got[1].args == ()
    x = torch.zeros(2, 3, dtype=torch.float64)
    assert torch.equal(got[1](x), (target**2).sum())  # the target crossed bit for bit
    lse = decode(encode(functools.partial(torch.logsumexp, dim=(0, 1))))
    assert lse.keywords == {"dim": (0, 1)} and torch.allclose(lse(x), torch.log(torch.tensor(6.0, dtype=torch.float64)))


@pytest.mark.parametrize("function", [len, print, functools.partial(print, 1), functools.partial(eval, "1"), lambda x: x.sum()])
def test_any_other_function_still_arrives_as_a_foreign_placeholder(function):
    assert type(decode(encode(function))) is Foreign


@pytest.mark.parametrize("body", [
    {"$function": "os.system"}, {"$function": ["torch.sum"]}, {"$partial": {"function": "builtins.eval", "args": [], "kwargs": {"$dict": []}}},
    {"$partial": {"function": "torch.sum", "args": "x", "kwargs": {"$dict": []}}}, {"$partial": "torch.sum"},
])  # fmt: skip
def test_a_name_off_the_list_is_refused_never_imported(body):
    with pytest.raises(ProtocolError):
        decode(_frame(body))


def test_every_allowed_name_is_the_function_it_names():
    import importlib

    for name, function in FUNCTIONS.items():
        module, _, attribute = name.rpartition(".")
        assert getattr(importlib.import_module(module), attribute) is function, name
