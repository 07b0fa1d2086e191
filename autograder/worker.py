"""The sandboxed worker: where student code runs, and all that runs there.

    python -m autograder.worker        (started by autograder.sandbox, inside bubblewrap)

It imports torch once, sets one thread (a fork after a multi-threaded torch
op can hang the child: shared/PERFORMANCE.md), and then serves the grader over
stdin/stdout with ``autograder.protocol`` messages:

- ``{"op": "open", "module", "filename", "source", "forbidden", "timeout", "limits"}``:
  fork a child that applies the resource limits, imports the module from its
  source text (the submission's files are never on the worker's disk) and serves
  calls. Answer ``{"ok": True}`` or ``{"ok": False, "reason": ...}``.
- ``{"op": "call", "function", "args", "kwargs"}``: relayed to the child, whose
  answer is an ``Outcome`` message. A child that dies first is answered for:
  ``{"died": "killed by signal 11"}``.
- ``{"op": "close"}``: the child ends, and every process it left behind is killed.

Messages are relayed whole, so a child that dies mid-answer cannot garble the
stream the grader reads. What the child prints goes to a nameless file in the
private /tmp (bounded by the file-size limit) and comes back, capped, with each
call's answer.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys
import tempfile
from typing import Any

import torch

from autograder.protocol import ProtocolError, decode, peek, read_frame, read_message, write_frame, write_message
from autograder.student import CheckFailure, Outcome, load_source, run_call

LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "memory_bytes": resource.RLIMIT_AS,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def _apply_limits(limits: dict[str, int]) -> None:
    for key, value in limits.items():
        if key == "processes" and os.environ.get("CONVGRADE_PRIVATE_PIDS") != "1":
            continue  # outside the sandbox's namespaces it would count all the user's processes, the grader's too
        resource.setrlimit(LIMITS[key], (value, value))


PRINTED_CAP = 4096  # bytes of a call's output sent back; the file-size limit bounds what it may write


def _catch_output() -> int:
    """Send stdout and stderr to a nameless file in the private /tmp; its descriptor."""
    caught = tempfile.TemporaryFile(dir="/tmp")
    os.dup2(caught.fileno(), 1)
    os.dup2(caught.fileno(), 2)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file-size limit a print fails; the child lives on
    sys.stdout, sys.stderr = _unbuffered(1), _unbuffered(2)  # nothing held back to surface in a later call
    return os.dup(caught.fileno())


def _unbuffered(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="replace", write_through=True)


def _take_output(fd: int) -> str:
    """What was printed since the last call (its first ``PRINTED_CAP`` bytes), and empty the file."""
    for name, fd_number in (("stdout", 1), ("stderr", 2)):
        try:
            getattr(sys, name).flush()
        except Exception:  # noqa: BLE001 - broken by the submission: start a clean stream
            setattr(sys, name, _unbuffered(fd_number))
    size = os.fstat(fd).st_size
    if not size:
        return ""
    data = os.pread(fd, PRINTED_CAP, 0)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)  # one offset, shared by stdout and stderr
    text = data.decode("utf-8", errors="replace")
    return text if size <= PRINTED_CAP else f"{text}\n[{size - PRINTED_CAP} more bytes not kept]"


def _serve_child(request: dict, inbox: Any, outbox: Any) -> None:
    """The child: limits, the module, then calls until the pipe closes."""
    output = _catch_output()
    _apply_limits(request.get("limits", {}))
    try:
        module = load_source(request["source"], request["filename"], request["module"])
    except CheckFailure as failure:
        write_message(outbox, {"ok": False, "reason": str(failure)})
        return
    _take_output(output)  # what the module printed as it was imported is not any check's
    write_message(outbox, {"ok": True})
    forbidden, timeout = tuple(request["forbidden"]), request["timeout"]
    returned: set[str] = set()  # functions watched at the ATen level until a call returns (autograder.forbidden)
    while True:
        try:
            call = read_message(inbox)
        except EOFError:
            return
        name = call["function"]
        outcome = run_call(
            module, name, tuple(call["args"]), call["kwargs"],
            forbidden=forbidden, timeout=timeout, module_file=request["filename"], aten=name not in returned,
        )  # fmt: skip
        if outcome.raised is None and not outcome.timed_out and outcome.exit_code is None and not outcome.missing:
            returned.add(name)
        outcome.printed = _take_output(output)
        try:
            write_message(outbox, outcome.to_message())
        except Exception as exc:  # noqa: BLE001 - a result the protocol cannot carry
            write_message(outbox, Outcome(params=outcome.params, raised={"type": "RuntimeError", "message": f"could not send the result: {exc}", "frames": []}).to_message())


class Zygote:
    """Forks one child per submission and relays the grader's messages to it."""

    def __init__(self, grader_in: Any, grader_out: Any) -> None:
        self.grader_in, self.grader_out = grader_in, grader_out
        self.child: int | None = None
        self.to_child: Any = None
        self.from_child: Any = None

    def open(self, request: dict) -> None:
        self.close()
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: it keeps only its own two pipes to the zygote
            os.close(down_w)
            os.close(up_r)
            self.grader_in.close()
            self.grader_out.close()
            os.setsid()
            try:
                _serve_child(request, os.fdopen(down_r, "rb"), os.fdopen(up_w, "wb"))
            finally:
                os._exit(0)
        os.close(down_r)
        os.close(up_w)
        self.child, self.to_child, self.from_child = pid, os.fdopen(down_w, "wb"), os.fdopen(up_r, "rb")
        self.relay_answer()

    def relay_answer(self) -> None:
        """Pass the child's next answer on whole, or say how it died.

        Only whole frames pass (a child that dies mid-answer is reported, not
        relayed); the grader decodes each with the same care as any other.
        """
        try:
            answer = read_frame(self.from_child)
        except (EOFError, ProtocolError):
            write_message(self.grader_out, {"died": self._reap()})
            return
        write_frame(self.grader_out, answer)

    def call(self, frame: bytes) -> None:
        if self.child is None:
            write_message(self.grader_out, {"died": "no module is open"})
            return
        try:
            write_frame(self.to_child, frame)
        except (BrokenPipeError, OSError):
            write_message(self.grader_out, {"died": self._reap()})
            return
        self.relay_answer()
        if self.child is not None and os.environ.get("CONVGRADE_PRIVATE_PIDS") == "1":
            self._kill_strays(keep={self.child})

    def _reap(self) -> str:
        """Wait for the dead child; say how it ended."""
        if self.child is None:
            return "no module is open"
        child, self.child = self.child, None
        _, status = os.waitpid(child, 0)
        self._kill_leftovers(child)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            return f"killed by signal {number} ({signal.Signals(number).name})"
        return f"exited with status {os.WEXITSTATUS(status)}"

    def close(self) -> None:
        if self.child is None:
            return
        self.to_child.close()
        self.from_child.close()
        try:
            os.kill(self.child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child, self.child = self.child, None
        os.waitpid(child, 0)
        self._kill_leftovers(child)

    def _kill_leftovers(self, session: int) -> None:
        """Kill what the child left running (a forking submission's strays).

        In bubblewrap's private PID namespace that is every process but this one
        and its parent; without one, only the child's own session can be told apart.
        """
        if os.environ.get("CONVGRADE_PRIVATE_PIDS") != "1":
            try:
                os.killpg(session, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._reap_zombies()
            return
        self._kill_strays(keep=set())

    def _kill_strays(self, keep: set[int]) -> None:
        """In the private PID namespace: kill every process but ours, our parent and ``keep``."""
        keep = keep | {os.getpid(), os.getppid(), 1}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in keep:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self._reap_zombies()

    @staticmethod
    def _reap_zombies() -> None:
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break

    def serve(self) -> None:
        while True:
            try:
                frame = read_frame(self.grader_in)
            except EOFError:
                self.close()
                return
            op = peek(frame, "op")  # a call is relayed as it came: only an open is decoded here
            if op == "open":
                request = decode(frame)
                self.open(request)
            elif op == "call":
                self.call(frame)
            elif op == "close":
                self.close()
                write_message(self.grader_out, {"ok": True})
            else:
                write_message(self.grader_out, {"died": f"unknown request {op!r}"})


def main() -> None:
    torch.set_num_threads(1)
    torch.zeros(1).add_(1)  # settle torch's lazy set-up before any fork
    grader_in = os.fdopen(os.dup(0), "rb")
    grader_out = os.fdopen(os.dup(1), "wb")
    write_message(grader_out, {"ready": True})
    Zygote(grader_in, grader_out).serve()


if __name__ == "__main__":
    main()
