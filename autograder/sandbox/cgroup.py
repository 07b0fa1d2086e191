"""A memory cap on a whole sandbox (its zygote and every child it forks), where the system lets the grader make one.

Each child has its own resource limits (``autograder.sandbox.client.Limits``);
a memory cgroup caps them all together, /tmp's pages included, so that no
submission can take the machine's memory from the other grading processes.
The cgroup is made below the grader's own memory cgroup (cgroup v1's memory
controller, or v2 where the parent delegates ``memory``) and the sandbox's
first process enters it before it runs anything (``enter``). Where cgroups
cannot be made (no permission, no memory controller), ``memory_cgroup`` says
so with ``None`` and the per-child limits stand alone.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_ROOTS = {"v1": Path("/sys/fs/cgroup/memory"), "v2": Path("/sys/fs/cgroup")}
_COUNTER = itertools.count()


def _own_cgroup() -> tuple[str, Path] | None:
    """The grader's memory cgroup: (``"v1"`` or ``"v2"``, its folder), if it has one it can see."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = _ROOTS["v1"] / path.lstrip("/")
            return ("v1", folder) if folder.is_dir() else None
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and controllers == "":
            folder = _ROOTS["v2"] / path.lstrip("/")
            return ("v2", folder) if (folder / "cgroup.controllers").is_file() else None
    return None


def memory_cgroup(limit: int) -> Path | None:
    """A new memory cgroup capped at ``limit`` bytes, below the grader's own; its ``cgroup.procs``, or ``None``."""
    own = _own_cgroup()
    if own is None:
        return None
    version, parent = own
    _remove_stale(parent)
    cgroup = parent / f"convgrade-{os.getpid()}-{next(_COUNTER)}"
    limit_file = "memory.limit_in_bytes" if version == "v1" else "memory.max"
    try:
        cgroup.mkdir()
    except OSError:
        return None
    try:
        (cgroup / limit_file).write_text(str(limit))
        swap = cgroup / ("memory.memsw.limit_in_bytes" if version == "v1" else "memory.swap.max")
        if swap.exists():  # swap accounting on: swap counts too
            swap.write_text(str(limit) if version == "v1" else "0")
    except OSError:  # no memory controller here after all
        cgroup.rmdir()
        return None
    return cgroup / "cgroup.procs"


def enter(command: list[str], procs: Path | None) -> list[str]:
    """``command``, run by a shell that first moves itself into the cgroup, so that all it starts is counted there."""
    if procs is None:
        return command
    return ["/bin/sh", "-c", 'echo $$ > "$0"; exec "$@"', str(procs), *command]  # if it cannot enter, it runs uncapped


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups of sandboxes whose grader has ended (one that is still running may be about to fill its own)."""
    for cgroup in parent.glob("convgrade-*"):
        grader = cgroup.name.split("-")[1]
        if grader.isdigit() and Path(f"/proc/{grader}").exists():
            continue
        try:
            if not (cgroup / "cgroup.procs").read_text().strip():
                cgroup.rmdir()
        except OSError:
            pass
