"""The zygote: where student code runs, inside the sandbox, and all that runs there.

    python -I -c "...; from autograder.sandbox.zygote import main; main()"   (autograder.sandbox.launch, in bubblewrap)

It imports torch once, sets one thread (a fork after a multi-threaded torch
op can hang the child: shared/PERFORMANCE.md), works out how to refuse each
rule's forbidden calls (``autograder.sandbox.refuse``), and becomes a zygote:
it forks one child per submission and otherwise stays out of the way. Its
standard input is a Unix socket to the grader, the control channel, carrying
``autograder.sandbox.wire`` messages:

- ``{"op": "open", "module", "filename", "forbidden", "timeout", "limits", "preload"}``,
  with three descriptors attached (``SCM_RIGHTS``): the two pipe ends of the
  child's own channel to the grader, and a memory file holding the
  submission's files. The zygote first imports the ``preload`` modules it has not
  yet (the assignment's slow imports, scikit-learn's: once per zygote, and every
  later child inherits them), then forks a child and never reads that file: the
  child does, after the fork, so no student's source is ever in the zygote's
  memory for a later child to find. The child catches its output, refuses the
  assignment's forbidden calls and threads, applies the resource limits, says
  ``{"started": True}`` (all before that is the grader's code: a death there is
  the grader's failure, not the student's), imports the module from its source
  text (the submission's other modules, ``helpers`` by name, are importable
  from theirs), says ``{"ok": True}`` or ``{"ok": False, "reason": ...}``, then
  answers each ``{"op": "call", "function", "args", "kwargs", "target", "timeout"}``
  with one ``Outcome`` message, straight to the grader. ``target``, when given, is
  a handle (``Remote``) of an object an earlier call returned and the child kept
  (``autograder.sandbox.handles``): the call is its method ``function`` (``__call__``:
  the object itself); ``timeout``, this call's own limit, else the module's.
- ``{"op": "close"}``: the child ends, every process it left behind is killed,
  /tmp is emptied and made writable again, and the zygote answers
  ``{"event": "closed"}``.

A child that dies on its own is reported on the control channel, the moment it
dies: ``{"event": "died", "reason": "killed by signal 11 (SIGSEGV)"}``. Calls
never pass through the zygote, so a call costs one hop each way; the grader
reads the child's answers with its own deadline and limits, and decodes them
with the same care as anything else from the sandbox. What the child prints
goes to a nameless file in memory (bounded by the file-size limit) and comes
back, capped, with each call's answer.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import io
import os
import resource
import select
import signal
import socket
import struct
import sys
from typing import Any

import torch

from autograder.forbidden import FAMILIES, UnknownName, resolve
from autograder.sandbox.call import HelperModules, ImportFailed, load_source, run_call
from autograder.sandbox.handles import Handles
from autograder.sandbox.outcome import PRINTED_CAP, Outcome
from autograder.sandbox.refuse import REFUSALS, plan_for, prepare, refuse
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


def _catch_output() -> int:
    """Send stdout and stderr to a nameless file in memory (no file system needed); its descriptor."""
    caught = os.memfd_create("printed")
    os.dup2(caught, 1)
    os.dup2(caught, 2)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file-size limit a print fails; the child lives on
    sys.stdout, sys.stderr = _unbuffered(1), _unbuffered(2)  # nothing held back to surface in a later call
    return caught


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


SUBMISSION_CAP = 32 * 2**20  # bytes of a submission's files (its module and up to 20 helpers of at most 1 MiB each)


def _read_submission(fd: int) -> dict[str, Any]:
    """The submission's files, from the memory file the grader filled: ``{"source": ..., "helpers": {name: source}}``.

    Read here, in the child, after the fork: the zygote, which outlives every
    submission, never holds a student's source in its memory.
    """
    with os.fdopen(fd, "rb") as file:
        file.seek(0)
        files = decode(file.read(SUBMISSION_CAP))
    helpers = files.get("helpers") if type(files) is dict else None
    if not (type(files.get("source")) is str and type(helpers) is dict and all(type(v) is str for v in helpers.values())):
        raise ProtocolError("the submission's files are not {source, helpers}")
    return files


def _serve_child(request: dict, inbox: Any, outbox: Any, submission: int) -> None:
    """The child: its output caught, its limits, its refusals, then the module, then calls until the pipe closes."""
    output = _catch_output()
    files = _read_submission(submission)
    refuse(resolve(request["forbidden"]))
    _apply_limits(request.get("limits", {}))
    if files["helpers"]:
        sys.meta_path.insert(0, HelperModules(files["helpers"], folder=os.path.dirname(request["filename"])))
    write_message(outbox, {"started": True})  # up to here the child ran only the grader's code; from here, the student's
    try:
        module = load_source(files["source"], request["filename"], request["module"])
    except ImportFailed as failure:
        write_message(outbox, {"ok": False, "reason": str(failure)})
        return
    _take_output(output)  # what the module printed as it was imported is not any check's
    write_message(outbox, {"ok": True})
    timeout, handles = request["timeout"], Handles()  # the objects kept for the grader live and die with this child
    while True:
        try:
            call = read_message(inbox)
        except EOFError:
            return
        limit = call.get("timeout", timeout)
        outcome = run_call(
            module, call["function"], tuple(call["args"]), call["kwargs"], watch=REFUSALS, module_file=request["filename"],
            timeout=limit if limit is None or type(limit) in (int, float) else timeout, target=call.get("target"), handles=handles,
        )  # fmt: skip
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


def _fresh_tmp() -> None:
    """Empty the sandbox's private /tmp and make it writable again: the next submission finds nothing of this one's.

    A /tmp that cannot be emptied (a tree too deep to name) ends the zygote: the
    grader starts a fresh sandbox, with a fresh /tmp, for the next submission.
    """
    try:
        device = os.stat("/tmp").st_dev  # what bubblewrap bound over /tmp (a project under /tmp) is not on it: left alone
        folders, pending = [], ["/tmp"]
        while pending:
            folder = pending.pop()
            os.chmod(folder, 0o1777 if folder == "/tmp" else 0o700)  # the submission may have taken the rights away
            folders.append(folder)
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.stat(follow_symlinks=False).st_dev != device:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        os.unlink(entry.path)
        for folder in reversed(folders[1:]):
            try:
                os.rmdir(folder)
            except OSError as exc:  # a folder on the way to a bound project stays
                if exc.errno not in (errno.ENOTEMPTY, errno.EBUSY):
                    raise
    except OSError:
        os._exit(1)


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
        data, received, _, _ = socket.recv_fds(control, 8 - len(head), 3)
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
        self.preloaded: set[str] = set()  # the modules an open asked for, imported (or tried) once

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
                if op == "open" and len(fds) == 3:
                    self.open(request, *fds)
                    continue
                for fd_received in fds:
                    os.close(fd_received)
                if op == "close":
                    self._end_child(kill=True)
                    self.send({"event": "closed"})
                else:
                    self.send({"event": "error", "reason": f"unknown request {op!r}"})

    def open(self, request: dict, inbox: int, outbox: int, submission: int) -> None:
        self._end_child(kill=True)
        self.preload(request.get("preload"))
        with contextlib.suppress(UnknownName, TypeError):  # the assignment's own names, worked out once for all its children
            prepare(resolve(request.get("forbidden", ())))
        pid = os.fork()
        if pid == 0:  # the child: it keeps only its own two pipes to the grader, and the submission's files
            try:
                self.control.close()
                os.setsid()
                _serve_child(request, os.fdopen(inbox, "rb"), os.fdopen(outbox, "wb"), submission)
            finally:
                os._exit(0)
        for fd in (inbox, outbox, submission):
            os.close(fd)
        self.child, self.pidfd = pid, os.pidfd_open(pid)
        self.poller.register(self.pidfd, select.POLLIN)

    def preload(self, names: object) -> None:
        """Import the modules named that this zygote has not yet: every child forked later inherits them, imported.

        The refusal plans worked out so far are forgotten and worked out again as the
        children need them: a module imported here may hold a forbidden function, or be
        one a rule names that was not loaded before (scikit-learn loads ``scipy.ndimage``),
        and a plan made before would pass it over. A module that fails to import is left
        to the child (the student's code then fails as it would anyway).
        """
        new = [name for name in names if type(name) is str and name not in self.preloaded] if type(names) is list else []
        if not new:
            return
        for name in new:
            self.preloaded.add(name)
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S110 - the child tries again, as the student's code would
                pass
        plan_for.cache_clear()
        gc.collect()
        gc.freeze()  # as in main: the children's collections leave the new modules' pages alone

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
            _fresh_tmp()
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
    prepare(FAMILIES.values())  # what refusing each family takes, worked out once: each child then carries it out in milliseconds
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
