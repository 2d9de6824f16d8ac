"""Statistics over recorded runs: parameter importance and "is the difference real?" (bootstrap)."""
