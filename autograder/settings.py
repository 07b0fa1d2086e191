"""Every default a user can change, in one place (nothing here imports anything).

The command line, the pytest options and the classes that enforce these limits
all read them from here, so a default is written once.
"""

CALL_TIMEOUT = 10.0  # seconds one call of a student's function may take (0 or None: no limit)
SUBMISSION_BUDGET = 300.0  # seconds all calls of one submission may take together when graded
SUBMISSIONS_PER_CHUNK = 20  # submissions of one assignment graded in one pytest session
GRADING_PROCESSES = 2  # `convgrade grade --processes`, at most the machine's cores
