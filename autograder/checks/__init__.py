"""Checks: the pytest plugin and how it runs an assignment's tests against a student's module.

- ``plugin``: fixtures, markers, options and hooks (the ``convgrade`` pytest plugin);
- ``settled``: its hook that stops a stub's property check at the first example;
- ``context``: ``CheckSession``, the state of one session, set once;
- ``rubric``: what each check is worth: its declared points, its category, the assignment's rubric;
- ``explain``: a failure as a one-line reason and its full story;
- ``tables``: score tables for people;
- ``run``: one student's module, in this process (``convgrade check``, ``check()``);
- ``batch``: many submissions in one session (``convgrade grade``), with ``replay``
  drawing property tests' examples once.
"""
