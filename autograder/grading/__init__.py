"""``convgrade grade``: a class graded against the visible and hidden tests, student code in a sandbox.

The pipeline reads top to bottom:

1. ``submissions``: every (student, assignment) of ``SUBMITTED``, links and special files refused, ids checked
   against the output's names; ``archives``: zips unpacked without trusting them; ``lms``: a Canvas or Moodle
   download of one assignment laid out as ``SUBMITTED`` (its names mapped to students, late flags, resubmissions);
2. ``jobs``: a ``Job`` per submission, and the marker that says one is done (a rerun skips it);
   ``secret``: the course secret, from which each submission's hidden inputs derive;
3. ``pool``: the jobs in chunks over grading processes, each with a warm sandbox; ``cluster``: the same chunks as
   tasks on a dask cluster (``--cluster``), each worker with a warm sandbox, each job's files sent back to be written here;
4. ``chunk``: one chunk graded in one pytest session, each submission's files written as it ends;
5. ``results``: ``results.json`` (Gradescope's format), feedback pages, ``grades.csv``, each check's text capped; ``late``: late penalties from raw scores and hand-in times;
   ``review``: a static scan of each submission's source that flags tampering for an instructor's look (never a score);
6. ``table``: the class's grades on the terminal; ``progress``: the command's progress while it grades; ``class_page``: ``OUT/class.html``, the class at a glance; ``nbgrader_gradebook``: the grades in nbgrader's gradebook (its database);
   ``export``: ``grades.csv`` as Canvas's and Moodle's grade imports, a wide CSV, or nbgrader's gradebook.
7. ``gradescope``: one assignment as Gradescope's autograder archive (``convgrade gradescope``), and the run there that
   grades one upload with ``convgrade grade`` and writes Gradescope's ``results.json``.

The parent process (``pool``, ``jobs``, ``results``, ``table``) imports neither torch
nor pytest; ``chunk`` is imported by the grading processes.
"""
