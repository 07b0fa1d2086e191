"""A class graded by a pool of grading processes, each with a warm sandbox of its own.

``grade_all`` skips what a previous run graded, cuts the rest into ``chunks``
(one assignment each) and hands them to grading processes, reporting each
graded submission as it comes. A forkserver imports torch and the harness once
and forks the processes; meanwhile this process launches one sandbox per
grading process, which each takes, with a core of its own (``_init_process``).
A free process takes the chunk ``Schedule`` picks.

This module runs in the parent of ``convgrade grade``, which imports neither
torch nor pytest: the grading itself (``autograder.grading.chunk``) is imported
only in the grading processes (and here when one process grades in place).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import queue
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from autograder import settings
from autograder.grading.jobs import Job, error_row, previous_row
from autograder.sandbox.launch import bubblewrap_available, launch, warn_unsandboxed
from autograder.scores import GradeRow

Progress = Callable[[Job, GradeRow, bool], None]  # (job, its row, whether a previous run graded it)
Record = Callable[[Job, GradeRow], None]  # a job graded now, and its row
Grader = Callable[[list[Job], float, Record], None]  # grades jobs (with a call timeout) elsewhere: autograder.grading.cluster

PRELOAD = [  # what every grading process needs: the course's tests import hypothesis and the comparisons too
    "torch", "hypothesis.strategies", "autograder.grading.chunk", "autograder.compare",
]  # fmt: skip


def chunks(jobs: list[Job], processes: int) -> list[list[Job]]:
    """The jobs by assignment, cut so every process gets a share and no session grows past ``SUBMISSIONS_PER_CHUNK``.

    The first chunk of every assignment comes before any second one: processes
    starting on different assignments draw each one's examples once, for all.
    """
    by_assignment: dict[str, list[Job]] = {}
    for job in jobs:
        by_assignment.setdefault(job.submission.assignment, []).append(job)
    rounds: list[list[list[Job]]] = []
    for group in by_assignment.values():
        size = max(1, min(settings.SUBMISSIONS_PER_CHUNK, math.ceil(len(group) / processes)))
        for turn, start in enumerate(range(0, len(group), size)):
            if turn == len(rounds):
                rounds.append([])
            rounds[turn].append(group[start : start + size])
    return [chunk for chunks_of_turn in rounds for chunk in chunks_of_turn]


@dataclass(frozen=True)
class Launched:
    """Sandboxes the parent launched, one per grading process, and how the processes share out cores and sandboxes."""

    sandboxes: list[tuple[socket.socket, int]]  # (control socket, process id) of each, in the order the processes take them
    bubblewrap: bool
    pinned: bool  # whether process i keeps to core i, with sandbox i
    taken: Any  # a shared counter: the next process's index


_events: Any = None  # where a grading process reports each graded submission (a multiprocessing queue)


def _init_process(events: object = None, examples: Path | None = None, launched: Launched | None = None) -> None:
    """A grading process: one torch thread (two per core oversubscribe; shared/PERFORMANCE.md).

    ``examples``: where the processes of this run share the property tests'
    examples. ``launched``: the sandboxes the parent started for the processes;
    this one takes the next, and the core it runs on, so that a grading process
    and its sandbox wake each other on one core rather than across two.
    """
    global _events
    import torch

    from autograder.checks.batch import share_examples
    from autograder.grading.chunk import use_sandbox
    from autograder.sandbox.client import Sandbox

    torch.set_num_threads(1)
    if examples is not None:
        share_examples(examples)
    if launched is not None:
        with launched.taken.get_lock():
            index, launched.taken.value = launched.taken.value, launched.taken.value + 1
        for other, (control, _) in enumerate(launched.sandboxes):
            if other != index:
                control.close()  # each sandbox has one grading process: it hears when that one ends
        if index < len(launched.sandboxes):
            control, pid = launched.sandboxes[index]
            use_sandbox(Sandbox.adopt(control, pid, bubblewrap=launched.bubblewrap))
        if launched.pinned:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[index]})
    gc.collect()
    gc.freeze()  # what is imported lives as long as the process: no later collection need walk it again
    _events = events


def _grade_in_process(chunk: list[Job], call_timeout: float) -> None:
    """In a grading process: grade ``chunk``, each row to the parent's queue as it is written."""
    from autograder.grading.chunk import grade_chunk

    grade_chunk(chunk, call_timeout=call_timeout, report=lambda job, row: _events.put((job.out, row)))


def grade_all(
    jobs: list[Job], *, processes: int, call_timeout: float, regrade: bool, progress: Progress, elsewhere: Grader | None = None
) -> list[GradeRow]:
    """Grade every job not already done; ``progress(job, row, skipped)`` after each.

    ``elsewhere``: what grades them instead of this machine's processes (a dask cluster: ``autograder.grading.cluster``).
    """
    rows: list[GradeRow] = []
    todo = []
    for job in jobs:
        previous = None if regrade else previous_row(job)
        if previous is not None:
            rows.append(previous)
            progress(job, previous, True)
        else:
            todo.append(job)

    def record(job: Job, row: GradeRow) -> None:
        rows.append(row)
        progress(job, row, False)

    processes = min(processes, len(chunks(todo, processes)))  # no process (nor sandbox) without a chunk to grade
    if elsewhere is not None and todo:
        elsewhere(todo, call_timeout, record)
    elif processes == 1:
        _grade_here(todo, call_timeout, record)
    elif processes > 1:
        _grade_in_pool(todo, processes, call_timeout, record)
    return rows


def _grade_here(todo: list[Job], call_timeout: float, record: Callable[[Job, GradeRow], None]) -> None:
    """One grading process: this one."""
    from autograder.grading.chunk import grade_chunk

    _init_process()
    reported: set[tuple[str, str]] = set()

    def report(job: Job, row: GradeRow) -> None:
        reported.add(job.key)
        record(job, row)

    for chunk in chunks(todo, 1):
        try:
            grade_chunk(chunk, call_timeout=call_timeout, report=report)
        except Exception as exc:  # noqa: BLE001 - the grader failed on this chunk: its rows say so
            for job in chunk:
                if job.key not in reported:
                    report(job, error_row(job, exc))


def _grade_in_pool(todo: list[Job], processes: int, call_timeout: float, record: Callable[[Job, GradeRow], None]) -> None:
    """Several grading processes from a forkserver, each with a sandbox launched here meanwhile."""
    # The sandboxes import torch while a forkserver imports it (and the harness) for the grading processes it forks.
    bubblewrap = bubblewrap_available()
    if not bubblewrap:
        warn_unsandboxed()
    cores = sorted(os.sched_getaffinity(0))
    pinned = processes <= len(cores)
    started = [launch(bubblewrap=bubblewrap, core=cores[i] if pinned else None) for i in range(processes)]
    context = get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    events = context.Queue()
    pending = {job.out: job for job in todo}
    launched = Launched([(control, process.pid) for process, control in started], bubblewrap, pinned, context.Value("i", 0))
    with _stopping(started), tempfile.TemporaryDirectory(prefix="convgrade-examples-") as examples, ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=_init_process, initargs=(events, Path(examples), launched)
    ) as pool:
        schedule = Schedule(chunks(todo, processes))
        futures: dict[Any, list[Job]] = {}
        quiet = 0.0  # seconds without news since every chunk ended
        while pending and quiet < 2.0:
            running = [future for future in futures if not future.done()]
            while len(running) < processes and schedule.waiting:  # one chunk per process: the next is chosen late
                chunk = schedule.next()
                try:
                    future = pool.submit(_grade_in_process, chunk, call_timeout)
                except BrokenExecutor as exc:  # a grading process died: what is left gets error rows below
                    future = Future()
                    future.set_exception(exc)
                else:
                    running.append(future)
                futures[future] = chunk
            try:
                out, row = events.get(timeout=0.05)
            except queue.Empty:
                quiet = quiet + 0.05 if not running and not schedule.waiting else 0.0
                continue
            schedule.seen(out)
            record(pending.pop(out), row)
    for future, chunk in futures.items():  # the jobs of a chunk the grader failed on: their rows say so
        for job in chunk:
            if job.out in pending:
                exc = future.exception() or RuntimeError("the grading process gave no result")
                record(pending.pop(job.out), error_row(job, exc))


@contextlib.contextmanager
def _stopping(started: list[tuple[subprocess.Popen, socket.socket]]) -> Iterator[None]:
    """Kill and reap the sandboxes this process launched for its grading processes, once they are done."""
    try:
        yield
    finally:
        for process, control in started:
            control.close()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Schedule:
    """Which chunk a free grading process takes next: the costliest first, so that a run ends on cheap ones.

    Chunks of an assignment not yet measured go first, in the order given
    (every assignment's first chunk before any second one); after that, the
    chunk whose submissions take longest in all, from the seconds each
    submission of its assignment took so far.
    """

    def __init__(self, chunks: list[list[Job]]) -> None:
        self.waiting = list(chunks)
        self._seconds: dict[str, list[float]] = {}  # assignment -> seconds per submission, as measured
        self._last: dict[Path, tuple[float, bool]] = {}  # a running chunk's next job -> (when the one before ended, first of its chunk)
        self._following: dict[Path, Job] = {}  # a job -> the next of its chunk
        self._assignment: dict[Path, str] = {}

    def next(self) -> list[Job]:
        unmeasured = [chunk for chunk in self.waiting if chunk[0].submission.assignment not in self._seconds]
        if unmeasured:
            chunk = unmeasured[0]
        else:
            chunk = max(self.waiting, key=lambda c: len(c) * _mean(self._seconds[c[0].submission.assignment]))
        self.waiting.remove(chunk)
        self._last[chunk[0].out] = (time.monotonic(), True)
        for job, following in zip(chunk, chunk[1:]):
            self._following[job.out] = following
        self._assignment.update((job.out, job.submission.assignment) for job in chunk)
        return chunk

    def seen(self, out: Path) -> None:
        """A submission was graded (the one written to ``out``)."""
        now = time.monotonic()
        before, first = self._last.pop(out, (now, True))
        if not first:  # a chunk's first submission also pays for collecting the tests
            self._seconds.setdefault(self._assignment[out], []).append(now - before)
        following = self._following.pop(out, None)
        if following is not None:
            self._last[following.out] = (now, False)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
