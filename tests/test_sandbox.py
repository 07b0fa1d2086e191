"""Hostile submissions against the real sandbox: each gets what its honest outputs earn.

These run student code under bubblewrap (installed by `make test`); a machine
without it fails here loudly rather than skipping.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from autograder.assignment import Assignment
from autograder.compare import assert_same
from autograder.sandbox.client import Sandbox
from autograder.student import CheckFailure, Student, begin_check, calls

HOSTILE = textwrap.dedent(
    """
    import ctypes, os, signal, socket, sys, time
    import torch

    torch.allclose = lambda *args, **kwargs: True          # patching torch: only its own process sees it
    print("100/100 checks passed")                          # fake results on stdout: nobody reads them

    def honest(x):
        return x * 2

    def exits(x):
        os._exit(0)

    def calls_sys_exit(x):
        sys.exit(0)

    def loops(x):
        while True:
            pass

    def blocks_the_alarm(x):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass

    def segfaults(x):
        ctypes.string_at(0)

    def looks_around(x):
        return [os.path.exists(p) for p in SECRETS]

    def phones_home(x):
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=0.5)
            return "connected"
        except OSError as exc:
            return type(exc).__name__

    def writes_results(x):
        with open("/tmp/results.json", "w") as handle:
            handle.write('{"score": 100}')
        return os.path.exists("/tmp/results.json")

    def environment(x):
        return sorted(os.environ)

    def capabilities(x):
        with open("/proc/self/status") as status:
            return [line.split()[1] for line in status if line.startswith(("CapEff", "CapPrm"))]

    def traces_the_worker(x):
        libc = ctypes.CDLL(None, use_errno=True)
        PTRACE_ATTACH = 16
        return libc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0), ctypes.get_errno()

    def forks(x):
        pid = os.fork()
        if pid == 0:
            time.sleep(1000)
            os._exit(0)
        return pid

    def alive(pid):
        for _ in range(100):   # a killed fork of a torch process takes a moment to tear down
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    if stat.read().split(") ")[1][0] == "Z":   # killed, left for its parent to reap
                        return False
            except FileNotFoundError:
                return False
            time.sleep(0.05)
        return True

    def chatty(x):
        print("debug: x has shape", tuple(x.shape))
        return x * 2

    def floods(x):
        for _ in range(100_000):      # 40 MB of output: past the file-size limit
            print("spam" * 100)
        return x * 2

    def hogs_memory(x):
        return torch.empty(2**36)

    class Lying(torch.Tensor):
        def __eq__(self, other):
            return True

    def returns_a_subclass(x):
        return x.clone().as_subclass(Lying)

    def returns_an_impostor(x):
        class AlwaysEqual:
            def __eq__(self, other):
                return True
        return AlwaysEqual()
    """
)


@pytest.fixture(scope="module")
def student(sandbox, tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    submissions = tmp_path_factory.mktemp("submitted")
    folder = submissions / "mallory" / "01_hostile"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text('title = "Hostile"\nmodule = "hostile"\nforbidden = ["convolution"]\n')
    secrets = [str(course), str(submissions), str(ROOT / "source"), str(ROOT / "solutions"), str(Path.home() / ".bash_history")]
    source = f"SECRETS = {secrets!r}\n" + HOSTILE
    (folder / "hostile.py").write_text(source)
    return Student(Assignment.load(folder), folder, sandbox=sandbox, call_timeout=1.0)


X = torch.arange(6.0).reshape(2, 3)
ROOT = Path(__file__).resolve().parents[1]


def test_honest_functions_earn_their_points_and_patching_torch_stays_in_the_sandbox(student):
    assert_same(student.honest(X), X * 2)
    assert not torch.allclose(torch.zeros(1), torch.ones(1))


@pytest.mark.parametrize(
    "function, reason",
    [
        ("exits", r"crashed the process running it \(exited with status 0\)"),
        ("segfaults", r"crashed the process running it \(killed by signal 11 \(SIGSEGV\)\)"),
        ("calls_sys_exit", r"called sys.exit\(0\)"),
        ("loops", r"did not finish within 1 s"),
        ("blocks_the_alarm", r"did not finish within 1 s"),
        ("hogs_memory", r"ran out of memory"),
    ],
)
def test_a_call_that_exits_crashes_hangs_or_hogs_fails_alone_and_the_next_call_works(student, function, reason):
    with pytest.raises(CheckFailure, match=reason):
        getattr(student, function)(X)
    assert_same(student.honest(X), X * 2)


def test_what_a_call_prints_comes_back_capped_with_its_check(student):
    begin_check()
    assert_same(student.chatty(X), X * 2)
    assert calls().printed_text() == "debug: x has shape (2, 3)\n", "only this call's output; not the import's fake results"
    begin_check()
    with pytest.raises(Exception, match="File too large"):  # printing is bounded by the file-size limit
        student.floods(X)
    assert 0 < len(calls().printed_text(limit=10**6)) < 5000, "only the first few KiB come back"
    begin_check()
    assert_same(student.honest(X), X * 2)
    assert calls().printed_text() == ""


def test_the_sandbox_hides_the_course_the_submissions_and_the_network(student):
    assert student.looks_around(X) == [False] * 5
    assert student.phones_home(X) != "connected"


def test_files_written_and_processes_forked_stay_in_the_sandbox(student):
    before = Path("/tmp/results.json").exists()
    assert student.writes_results(X) is True
    assert Path("/tmp/results.json").exists() == before
    pid = student.forks(X)
    assert student.alive(pid) is False, "the worker kills what a call leaves running"


def test_student_code_has_no_capabilities_and_cannot_trace_the_worker(student):
    assert student.capabilities(X) == ["0000000000000000", "0000000000000000"], "even when the grader runs as root"
    result, errno = student.traces_the_worker(X)
    assert result == -1 and errno == 1, "EPERM: the worker that outlives this submission is not dumpable"


def test_the_grader_environment_does_not_reach_student_code(student):
    assert set(student.environment(X)) <= {
        "PATH", "HOME", "LANG", "PWD", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CONVGRADE_PRIVATE_PIDS",
    }  # fmt: skip


def test_lying_objects_arrive_as_names_and_fail_the_comparison(student):
    with pytest.raises(CheckFailure, match="returned a Lying, a subclass of torch.Tensor"):
        assert_same(student.returns_a_subclass(X), X)
    with pytest.raises(CheckFailure, match=r"returned a \S*AlwaysEqual, expected a torch.Tensor"):
        assert_same(student.returns_an_impostor(X), X)


def test_the_private_tmp_is_mounted_before_the_read_only_binds():
    from autograder.sandbox.launch import bwrap_command

    command = bwrap_command("/usr/bin/python3")
    # A project or venv under /tmp (CI clones there) must stay visible inside the sandbox.
    assert command.index("--tmpfs") < command.index("--ro-bind-try")
    assert command[command.index("--tmpfs") + 1] == "/tmp"
    assert "--unshare-all" in command and "--clearenv" in command


def test_without_bubblewrap_the_grader_warns_and_a_limited_child_still_contains_each_call(tmp_path):
    """The rlimits-only fallback: loud, and still one crash or hang per check, never the grader's."""
    from autograder.sandbox.launch import SandboxWarning

    folder = tmp_path / "01_hostile"
    folder.mkdir()
    (folder / "assignment.toml").write_text('title = "Hostile"\nmodule = "hostile"\nforbidden = ["convolution"]\n')
    (folder / "hostile.py").write_text("SECRETS = []\n" + HOSTILE)
    with pytest.warns(SandboxWarning, match="bubblewrap"):
        fallback = Sandbox(bubblewrap=False)
    try:
        student = Student(Assignment.load(folder), folder, sandbox=fallback, call_timeout=1.0)
        assert_same(student.honest(X), X * 2)
        for function, reason in [("segfaults", "crashed the process"), ("loops", "did not finish within 1 s"), ("hogs_memory", "ran out of memory")]:
            with pytest.raises(CheckFailure, match=reason):
                getattr(student, function)(X)
        begin_check()
        assert_same(student.chatty(X), X * 2)
        assert calls().printed_text() == "debug: x has shape (2, 3)\n"
        assert "CONVGRADE_PRIVATE_PIDS" in student.environment(X) and "HOME" in student.environment(X)
        assert not torch.allclose(torch.zeros(1), torch.ones(1)), "patching torch stays in the child"
    finally:
        fallback.stop()


def test_a_submissions_helper_modules_are_importable_in_the_sandbox(sandbox, tmp_path):
    """A module that imports a helper handed in beside it works there, at import and at call time; a link is no helper."""
    folder = tmp_path / "submitted" / "ann" / "01_helped"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text('title = "Helped"\nmodule = "helped"\n')
    (folder / "helped.py").write_text(
        "from shapes import twice\n\n\ndef double(x):\n    return twice(x)\n\n\n"
        "def later(x):\n    import late\n    return late.value(x)\n\n\n"
        "def peek(x):\n    import elsewhere\n    return elsewhere.SECRET\n"
    )
    (folder / "shapes.py").write_text("def twice(x):\n    return 2 * x\n")
    (folder / "late.py").write_text("def value(x):\n    return x + 1\n")
    (tmp_path / "elsewhere.py").write_text("SECRET = 1\n")
    (folder / "elsewhere.py").symlink_to(tmp_path / "elsewhere.py")
    student = Student(Assignment.load(folder), folder, sandbox=sandbox, call_timeout=5.0)
    assert_same(student.double(X), X * 2)
    assert_same(student.later(X), X + 1)
    with pytest.raises(Exception, match="elsewhere"):  # ModuleNotFoundError, rebuilt: the link was not read
        student.peek(X)
