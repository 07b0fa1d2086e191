"""convgrade: an auto-graded course module on convolution, and its autograder.

The folders follow the pipeline ``source/ -> release -> checks -> sandbox -> grading -> results``:

- ``release/``: ``source/`` -> ``assignments/`` (stubs) and ``solutions/`` (reference).
- ``checks/``: the pytest plugin (``student`` fixture, ``points`` marker), failure
  explanations, score tables, and the runs: one student's (``convgrade check``)
  or many submissions in one session (``convgrade grade``).
- ``sandbox/``: where student code runs: launched under bubblewrap, reached
  through a client, spoken to in a wire format of plain values; inside, a zygote
  forks a child per submission that runs one call at a time under the monitor.
- ``grading/``: ``convgrade grade``: submissions, jobs and markers, a pool of
  grading processes, one chunk, the files it writes, nbgrader's gradebook.

Beside them, the modules everything shares:

- what course files import (these paths are a contract): ``compare``
  (``assert_same``, ``expect_error``), ``mistakes``, ``inputs``, ``describe``,
  ``notebook`` (``check()`` in a notebook cell);
- the course model, no torch, no pytest: ``assignment``, ``forbidden``, ``course`` (late policy);
- the results model, data only: ``scores``;
- a hand-in: ``handin`` (the module's API the release records, what a hand-in holds,
  its manifest), and ``submit`` (``convgrade submit``: a student's folder checked, then packed);
- ``student``: the proxy a check calls (the grader's side of every call);
- ``settings`` (every default, once) and ``atomic`` (the one way a file is replaced);
- ``cli``: the ``convgrade`` command; ``scaffold``: ``convgrade new``, a new assignment that works at once.
"""

__version__ = "0.1.0"
