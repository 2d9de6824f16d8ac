"""Reproducing recorded runs and judging whether a result can be trusted.

- ``plan``: what a reproduction rebuilds (code, environment, command), from the record alone;
- ``code``: a fresh git worktree (or clone) at the recorded commit, diff and untracked files;
- ``packages``: how each recorded package is installed again (by version, from the worktree,
  cloned at its commit, from a VCS URL or a file; labledger from the running source);
- ``environment``: a virtual environment shared per package lock (uv when present), or a
  comparison of the recorded packages with the current interpreter's;
- ``housekeeping``: the worktrees and environments reproductions leave, and cleaning them;
- ``reproduce``: runs the plan and verifies the new run against the original;
- ``verify`` / ``explain``: metrics compared within tolerances, and the recorded differences
  that could explain a mismatch, most likely first;
- ``check``: the reproducibility checklist; ``share``: a pasteable summary.

Built on the SDK read API (``Api``, ``RunView``, ``diff_runs``); the CLI renders the results.
"""
