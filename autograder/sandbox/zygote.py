"""The zygote: where student code runs, inside the sandbox, and all that runs there.

    python -m autograder.sandbox.zygote        (started by autograder.sandbox.launch, inside bubblewrap)

It imports torch once, sets one thread (a fork after a multi-threaded torch
op can hang the child: shared/PERFORMANCE.md), and becomes a zygote: it forks
one child per submission and otherwise stays out of the way. Its standard
input is a Unix socket to the grader, the control channel, carrying
``autograder.sandbox.wire`` messages:

- ``{"op": "open", "module", "filename", "source", "helpers", "forbidden", "timeout", "limits"}``,
  with two pipe ends attached (``SCM_RIGHTS``): fork a child that applies the
  resource limits, imports the module from its source text (the submission's
  files are never on the sandbox's disk; its other modules, ``helpers`` by name,
  are importable from theirs) and serves calls over those two pipes,
  straight to the grader: ``{"ok": True}`` or ``{"ok": False, "reason": ...}``
  first, then one ``Outcome`` message per ``{"op": "call", "function", "args",
  "kwargs"}``.
- ``{"op": "close"}``: the child ends, every process it left behind is killed,
  and the zygote answers ``{"event": "closed"}``.

A child that dies on its own is reported on the control channel, the moment it
dies: ``{"event": "died", "reason": "killed by signal 11 (SIGSEGV)"}``. Calls
never pass through the zygote, so a call costs one hop each way; the grader
reads the child's answers with its own deadline and limits, and decodes them
with the same care as anything else from the sandbox. What the child prints
goes to a nameless file in the private /tmp (bounded by the file-size limit)
and comes back, capped, with each call's answer.
"""

from __future__ import annotations

import gc
import io
import os
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
from typing import Any

import torch

from autograder.sandbox.call import HelperModules, ImportFailed, Outcome, load_source, run_call
from autograder.sandbox.wire import MAX_MESSAGE, ProtocolError, decode, framed, read_message, write_message

LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "memory_bytes": resource.RLIMIT_AS,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


PRIVATE_PIDS = os.environ.get("CONVGRADE_PRIVATE_PIDS") == "1"  # in bubblewrap's PID namespace: every process here is ours


def _apply_limits(limits: dict[str, int]) -> None:
    for key, value in limits.items():
        if key == "processes" and not PRIVATE_PIDS:
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
    helpers = request.get("helpers")
    if type(helpers) is dict and all(type(k) is str and type(v) is str for k, v in helpers.items()):
        sys.meta_path.insert(0, HelperModules(helpers, folder=os.path.dirname(request["filename"])))
    try:
        module = load_source(request["source"], request["filename"], request["module"])
    except ImportFailed as failure:
        write_message(outbox, {"ok": False, "reason": str(failure)})
        return
    _take_output(output)  # what the module printed as it was imported is not any check's
    write_message(outbox, {"ok": True})
    forbidden, timeout = tuple(request["forbidden"]), request["timeout"]
    returned: set[str] = set()  # functions watched at the ATen level until a call returns (autograder.sandbox.monitor)
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
        if PRIVATE_PIDS:
            _kill_strays()  # nothing a call started outlives it
        try:
            write_message(outbox, outcome.to_message())
        except Exception as exc:  # noqa: BLE001 - a result the protocol cannot carry
            write_message(outbox, Outcome(params=outcome.params, raised={"type": "RuntimeError", "message": f"could not send the result: {exc}", "frames": []}).to_message())


def _kill_strays() -> None:
    """In the private PID namespace: kill every process but this one, its parent and bubblewrap's init."""
    keep = {os.getpid(), os.getppid(), 1}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    _reap_zombies()


def _reap_zombies() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def receive(control: socket.socket) -> tuple[dict, list[int]]:
    """The grader's next request on the control channel, and the descriptors that came with it."""
    head, fds = b"", []
    while len(head) < 8:
        data, received, _, _ = socket.recv_fds(control, 8 - len(head), 2)
        fds += received
        if not data:
            raise EOFError("the grader closed the control channel")
        head += data
    (length,) = struct.unpack(">Q", head)
    if length > MAX_MESSAGE:
        raise ProtocolError(f"request of {length} bytes")
    body = bytearray()
    while len(body) < length:
        chunk = control.recv(length - len(body))
        if not chunk:
            raise EOFError("the grader closed the control channel")
        body += chunk
    request = decode(bytes(body))
    return (request if type(request) is dict else {}), fds


class Zygote:
    """Forks one child per submission; reports how a child died, and kills what it left."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.poller = select.poll()
        self.poller.register(control, select.POLLIN)
        self.child: int | None = None
        self.pidfd: int | None = None  # readable once the child has ended

    def send(self, message: dict) -> None:
        self.control.sendall(framed(message))

    def serve(self) -> None:
        while True:
            for fd, _ in self.poller.poll():
                if fd == self.pidfd:
                    self.send({"event": "died", "reason": self._end_child(kill=False)})
                    continue
                try:
                    request, fds = receive(self.control)
                except (EOFError, ProtocolError, OSError):
                    self._end_child(kill=True)
                    return
                op = request.get("op")
                if op == "open" and len(fds) == 2:
                    self.open(request, *fds)
                    continue
                for fd_received in fds:
                    os.close(fd_received)
                if op == "close":
                    self._end_child(kill=True)
                    self.send({"event": "closed"})
                else:
                    self.send({"event": "error", "reason": f"unknown request {op!r}"})

    def open(self, request: dict, inbox: int, outbox: int) -> None:
        self._end_child(kill=True)
        pid = os.fork()
        if pid == 0:  # the child: it keeps only its own two pipes to the grader
            try:
                self.control.close()
                os.setsid()
                _serve_child(request, os.fdopen(inbox, "rb"), os.fdopen(outbox, "wb"))
            finally:
                os._exit(0)
        os.close(inbox)
        os.close(outbox)
        self.child, self.pidfd = pid, os.pidfd_open(pid)
        self.poller.register(self.pidfd, select.POLLIN)

    def _end_child(self, *, kill: bool) -> str:
        """Kill (or, when it is already dead, reap) the child, and everything it left; how it ended."""
        if self.child is None:
            return "no module is open"
        child, self.child = self.child, None
        self.poller.unregister(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = None
        if kill:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(child, 0)
        if PRIVATE_PIDS:
            _kill_strays()
        else:  # without a PID namespace of its own, only the child's session can be told apart
            try:
                os.killpg(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            _reap_zombies()
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            return f"killed by signal {number} ({signal.Signals(number).name})"
        return f"exited with status {os.WEXITSTATUS(status)}"


def main() -> None:
    torch.set_num_threads(1)
    torch.zeros(1).add_(1)  # settle torch's lazy set-up before any fork
    _not_dumpable()
    gc.collect()
    gc.freeze()  # a child's collections then leave the zygote's objects, and their pages, alone
    control = socket.socket(fileno=os.dup(0))
    os.close(0)
    zygote = Zygote(control)
    zygote.send({"ready": True})
    zygote.serve()


def _not_dumpable() -> None:
    """No process of a submission may trace the zygote or read its memory (it outlives every submission)."""
    import ctypes

    PR_SET_DUMPABLE = 4
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


if __name__ == "__main__":
    main()
