"""Reproducing recorded runs and judging whether a result can be trusted.

- ``plan``: what a reproduction rebuilds (code, environment, command), from the record alone;
- ``code``: a fresh git worktree (or clone) at the recorded commit, diff and untracked files;
- ``environment``: a virtual environment with the recorded package versions, or a comparison
  of the recorded packages with the current interpreter's;
- ``reproduce``: runs the plan and verifies the new run against the original;
- ``verify`` / ``explain``: metrics compared within tolerances, and the recorded differences
  that could explain a mismatch, most likely first;
- ``check``: the reproducibility checklist; ``share``: a pasteable summary.

Built on the SDK read API (``Api``, ``RunView``, ``diff_runs``); the CLI renders the results.
"""
