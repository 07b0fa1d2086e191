"""The sandbox: where student code runs, and the only place it runs when a class is graded.

Inside the sandbox (imported by the zygote; nothing here imports the grader's side):

- ``zygote``: ``python -m autograder.sandbox.zygote``, a warm process that forks a child per submission;
- ``call``: one call of a student's function, under a watch and a time limit;
- ``outcome``: what a call did, as plain data (``Outcome``), checked field by field when a child sends it;
- ``handles``: the objects a child keeps for the grader (a student's model), named by number (remote handles);
- ``refuse``: the forbidden calls, and threads, made impossible in each child before the student's module loads;
- ``monitor``: the forbidden-call watch of a student's self-check (in the student's own process: a teacher, not a guard);
- ``wire``: values as JSON and raw bytes, never pickle (both sides speak it).

The grader's side:

- ``launch``: the bubblewrap command line, and starting a zygote;
- ``cgroup``: a memory cap on a whole sandbox, where the system lets the grader make one;
- ``client``: ``Sandbox``, the grader's handle on a zygote and the submission's child.
"""
