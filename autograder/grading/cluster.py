"""A class graded on a dask.distributed cluster: the pool's chunks as dask tasks, each job's files back as data.

``convgrade grade --cluster ADDRESS`` (a scheduler, ``tcp://host:8786``) or
``--cluster local[:N]`` (a ``LocalCluster`` of N worker processes started here)
sends the chunks of ``autograder.grading.pool`` to dask workers instead of this
machine's grading processes. ``GradingWorker``, a dask worker plugin, prepares
each worker process as the pool's initialiser prepares a grading process: torch
at one thread and a warm sandbox of its own, started with the worker and stopped
with it. A task (``grade_remotely``) first checks that its worker sees the course,
the grader and the submissions this process planned with (by path, on a shared
filesystem, compared by content hash), then grades its chunk and returns each
job's row and rendered files: a worker writes nothing into OUT. Here each job's
files, then its marker, are written as its chunk comes back, so a rerun after a
crash grades only what is left.

Faults are dask's to handle: a worker that dies mid-task has its task retried on
another (``distributed.scheduler.allowed-failures``); a chunk that killed that
many workers (``KilledWorker``) is split into its submissions, each then graded
alone with nothing else in flight, so that only the one that kills workers ends
a grader error (no marker: a rerun grades it).

What this process unpickles is what ``grade_remotely`` returns: rows and text the
grader built from the sandbox's JSON answers. Student code runs only in the
worker's sandbox.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed

from autograder import settings
from autograder.grading.jobs import Job, Rendered, error_row, grading_key, write_rendered
from autograder.grading.pool import Grader, Record, chunks
from autograder.grading.results import FEEDBACK_HTML, FEEDBACK_MD, RESULTS_JSON
from autograder.grading.submissions import content_hash
from autograder.scores import GradeRow

LOCAL = "local"  # --cluster local[:N]: a LocalCluster of N worker processes on this machine
FILES = frozenset({RESULTS_JSON, FEEDBACK_MD, FEEDBACK_HTML})  # all a worker may have written into a job's folder
PLUGIN = "convgrade"  # the worker plugin's name: a second run on the same cluster keeps the workers' warm sandboxes


class ClusterError(Exception):
    """A cluster that cannot be reached or named; one sentence for people."""


class CourseMismatch(RuntimeError):
    """A dask worker sees another version of the course, the grader or a submission than the client planned with."""


@dataclass(frozen=True)
class Graded:
    """One job's outcome, as it travels from a worker: its row, and its files (``None``: a grader error, nothing to write)."""

    out: Path  # the job's folder, which names the job
    row: GradeRow
    files: dict[str, str] | None


def local_workers(cluster: str) -> int | None:
    """N of ``local:N`` (the cores here for ``local``), ``None`` for a scheduler's address; ``ClusterError`` for anything else."""
    name, _, count = cluster.partition(":")
    if name != LOCAL:
        if "://" not in cluster and ":" not in cluster:
            raise ClusterError(f"--cluster {cluster} is neither local[:N] nor a scheduler's address such as tcp://host:8786")
        return None
    if not count:
        return len(os.sched_getaffinity(0))
    if not count.isdigit() or int(count) < 1:
        raise ClusterError(f"--cluster {cluster} names no cluster: N in local:N is a number of worker processes, at least 1")
    return int(count)


class GradingWorker(WorkerPlugin):
    """A dask worker plugin: each worker process gets what a local grading process has, torch at one thread and a warm sandbox.

    ``setup`` runs when the plugin is registered and again whenever a worker
    (re)starts; ``teardown`` when the worker closes. The sandbox is this
    process's for every chunk it grades (``chunk.use_sandbox``).
    """

    name = PLUGIN
    idempotent = True  # registered once per cluster: the next run's client keeps the warm workers

    def setup(self, worker: object) -> None:
        """Torch at one thread, the harness imported, and the sandbox started: a chunk pays for none of it."""
        import torch

        from autograder.grading.chunk import use_sandbox
        from autograder.sandbox.client import Sandbox

        torch.set_num_threads(1)
        self.sandbox = Sandbox()
        use_sandbox(self.sandbox)
        self.sandbox.ready()
        gc.collect()
        gc.freeze()  # what is imported lives as long as the worker: no later collection need walk it again

    def teardown(self, worker: object) -> None:
        """Stop the sandbox with the worker."""
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.stop()


_one_chunk_at_a_time = threading.Lock()  # a worker of several threads still has one sandbox


def grade_remotely(chunk: list[Job], call_timeout: float, keys: dict[Path, str]) -> list[Graded]:
    """On a dask worker: check the course, grade ``chunk`` in this worker's sandbox, and return each job's row and files.

    ``keys``: each assignment's grading key (less the secret, which a worker never
    needs: the jobs carry their salts) as the client computed it.
    """
    from autograder.grading.chunk import grade_chunk

    kept: dict[Path, Rendered] = {}
    graded: list[Graded] = []

    def keep(job: Job, rendered: Rendered) -> GradeRow:
        kept[job.out] = rendered
        return rendered.row

    def report(job: Job, row: GradeRow) -> None:
        rendered = kept.pop(job.out, None)
        graded.append(Graded(job.out, row, rendered.files if rendered is not None else None))

    with _one_chunk_at_a_time:
        try:
            check_course(chunk, call_timeout, keys)
            grade_chunk(chunk, call_timeout=call_timeout, report=report, finish=keep)
        except Exception as exc:  # noqa: BLE001 - the grader failed on this chunk (or refused it): its rows say so
            done = {outcome.out for outcome in graded}
            graded += [Graded(job.out, error_row(job, exc), None) for job in chunk if job.out not in done]
    return graded


def check_course(chunk: list[Job], call_timeout: float, keys: dict[Path, str]) -> None:
    """Refuse (``CourseMismatch``) a chunk whose assignment, grader or submissions differ here from what the client planned with."""
    for source in {job.source for job in chunk}:
        here = grading_key(source, call_timeout=call_timeout, budget=settings.SUBMISSION_BUDGET) if source.is_dir() else "none"
        if here != keys[source]:
            raise CourseMismatch(
                f"this dask worker sees another version of {source} or of the grader than the client "
                f"(grading key {here[:12]}, not {keys[source][:12]}): give every worker the client's course and environment"
            )
    for job in chunk:
        folder = job.submission.folder
        if folder is not None and content_hash(folder) != job.digest.split(":", 1)[0]:
            raise CourseMismatch(f"this dask worker sees another {folder} than the client: OUT and SUBMITTED must be shared with the workers")


def on_cluster(cluster: str) -> Grader:
    """What grades a class's jobs on the dask cluster ``cluster`` (an address, or ``local[:N]``), for ``pool.grade_all``.

    A value that names no cluster is refused at once (``ClusterError``), before anything is graded.
    """
    local_workers(cluster)
    return lambda todo, call_timeout, record: grade_on_cluster(todo, cluster, call_timeout, record)


def grade_on_cluster(todo: list[Job], cluster: str, call_timeout: float, record: Record) -> None:
    """Grade ``todo`` on the dask cluster ``cluster`` (an address, or ``local[:N]``), writing each job's files here as its chunk returns."""
    by_out = {job.out: job for job in todo}
    keys = {source: grading_key(source, call_timeout=call_timeout, budget=settings.SUBMISSION_BUDGET) for source in {job.source for job in todo}}
    with _client(cluster) as client:
        client.register_plugin(GradingWorker())
        waiting = chunks(todo, _workers(client))
        suspects: list[list[Job]] = []  # jobs of a chunk that killed workers: each graded alone, nothing else in flight
        flying: dict[Any, list[Job]] = {}
        finished = as_completed()

        def submit(chunk: list[Job]) -> None:
            future = client.submit(grade_remotely, chunk, call_timeout, keys, pure=False)
            flying[future] = chunk
            finished.add(future)

        def fill() -> None:
            """Keep one chunk per worker in flight (the next chosen late), or one suspect alone."""
            if suspects and not flying:
                submit(suspects.pop(0))
            while waiting and not suspects and len(flying) < _workers(client):
                submit(waiting.pop(0))

        fill()
        for future in finished:
            chunk = flying.pop(future)
            outcomes = _outcomes(future, chunk)
            if outcomes is None:  # it killed workers: which of its submissions did?
                suspects += [[job] for job in chunk]
            for outcome in outcomes or []:
                job = by_out[outcome.out]
                record(job, _write(job, outcome))
            fill()


def _outcomes(future: Any, chunk: list[Job]) -> list[Graded] | None:
    """What a chunk's task returned; error rows when the cluster failed it; ``None`` when it killed workers and holds several jobs."""
    try:
        return future.result()
    except KilledWorker as exc:
        if len(chunk) > 1:
            return None
        failure: BaseException = RuntimeError(f"its grading killed {exc.allowed_failures + 1} dask workers")
    except Exception as exc:  # noqa: BLE001 - the cluster failed this chunk (lost, cancelled): its rows say so
        failure = exc
    return [Graded(job.out, error_row(job, failure), None) for job in chunk]


def _write(job: Job, outcome: Graded) -> GradeRow:
    """Write what a worker rendered for ``job`` (then its marker); its row. A grader error writes nothing, so a rerun grades it."""
    if outcome.files is None:
        return outcome.row
    if not set(outcome.files) <= FILES:
        return error_row(job, RuntimeError(f"a worker sent files the grader does not write: {sorted(set(outcome.files) - FILES)}"))
    return write_rendered(job, Rendered(outcome.row, outcome.files))


def _workers(client: Any) -> int:
    """How many tasks the cluster runs at once now: its workers' threads (at least 1)."""
    return max(1, sum(worker["nthreads"] for worker in client.scheduler_info()["workers"].values()))


@contextlib.contextmanager
def _client(cluster: str) -> Iterator[Any]:
    """A dask client of the scheduler at ``cluster``, or of a ``LocalCluster`` started here for ``local[:N]`` and closed after."""
    workers = local_workers(cluster)
    if workers is None:
        try:
            client = Client(cluster, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"no dask scheduler answers at {cluster}: {exc}") from None
        with client:
            yield client
        return
    with local_cluster(workers) as local, Client(local) as client:
        yield client


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A ``LocalCluster`` of ``workers`` processes of one thread, closed after: ``--cluster local:N``."""
    # one task per worker at a time: a worker that dies takes only the chunk it was grading with it
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster:
        yield cluster
