"""How a sandbox's zygote starts: under bubblewrap, or where it is missing, as
a plain child with resource limits only (and a loud warning).

``launch`` starts it and returns at once: the zygote imports torch (about two
seconds) while the caller goes on, and says ``{"ready": True}`` on its control
socket when it can fork children (``autograder.sandbox.client.Sandbox`` waits
for that). Nothing here imports torch, so the parent of ``convgrade grade`` can
launch its grading processes' sandboxes while a forkserver imports torch for them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import autograder
from autograder.sandbox.cgroup import enter, memory_cgroup

TMP_BYTES = 64 * 2**20  # the sandbox's private /tmp: a tmpfs of this size, emptied between submissions
MEMORY_CAP = 6 * 2**30  # a whole sandbox's memory (its zygote, a child's 4 GiB address space, /tmp), where cgroups allow


def zygote_command(python: str) -> list[str]:
    """How Python starts the zygote: isolated (``-I``: no current folder, user site or ``PYTHON*`` variable on its path)."""
    home = str(Path(autograder.__file__).resolve().parent.parent)
    boot = f"import sys; sys.path.insert(0, {home!r}); from autograder.sandbox.zygote import main; main()"
    return [python, "-I", "-c", boot]


class SandboxWarning(UserWarning):
    """Student code runs without bubblewrap's isolation."""


def warn_unsandboxed(*, stacklevel: int = 2) -> None:
    """Say loudly that student code will run without the sandbox."""
    warnings.warn(
        "bubblewrap (bwrap) is not available: student code runs WITHOUT a sandbox, with resource "
        "limits only. Install it (Debian: apt-get install bubblewrap) before grading real submissions.",
        SandboxWarning,
        stacklevel=stacklevel + 1,
    )


def bwrap_command(python: str) -> list[str]:
    """The bubblewrap command line that starts a zygote."""
    package = str(Path(autograder.__file__).resolve().parent)
    readable = {"/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", sys.prefix, sys.base_prefix, package}
    readable |= {str(Path(python).resolve().parent.parent)}
    # The private /tmp comes first: bound after it, a project or venv that lives under /tmp stays visible.
    # No capabilities: a grader running as root would otherwise hand them to student code (bwrap keeps them for root).
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL", "--clearenv"]
    command += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for path in sorted(readable):
        command += ["--ro-bind-try", path, path]
    command += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/"]  # a read-only working folder
    for key, value in zygote_environment(private_pids=True).items():
        command += ["--setenv", key, value]
    return [*command, *zygote_command(python)]


def zygote_environment(*, private_pids: bool) -> dict[str, str]:
    """The whole environment a zygote gets: nothing of the grader's."""
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
    probe = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def launch(*, bubblewrap: bool, core: int | None = None, memory_cap: int = MEMORY_CAP) -> tuple[subprocess.Popen, socket.socket]:
    """Start a zygote (on ``core`` alone, if given) without waiting for it; the process and our end of its control socket.

    The zygote and all it forks share a memory cgroup of ``memory_cap`` bytes where
    the system lets the grader make one (``autograder.sandbox.cgroup``).

    The zygote gets the other end as its standard input, in a session of its
    own, so that killing that session kills the zygote and all it started.
    """
    python = sys.executable
    if bubblewrap:
        command, env = bwrap_command(python), None
    else:
        command, env = zygote_command(python), zygote_environment(private_pids=False)
    command = enter(command, memory_cgroup(memory_cap))  # where the system allows it, all the sandbox holds is capped
    ours, theirs = socket.socketpair()
    mine = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})  # this thread's alone, which the zygote inherits
    try:
        with theirs:
            process = subprocess.Popen(
                command, stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, cwd="/", start_new_session=True,
            )  # fmt: skip
    finally:
        if core is not None:
            os.sched_setaffinity(0, mine)
    return process, ours
