"""convgrade: an auto-graded course module on convolution, and its autograder.

The package is small enough to read in one sitting; start with these:

- ``assignment``: what an assignment folder holds (``assignment.toml``).
- ``release``: ``source/`` -> ``assignments/`` (stubs) and ``solutions/``.
- ``student``: the student's module as tests see it; every call checked.
- ``forbidden``: the library calls an exercise forbids; ``monitor`` catches them as student code runs.
- ``compare``: ``assert_same`` and ``expect_error``, with messages for students.
- ``mistakes``: the known mistakes a failure message can name.
- ``plugin``: the pytest plugin (``student`` fixture, ``points`` marker, reasons).
- ``runner``: an assignment's checks run in-process (``check`` and ``grade``); ``replay``
  draws property tests' examples once for a batch of submissions.
- ``sandbox``, ``worker``, ``protocol``, ``bubblewrap``: where student code runs when graded.
- ``submissions``, ``results``, ``grade``: ``convgrade grade`` and what it writes.
- ``cli``: the ``convgrade`` command.
"""

__version__ = "0.1.0"
