"""The grader's side of the trust boundary: a warm sandbox, and the submission's module running in it.

The sandbox's zygote (``autograder.sandbox.zygote``) runs under bubblewrap with no network, no
capabilities, no view of the course, the submissions or the outputs (only the
Python installation and the ``autograder`` package, read-only), a private
``/tmp``, a private PID namespace and a scrubbed environment; it cannot be
traced by what it forks, and each submission's child gets resource limits (CPU
time, address space, file size, open files, processes). Where ``bwrap`` is
missing the zygote runs as a plain child process with the same limits, and the
grader says so loudly.

The grader talks to the zygote over a control socket (open a child, close it,
hear that it died) and to each child over two pipes of its own, reading with a
deadline and a size limit. Nothing that comes back is executed or unpickled:
answers are ``autograder.sandbox.wire`` values, turned into results or failures by
``autograder.student.Student``.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.sandbox.call import ImportFailed, ProcessDied, SandboxFailed, read_helpers, read_source
from autograder.sandbox.outcome import MESSAGE_CAP, Outcome
from autograder.sandbox.launch import MEMORY_CAP, bubblewrap_available, launch, warn_unsandboxed
from autograder.sandbox.wire import MAX_MESSAGE, Frames, ProtocolError, Remote, decode, encode, framed

START_TIMEOUT = 120.0  # seconds for a sandbox to import torch and say it is ready
GRACE = 5.0  # seconds past a call's own time limit before the sandbox is replaced
OPEN_ANSWER_BYTES = 2**16  # "started", then "ok" or the reason the module did not import
ANSWER_BYTES = 8 * 2**20  # what one call's answer may take, besides four times the size of its arguments
MAX_TEXT = 8192  # characters of any string in an answer (a message, what was printed, a returned string)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's child process."""

    cpu_seconds: int = 300
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 2**20  # also bounds what the submission may print
    open_files: int = 256
    processes: int = 256  # RLIMIT_NPROC; the kernel does not hold root to it (the PID namespace and the kill after each call do)


class Sandbox:
    """A warm sandbox: its zygote, and the submission's child in hand; replaced whenever it stops answering or dies.

    The zygote (``autograder.sandbox.zygote``): ``open`` has it fork a child
    for one submission, and the grader then talks to that child directly, over
    two pipes it made and handed over. Every read has a deadline and every
    frame a size limit, so a child that hangs, floods or goes quiet costs one
    call, not the grader.
    """

    def __init__(self, limits: Limits = Limits(), *, bubblewrap: bool | None = None, memory_cap: int = MEMORY_CAP) -> None:
        self.limits, self.memory_cap = limits, memory_cap  # memory_cap: the whole sandbox's, where cgroups allow
        self.bubblewrap = bubblewrap_available() if bubblewrap is None else bubblewrap
        if not self.bubblewrap:
            warn_unsandboxed(stacklevel=3)
        self.process: subprocess.Popen | None = None
        self._pid: int | None = None  # the zygote's process (bubblewrap's, under bubblewrap), ours or handed over
        self._control: _Channel | None = None  # to the zygote (a Unix socket: it carries pipe ends)
        self._ready = False
        self._child: tuple[int, _Channel] | None = None  # to the current child: (its inbox, its outbox)
        self.children = 0  # children opened so far: the current one is number ``children``

    @property
    def current_child(self) -> int | None:
        """The number of the child open now (``None``: none is): the objects a child keeps die with it."""
        return self.children if self._child is not None else None

    @classmethod
    def adopt(cls, control: socket.socket, pid: int, *, limits: Limits = Limits(), bubblewrap: bool) -> Sandbox:
        """A sandbox another process launched (``autograder.sandbox.launch``): a copy of its control socket, and its process id.

        The launching process reaps it; this one uses it, and stops it when it fails.
        """
        sandbox = cls(limits, bubblewrap=bubblewrap)
        sandbox._control, sandbox._pid = _Channel(control.detach()), pid
        return sandbox

    def _start(self) -> None:
        self.process, control = launch(bubblewrap=self.bubblewrap, memory_cap=self.memory_cap)
        self._control, self._pid, self._ready = _Channel(control.detach()), self.process.pid, False
        self._await_ready()

    def _await_ready(self) -> None:
        ready = self._control_event(START_TIMEOUT)
        if not (type(ready) is dict and ready.get("ready")):
            self.stop()
            raise RuntimeError(f"the grading sandbox did not start: {ready!r}")
        self._ready = True

    def ready(self) -> None:
        """Make sure the zygote runs and answers, starting it if need be (``RuntimeError`` when it cannot start)."""
        if self._control is None or (self.process is not None and self.process.poll() is not None):
            self.stop()
            self._start()
        elif not self._ready:
            self._await_ready()

    def open(self, request: dict, files: dict, timeout: float) -> dict:
        """Start a child for one submission (``request`` and ``files`` as ``autograder.sandbox.zygote`` says); its first answer.

        ``{"died": ..., "before_start": True}``: the child died before the student's code ran.
        """
        self.close()  # the last submission's child; a sandbox that will not close it is replaced, here
        self.ready()
        inbox_r, inbox_w = os.pipe()
        outbox_r, outbox_w = os.pipe()
        submission = os.memfd_create("submission")  # the child reads it; the zygote only passes it on
        try:
            os.write(submission, encode(files))
            assert self._control is not None
            data = framed(request)
            socket.send_fds(self._control.socket, [data[:8]], [inbox_r, outbox_w, submission])
            self._control.socket.sendall(data[8:])
        except OSError:
            for fd in (inbox_w, outbox_r):
                os.close(fd)
            self.stop()
            return {"died": "the sandbox stopped", "before_start": True}
        finally:
            for fd in (inbox_r, outbox_w, submission):
                os.close(fd)
        os.set_blocking(inbox_w, False)
        self._child = (inbox_w, _Channel(outbox_r, limit=OPEN_ANSWER_BYTES))
        self.children += 1
        deadline = time.monotonic() + timeout
        started = self._answer(deadline)
        if started != {"started": True}:
            return {**started, "before_start": True} if "died" in started else {"died": f"unexpected answer {started!r:.100}"}
        return self._answer(deadline)

    def call(self, message: dict, timeout: float) -> dict:
        """Send one call to the open child and wait for its answer."""
        if self._child is None:
            return {"died": "no module is open"}
        deadline = time.monotonic() + timeout
        request = framed(message)
        self._child[1].frames.limit = ANSWER_BYTES + 4 * len(request)  # a result is about as large as the arguments
        try:
            _write_by(self._child[0], request, deadline)
        except TimeoutError:
            self.close()
            return {"died": f"took no request within {timeout:g} s", "timed_out": True}
        except OSError:  # the child is gone: the zygote says how
            return self._answer(deadline)
        return self._answer(deadline)

    def _answer(self, deadline: float) -> dict:
        """The child's next message, or ``{"died": ...}`` when it dies, goes silent or breaks the protocol."""
        assert self._child is not None and self._control is not None
        outbox, control = self._child[1], self._control
        try:
            while True:
                ready = _poll([outbox, control], deadline)
                if outbox in ready:
                    try:
                        frame = outbox.read()
                    except EOFError:  # the child closed its end: how it died comes on the control channel
                        continue
                    if frame is not None:
                        answer = decode(frame, max_text=MAX_TEXT)
                        return answer if type(answer) is dict else {"died": f"unexpected answer {answer!r:.100}"}
                    continue
                if control in ready and (frame := control.read()) is not None:
                    event = decode(frame)
                    if type(event) is dict and event.get("event") == "died":
                        self._forget_child()
                        return {"died": str(event.get("reason"))}
                    continue
                if not ready:
                    self.close()
                    return {"died": "no answer in time", "timed_out": True}
        except ProtocolError as exc:
            self.close()
            return {"died": f"the sandbox failed: {exc}"}
        except EOFError:  # the zygote itself is gone
            self.stop()
            return {"died": "the sandbox stopped"}

    def close(self) -> None:
        """End the current child and whatever it left running."""
        if self._child is None:
            return
        self._forget_child()
        assert self._control is not None
        try:
            self._control.socket.sendall(framed({"op": "close"}))
            while (event := self._control_event(GRACE)) != {"event": "closed"}:
                if not (type(event) is dict and event.get("event") == "died"):
                    raise RuntimeError(f"the sandbox answered {event!r:.100}")
        except (OSError, RuntimeError, ProtocolError):
            self.stop()

    def _forget_child(self) -> None:
        if self._child is not None:
            os.close(self._child[0])
            self._child[1].close()
            self._child = None

    def _control_event(self, timeout: float) -> object:
        """The zygote's next message on the control channel."""
        assert self._control is not None
        deadline = time.monotonic() + timeout
        try:
            while _poll([self._control], deadline):
                frame = self._control.read()
                if frame is not None:
                    return decode(frame)
        except (EOFError, ProtocolError) as exc:
            return {"died": f"the sandbox failed: {exc}"}
        return {"died": f"no answer within {timeout:g} s", "timed_out": True}

    def module(
        self, name: str, module_file: Path, forbidden: tuple[str, ...], call_timeout: float | None, *, preload: tuple[str, ...] = (),
    ) -> SandboxedModule:  # fmt: skip
        """A submission's module, to run in this sandbox (``autograder.student.Student``'s runner).

        ``preload``: modules the zygote imports before it forks the module's child (once: later children inherit them).
        """
        return SandboxedModule(self, name, module_file, forbidden, call_timeout, preload=preload)

    def stop(self) -> None:
        """Kill the zygote and everything it started."""
        self._forget_child()
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._pid is not None:
            try:
                os.killpg(self._pid, signal.SIGKILL)  # its own session: bubblewrap, the zygote and every child
            except (ProcessLookupError, PermissionError):
                pass
        if self.process is not None:  # ours to reap; an adopted sandbox is reaped by the process that launched it
            self.process.wait()
        self.process, self._pid, self._ready = None, None, False


class _Channel:
    """The grader's end of a pipe or socket from the sandbox, read in whole frames."""

    def __init__(self, fd: int, *, limit: int = MAX_MESSAGE) -> None:
        self.fd, self.closed = fd, False
        self.frames = Frames(limit=limit)
        self._socket: socket.socket | None = None

    @property
    def socket(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.socket(fileno=self.fd)
        return self._socket

    def read(self) -> bytes | None:
        """Read what is there; a whole frame once there is one. ``EOFError`` when the other end closed."""
        chunk = os.read(self.fd, min(self.frames.wanted(), 2**20))
        if not chunk:
            self.closed = True
            raise EOFError("the other end closed")
        return self.frames.feed(chunk)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        else:
            os.close(self.fd)


def _poll(channels: list[_Channel], deadline: float) -> list[_Channel]:
    """The channels with something to read (an empty list once the deadline has passed)."""
    poller = select.poll()  # not select.select: it fails on descriptors past 1024
    for channel in channels:
        if not channel.closed:
            poller.register(channel.fd, select.POLLIN)
    left = max(0.0, deadline - time.monotonic())
    ready = {fd for fd, _ in poller.poll(left * 1000)}
    return [channel for channel in channels if channel.fd in ready]


def _write_by(fd: int, data: bytes, deadline: float) -> None:
    """Write all of ``data`` to a non-blocking ``fd`` before ``deadline`` (``TimeoutError`` if the reader stalls)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
                raise TimeoutError from None


class SandboxedModule:
    """One submission's module, imported and run in a child of a ``Sandbox`` (``Student``'s runner when grading)."""

    def __init__(
        self, sandbox: Sandbox, name: str, module_file: Path, forbidden: tuple[str, ...], call_timeout: float | None,
        *, preload: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.sandbox, self.name, self.module_file = sandbox, name, module_file
        self.forbidden, self.call_timeout, self.preload = forbidden, call_timeout, preload
        self._opened = False
        self._child_number: int | None = None  # the sandbox's number of the child this module was opened in

    @property
    def generation(self) -> int | None:
        """The child running this module now (``None``: none does); a handle is good only in the child that gave it."""
        if self._opened and self._child_number is not None and self.sandbox.current_child == self._child_number:
            return self._child_number
        return None

    def _open(self) -> None:
        """Have the sandbox fork a child that imports the module (``ImportFailed`` when it does not)."""
        files = {"source": read_source(self.module_file), "helpers": read_helpers(self.module_file)}
        answer = self.sandbox.open(
            {
                "op": "open", "module": self.name, "filename": f"/submission/{self.module_file.name}",
                "forbidden": list(self.forbidden), "timeout": self.call_timeout, "limits": asdict(self.sandbox.limits),
                "preload": list(self.preload),
            },
            files, timeout=(self.call_timeout or 60.0) + GRACE,
        )  # fmt: skip
        if answer.get("before_start"):
            raise SandboxFailed(f"the sandbox failed before {self.module_file.name} was imported: it {answer.get('died')}")
        if answer.get("ok") is not True:
            reason = answer.get("reason")
            reason = reason[:MESSAGE_CAP] if type(reason) is str else f"{self.module_file.name} could not be imported: it {answer.get('died')}"
            raise ImportFailed(reason)
        self._opened, self._child_number = True, self.sandbox.current_child

    def run(self, function: str, args: tuple, kwargs: dict, *, target: Remote | None = None, timeout: float | None = -1.0) -> Outcome:
        """Run one call in the child (``ProcessDied`` when it dies or goes silent; the next call starts a fresh one).

        ``target``: the handle of an object the child keeps, whose method ``function`` is called;
        ``timeout``: this call's limit in seconds (None: none), else the module's ``call_timeout``.
        """
        if self.generation is None:  # never opened, its child died, or another module's child has the sandbox now
            self._open()
        limit = self.call_timeout if timeout == -1.0 else timeout
        message = {"op": "call", "function": function, "args": list(args), "kwargs": kwargs, "target": target, "timeout": limit}
        answer = self.sandbox.call(message, timeout=(limit or 600.0) + GRACE)
        if "died" in answer:
            self._opened = False
            raise ProcessDied(str(answer["died"]), timed_out=bool(answer.get("timed_out")))
        try:
            return Outcome.from_message(answer)
        except ValueError as exc:  # not what an honest child sends: the call failed, and the child goes
            self.close()
            raise ProcessDied(f"it answered what the grader cannot take ({exc})") from None

    def close(self) -> None:
        """End this submission's child in the sandbox (not another module's that has it since)."""
        if self.generation is not None:
            self.sandbox.close()
        self._opened = False
