"""Statistics over recorded runs: parameter importance and "is the difference real?" (bootstrap)."""

from labledger.analysis.grouping import is_seed_key, labels_by_configuration, labels_by_key
from labledger.analysis.importance import (
    ForestOptions,
    ImportanceResult,
    KeyImportance,
    parameter_importance,
)
from labledger.analysis.significance import Group, Significance, compare_groups, higher_is_better

__all__ = [
    "ForestOptions",
    "Group",
    "ImportanceResult",
    "KeyImportance",
    "Significance",
    "compare_groups",
    "higher_is_better",
    "is_seed_key",
    "labels_by_configuration",
    "labels_by_key",
    "parameter_importance",
]
