"""Release: ``source/`` -> ``assignments/`` (for students) and ``solutions/`` (reference).

The instructor's module marks each answer with nbgrader's markers::

    def pad2d(input, padding, mode="zeros", value=0.0):
        \"\"\"...the exercise text...\"\"\"
        ### BEGIN SOLUTION
        ...the answer...
        ### END SOLUTION

The pipeline reads top to bottom (``plan``): plan every output file in memory
(``plan_release``), then either write the plan (``write_release``) or compare
it with what is on disk (``stale_files``). For the student release each solution
region becomes a stub that raises ``NotImplementedError`` naming its function
(``markers``), and ``hidden_tests/`` is left out; for the reference, the marker
lines go and the code stays. Planning is deterministic: the same source gives
the same bytes.

Notebooks (``<a>.ipynb`` at the top of the assignment folder) are nbgrader's
(``notebooks``): the preprocessors of nbgrader's ``GenerateAssignment`` and
``GenerateSolution`` run in memory as the course's ``nbgrader_config.py``
configures them, so ``nbgrader generate_assignment`` writes the same bytes;
its post-convert hooks (``hooks``) write convgrade's modules beside them.
Points are declared once, in the checks (``@pytest.mark.points``): each graded
cell of a notebook is worth the checks its ``check(...)`` calls run, and the
release writes that figure into the cell's metadata and comment (``points``),
refusing a source notebook that states another.
"""

STUDENT_RELEASE = "assignments"
REFERENCE = "solutions"


class ReleaseError(Exception):
    """The source cannot be released as it is; the message says where and why."""
