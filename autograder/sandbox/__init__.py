"""The sandbox: where student code runs, and the only place it runs when a class is graded.

Inside the sandbox (imported by the zygote; nothing here imports the grader's side):

- ``zygote``: ``python -m autograder.sandbox.zygote``, a warm process that forks a child per submission;
- ``call``: one call of a student's function, described as plain data (``Outcome``);
- ``monitor``: the forbidden-call watch around each call;
- ``wire``: values as JSON and raw bytes, never pickle (both sides speak it).

The grader's side:

- ``launch``: the bubblewrap command line, and starting a zygote;
- ``client``: ``Sandbox``, the grader's handle on a zygote and the submission's child.
"""
