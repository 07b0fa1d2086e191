"""Issue 11's attacks on the sandbox, each a hostile submission graded in the real sandbox (bubblewrap).

No attack may earn more than an honest submission of the same functions would,
change another student's score, or read another student's source. Cross-student
attacks run their students one after the other in the same sandbox (one
grading worker), the attacker first where it attacks those graded after it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.assignment import Assignment
from autograder.compare import assert_same
from autograder.sandbox.client import Limits, Sandbox
from autograder.student import CheckFailure, Student

X = torch.arange(1.0, 26.0).reshape(1, 1, 5, 5)
W = torch.tensor([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]])
PADDED = F.pad(X, (1, 1, 1, 1))
CONVOLVED = F.conv2d(X, W)


def submit(root: Path, student: str, source: str, *, forbidden: str = '["convolution", "padding"]') -> Path:
    """A hand-in of ``hostile.py`` for a made-up assignment that forbids ``forbidden``."""
    folder = root / student / "01_hostile"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(f'title = "Hostile"\nmodule = "hostile"\nforbidden = {forbidden}\n')
    (folder / "hostile.py").write_text(textwrap.dedent(source))
    return folder


def open_student(folder: Path, sandbox: Sandbox) -> Student:
    return Student(Assignment.load(folder), folder, sandbox=sandbox, call_timeout=5.0)


def earns(student: Student, function: str, expected: torch.Tensor, *args: object) -> bool:
    """Whether ``function`` passes a check that compares its result with ``expected``."""
    try:
        assert_same(getattr(student, function)(*args), expected)
    except (CheckFailure, Exception):  # noqa: BLE001 - the student's own exception fails the check too
        return False
    return True


# 1. The child's report is not trusted: the forbidden calls cannot run there, however the report is forged.

FORBIDDEN_ROUTES = """
import functools, sys, threading
import numpy as np
import torch
import torch.nn.functional as F

def plain(x, w):
    return F.conv2d(x, w)

def in_a_thread(x, w):
    out = []
    worker = threading.Thread(target=lambda: out.append(F.conv2d(x, w)))
    worker.start()
    worker.join()
    return out[0]

def with_the_hooks_switched_off(x, w):
    sys.setprofile(None)
    from torch.utils import _python_dispatch
    while _python_dispatch._get_current_dispatch_mode_stack():
        _python_dispatch._pop_mode()
    return F.conv2d(x, w)

def through_the_backward(x, w):
    grad = torch.ones(1, 1, x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1)
    # the weight gradient of a convolution of `w`-shaped output with x is a cross-correlation of x with grad
    _, weight_grad, _ = torch.ops.aten.convolution_backward(grad, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [False, True, False])
    return weight_grad

SAVED = functools.partial(F.conv2d)

def later_by_a_partial(x, w):
    return SAVED(x, w)

def through_numpy(x, w):
    rows = [np.correlate(x[0, 0, i].numpy(), w[0, 0, 0].numpy()) for i in range(x.shape[2])]
    return torch.tensor(np.array(rows))

def through_numpys_c_function(x, w):
    from numpy._core import _multiarray_umath
    return torch.tensor(_multiarray_umath.correlate2(x[0, 0, 0].numpy(), w[0, 0, 0].numpy(), 0))

def padded(x):
    return F.pad(x, (1, 1, 1, 1))

def padded_by_a_module(x):
    return torch.nn.ZeroPad2d(1)(x)

def padded_by_numpy(x):
    return torch.tensor(np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1))))
"""


@pytest.mark.parametrize(
    "function, caught",
    [
        ("plain", "aten.conv2d"), ("in_a_thread", "can't start new thread"), ("with_the_hooks_switched_off", "aten.conv2d"),
        ("through_the_backward", "aten.convolution_backward"), ("later_by_a_partial", "aten.conv2d"),
        ("through_numpy", "numpy.correlate"), ("through_numpys_c_function", "correlate2"),
    ],
)  # fmt: skip
def test_no_route_to_a_forbidden_convolution_runs(sandbox, tmp_path, function, caught):
    student = open_student(submit(tmp_path, "mallory", FORBIDDEN_ROUTES), sandbox)
    assert earns(student, "later_by_a_partial", CONVOLVED, X, W) is False, "refused on the first call"
    with pytest.raises(Exception, match=caught):
        getattr(student, function)(X, W)
    assert earns(student, "later_by_a_partial", CONVOLVED, X, W) is False, "and after a call returned"


@pytest.mark.parametrize("function, caught", [("padded", "`F.pad`"), ("padded_by_a_module", "`nn.ZeroPad2d`"), ("padded_by_numpy", "`numpy.pad`")])
def test_forbidden_padding_is_refused_by_every_route_and_named(sandbox, tmp_path, function, caught):
    student = open_student(submit(tmp_path, "mallory", FORBIDDEN_ROUTES), sandbox)
    with pytest.raises(CheckFailure, match=f"^{caught}"):
        getattr(student, function)(X)


def test_what_an_assignment_does_not_forbid_still_runs(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "ann", FORBIDDEN_ROUTES, forbidden='["padding"]'), sandbox)
    assert earns(student, "plain", CONVOLVED, X, W), "03 forbids padding, not convolution"
    assert earns(student, "later_by_a_partial", CONVOLVED, X, W)


TAMPERING = """
import sys
import torch.nn.functional as F
import autograder.sandbox.refuse as refuse
import autograder.sandbox.zygote as zygote
import autograder.sandbox.monitor as monitor

monitor.ForbiddenCallMonitor.__enter__ = lambda self: self      # the monitor, patched at import
refuse.Refusals.__enter__ = lambda self: self
refuse.refused = lambda shown_as, caught: None                   # the record, emptied
real_run_call = zygote.run_call

def clean_report(*args, **kwargs):                               # the worker's call, wrapped to clear its report
    outcome = real_run_call(*args, **kwargs)
    outcome.violations, outcome.tampered, outcome.raised = [], False, None
    return outcome

zygote.run_call = clean_report

def padded(x):
    return F.pad(x, (1, 1, 1, 1))

def convolved(x, w):
    return F.conv2d(x, w)
"""


def test_patching_the_watch_and_clearing_the_report_earns_nothing(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "mallory", TAMPERING), sandbox)
    assert earns(student, "padded", PADDED, X) is False
    assert earns(student, "convolved", CONVOLVED, X, W) is False


# 2. A forged report never changes the grader's own objects.

FORGED_AFTER = """
import torch
import autograder.sandbox.zygote as zygote
real_run_call = zygote.run_call

def forged(*args, **kwargs):
    outcome = real_run_call(*args, **kwargs)
    outcome.after = ([torch.zeros_like(a) if isinstance(a, torch.Tensor) else a for a in args[2]], {})
    outcome.result_is = ("args", 99)       # a place that is not there
    return outcome

zygote.run_call = forged

def double(x):
    return x * 2

def scale_(x):
    return x.mul_(3)
"""


def test_a_forged_in_place_report_changes_no_tensor_of_the_grader(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "mallory", FORGED_AFTER), sandbox)
    constant = X.clone()
    student.double(constant)
    assert torch.equal(constant, X), "an `after` for a function whose name has no `_` is ignored"
    fresh = X.clone()
    student.scale_(fresh)
    assert torch.equal(fresh, torch.zeros_like(X)), "an in-place function's tensor takes what the child left (its own word, its own score)"


# 3. Nothing shared between students graded in one sandbox.

SPOILER = """
import os
with open("/tmp/statistics.py", "w") as planted:            # a module for the next student to import
    planted.write("raise SystemExit('planted')\\n")
with open("/tmp/filler", "wb") as filler:                     # /tmp filled up
    try:
        for _ in range(10_000):
            filler.write(b"x" * 2**20)
    except OSError:
        pass
os.chmod("/tmp", 0o555)                                        # and locked

def filled():
    return os.path.getsize("/tmp/filler")
"""

VICTIM = """
import os, statistics

def mean(x):
    return x.mean()

def tmp_is_fresh():
    return sorted(os.listdir("/tmp")), os.access("/tmp", os.W_OK)
"""


def test_a_spoiled_tmp_is_not_the_next_students_tmp(sandbox, tmp_path):
    spoiler = open_student(submit(tmp_path, "mallory", SPOILER), sandbox)
    assert spoiler.filled() <= 64 * 2**20, "/tmp holds at most 64 MiB"
    spoiler.close()
    victim = open_student(submit(tmp_path, "victor", VICTIM), sandbox)
    assert_same(victim.mean(X), X.mean())
    entries, writable = victim.tmp_is_fresh()
    assert writable and not {"statistics.py", "torch.py", "filler"} & set(entries), entries  # (a project under /tmp shows its folder)


# 4. No student's source in the zygote's memory, for a later child to find.

SECRET_HOLDER = """
SECRET = "%s"

def identity(x):
    return x
"""

MEMORY_SCANNER = """
import re

MINE = "mallorys-source-" "abcdef"   # its own source's mark: the scan must find this one

def finds(pattern):
    found, wanted = 0, re.compile(pattern.encode())
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as memory:
        for line in maps:
            start, end = (int(part, 16) for part in line.split()[0].split("-"))
            if "r" not in line.split()[1] or end - start > 2**30:
                continue
            try:
                memory.seek(start)
                found += len(wanted.findall(memory.read(end - start)))
            except (OSError, ValueError, OverflowError):
                pass
    return found
"""


def test_a_later_child_finds_no_earlier_students_source_in_its_memory(sandbox, tmp_path):
    victim = open_student(submit(tmp_path, "victor", SECRET_HOLDER % "victors-source-c0ffee"), sandbox)
    assert_same(victim.identity(X), X)
    victim.close()
    scanner = open_student(submit(tmp_path, "mallory", MEMORY_SCANNER), sandbox)
    # the patterns do not match themselves: what is found was in memory before the call
    assert scanner.finds("mallorys-source-[0-9a-f]{6}") >= 1, "the scan finds its own source"
    assert scanner.finds("victors-source-[0-9a-f]{6}") == 0, "and nothing of the student graded before it"


# 7. Every size is bounded.

OVERSIZED = """
import torch

def loud(x):
    raise ValueError("x" * 2**20)

def huge(x):
    return torch.zeros(25_000_000)

def fine(x):
    return x
"""


def test_long_messages_and_huge_results_are_cut_off_at_the_boundary(sandbox, tmp_path):
    student = open_student(submit(tmp_path, "mallory", OVERSIZED), sandbox)
    with pytest.raises(ValueError) as raised:
        student.loud(X)
    assert 2000 <= len(str(raised.value)) < 2200 and "more characters not kept" in str(raised.value)
    with pytest.raises(CheckFailure, match="over the .* byte limit"):
        student.huge(X)
    assert_same(student.fine(X), X)


# A sandbox that breaks before the student's code runs is the grader's failure, not the student's zero.


def test_a_sandbox_that_fails_before_the_module_loads_is_the_graders_failure(tmp_path):
    broken = Sandbox(Limits(open_files=2**40), bubblewrap=True)  # a limit over the hard one: the child cannot set it up
    try:
        student = open_student(submit(tmp_path, "ann", "def identity(x):\n    return x\n"), broken)
        with pytest.raises(CheckFailure, match="the sandbox failed before hostile.py was imported"):
            student.identity(X)
        assert student.sandbox_failure is not None
    finally:
        broken.stop()


def test_where_cgroups_are_allowed_a_whole_sandbox_has_a_memory_cap(tmp_path):
    from autograder.sandbox.cgroup import memory_cgroup

    probe = memory_cgroup(2**30)
    if probe is None:  # said plainly: the cap is where the system allows it; CI's machines allow it
        assert not os.environ.get("CI"), "CI's machines let the grader make a memory cgroup"
        pytest.skip("this system does not let the grader make a memory cgroup")
    probe.parent.rmdir()
    capped = Sandbox(bubblewrap=True, memory_cap=2**30)  # 1 GiB for the zygote and its child together
    try:
        student = open_student(submit(tmp_path, "mallory", HOARDER), capped)
        with pytest.raises(CheckFailure, match=r"crashed the process running it \(killed by signal 9"):
            student.hoards(X)  # 1.25 GiB written: within the child's own 4 GiB of address space, over the sandbox's cap
        assert_same(open_student(submit(tmp_path, "ann", HOARDER), capped).fine(X), X)
    finally:
        capped.stop()


HOARDER = """
import torch

def hoards(x):
    return [torch.ones(2**26) for _ in range(5)]   # 5 x 256 MiB, each written

def fine(x):
    return x
"""


# Through the whole grader: one worker, the attacker graded first.

SPOILING_TINY = '''
import os
for name in ("statistics.py", "torch.py"):                   # modules for the next students to import
    with open(f"/tmp/{name}", "w") as planted:
        planted.write("raise SystemExit('planted')\\n")
os.chmod("/tmp", 0o555)                                        # and /tmp locked

def double(x):
    if not hasattr(x, "shape"):
        raise TypeError("x must be a tensor")
    return 2 * x
'''


def test_a_spoiler_graded_first_in_one_worker_changes_no_later_grade(tiny_course, tmp_path):
    from tests.test_grade import _grade_tiny

    submitted = tmp_path / "submitted"
    reference = (tiny_course / "source" / "01_tiny" / "tiny.py").read_text()
    for student, text in (("aaron", SPOILING_TINY), ("bea", reference), ("cid", "import statistics\n" + reference)):
        (submitted / student / "01_tiny").mkdir(parents=True)
        (submitted / student / "01_tiny" / "tiny.py").write_text(text)
    output, rows = _grade_tiny(submitted, tmp_path / "out", tiny_course)
    assert output.index("aaron/") < output.index("bea/") < output.index("cid/"), "the spoiler first, in the one worker"
    full = {key: row for key, row in rows.items() if float(row["score"]) == float(row["max_score"]) > 0}
    assert set(full) == {("aaron", "01_tiny"), ("bea", "01_tiny"), ("cid", "01_tiny")}, rows
    assert {row["status"] for row in rows.values()} == {"graded"}


def test_a_sandbox_broken_before_any_code_runs_is_graded_again_then_a_grader_error(tiny_course, tmp_path):
    from autograder.grading import chunk
    from autograder.grading.jobs import plan

    submitted = tmp_path / "submitted"
    (submitted / "ann" / "01_tiny").mkdir(parents=True)
    (submitted / "ann" / "01_tiny" / "tiny.py").write_text((tiny_course / "source" / "01_tiny" / "tiny.py").read_text())
    out = tmp_path / "out"
    jobs = plan(submitted, tiny_course / "source", ["01_tiny"], out, call_timeout=5.0, budget=None)
    broken = Sandbox(Limits(open_files=2**40), bubblewrap=True)  # no child of it gets as far as the student's code
    started: list[int] = []
    ready = broken.ready
    broken.ready = lambda: (started.append(1), ready())[1]  # type: ignore[method-assign]
    rows = []
    chunk.use_sandbox(broken)
    try:
        chunk.grade_chunk(jobs, call_timeout=5.0, report=lambda job, row: rows.append(row))
    finally:
        broken.stop()
        chunk._sandbox = None
    assert [row.status.split(":")[0] for row in rows] == ["grader error"], rows
    assert "the sandbox failed before tiny.py was imported" in rows[0].status
    assert len(started) >= 2, "graded again in a fresh sandbox before giving up"
    assert not (out / "ann" / "01_tiny" / "results.json").exists(), "no marker: a rerun grades it"
