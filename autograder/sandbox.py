"""The grader's side of the trust boundary: a warm worker in a sandbox, and the
``SandboxedStudent`` whose calls run there.

The worker (``autograder.worker``) runs under bubblewrap with no network, no
view of the course, the submissions or the outputs (only the Python
installation and the ``autograder`` package, read-only), a private ``/tmp``, a
private PID namespace and a scrubbed environment; each submission's child gets
resource limits (CPU time, address space, file size, open files, processes). Where ``bwrap``
is missing the worker runs as a plain child process with the same limits, and
the grader says so loudly.

Nothing the worker sends is executed or unpickled: answers are
``autograder.protocol`` values, turned into results or failures by ``Student``.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import autograder
from autograder.assignment import Assignment
from autograder.protocol import ProtocolError, read_message, write_message
from autograder.student import CheckFailure, Outcome, Student

START_TIMEOUT = 120.0  # seconds for a worker to import torch and say it is ready
GRACE = 5.0  # seconds past a call's own time limit before the worker is replaced


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's child process."""

    cpu_seconds: int = 300
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 2**20  # also bounds what the submission may print
    open_files: int = 256
    processes: int = 256  # RLIMIT_NPROC; the kernel does not hold root to it (the PID namespace and the kill after each call do)


class SandboxWarning(UserWarning):
    """Student code runs without bubblewrap's isolation."""


def bwrap_command(python: str) -> list[str]:
    """The bubblewrap command line that starts a worker."""
    package = str(Path(autograder.__file__).resolve().parent)
    readable = {"/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", sys.prefix, sys.base_prefix, package}
    readable |= {str(Path(python).resolve().parent.parent)}
    # The private /tmp comes first: bound after it, a project or venv that lives under /tmp stays visible.
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--clearenv", "--tmpfs", "/tmp"]
    for path in sorted(readable):
        command += ["--ro-bind-try", path, path]
    command += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    for key, value in _worker_environment(private_pids=True).items():
        command += ["--setenv", key, value]
    return [*command, python, "-m", "autograder.worker"]


def _worker_environment(*, private_pids: bool) -> dict[str, str]:
    """The whole environment a worker gets: nothing of the grader's."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CONVGRADE_PRIVATE_PIDS": "1" if private_pids else "0",
    }


def bubblewrap_available() -> bool:
    """Whether ``bwrap`` is installed and can make its namespaces here."""
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


class Worker:
    """A warm worker process; replaced whenever it stops answering or dies."""

    def __init__(self, limits: Limits = Limits(), *, sandbox: bool | None = None) -> None:
        self.limits = limits
        self.sandboxed = bubblewrap_available() if sandbox is None else sandbox
        if not self.sandboxed:
            warnings.warn(
                "bubblewrap (bwrap) is not available: student code runs WITHOUT a sandbox, with resource "
                "limits only. Install it (Debian: apt-get install bubblewrap) before grading real submissions.",
                SandboxWarning,
                stacklevel=2,
            )
        self.process: subprocess.Popen | None = None

    def _start(self) -> None:
        python = sys.executable
        if self.sandboxed:
            command, env = bwrap_command(python), None
        else:
            command, env = [python, "-m", "autograder.worker"], _worker_environment(private_pids=False)
            env["PYTHONPATH"] = str(Path(autograder.__file__).resolve().parent.parent)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd="/tmp", start_new_session=True,
        )  # fmt: skip
        ready = self._answer(START_TIMEOUT)
        if not (type(ready) is dict and ready.get("ready")):
            self.stop()
            raise RuntimeError(f"the grading worker did not start: {ready!r}")

    def _answer(self, timeout: float) -> Any:
        """The worker's next message, or ``{"died": ...}`` if none comes in time."""
        assert self.process is not None and self.process.stdout is not None
        poller = select.poll()  # not select.select: it fails on descriptors past 1024
        poller.register(self.process.stdout, select.POLLIN)
        if not poller.poll(timeout * 1000):
            self.stop()
            return {"died": f"no answer within {timeout:g} s", "timed_out": True}
        try:
            return read_message(self.process.stdout)
        except (EOFError, ProtocolError) as exc:
            self.stop()
            return {"died": f"the worker failed: {exc}"}

    def request(self, message: dict, timeout: float) -> dict:
        """Send one request and wait for its answer (the worker is started or restarted as needed)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process is not None and self.process.stdin is not None
        try:
            write_message(self.process.stdin, message)
        except (BrokenPipeError, OSError):
            self.stop()
            return {"died": "the worker stopped"}
        answer = self._answer(timeout)
        return answer if type(answer) is dict else {"died": f"unexpected answer {answer!r:.100}"}

    def stop(self) -> None:
        """Kill the worker and everything it started."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None


class SandboxedStudent(Student):
    """A ``Student`` whose module is imported, and whose functions run, in a ``Worker``."""

    def __init__(
        self, assignment: Assignment, folder: Path, worker: Worker, *, call_timeout: float | None = 10.0, budget: float | None = None
    ) -> None:
        super().__init__(assignment, folder, call_timeout=call_timeout, budget=budget)
        self.worker = worker
        self._opened = False

    def _open(self) -> None:
        if self._import_failure is None and not self._opened:
            try:
                source = self.module_file.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                self._import_failure = CheckFailure(f"{self.module_file.name} is missing from {self.module_file.parent}")
            else:
                answer = self.worker.request(
                    {
                        "op": "open", "module": self.assignment.module, "source": source,
                        "filename": f"/submission/{self.module_file.name}", "forbidden": list(self.assignment.forbidden),
                        "timeout": self.call_timeout, "limits": asdict(self.worker.limits),
                    },
                    timeout=(self.call_timeout or 60.0) + GRACE,
                )  # fmt: skip
                if answer.get("ok"):
                    self._opened = True
                else:
                    reason = answer.get("reason") or f"{self.module_file.name} could not be imported: it {answer.get('died')}"
                    self._import_failure = CheckFailure(str(reason))
        if self._import_failure is not None:
            raise CheckFailure(str(self._import_failure))

    def _run(self, name: str, args: tuple, kwargs: dict) -> Outcome:
        self._open()
        answer = self.worker.request({"op": "call", "function": name, "args": list(args), "kwargs": kwargs},
                                     timeout=(self.call_timeout or 600.0) + GRACE)
        if "died" in answer:
            self._opened = False  # the next call starts a fresh child
            if answer.get("timed_out"):
                return Outcome(timed_out=True)
            self._give_up(name, f"{name} crashed the process running it ({answer['died']})")
        return Outcome.from_message(answer)

    def close(self) -> None:
        """End this submission's child in the worker."""
        if self._opened:
            self.worker.request({"op": "close"}, timeout=GRACE)
            self._opened = False
