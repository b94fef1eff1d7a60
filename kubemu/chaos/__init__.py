"""kubemu chaos: the run's history (JSON lines) and the invariants checked over it."""

from kubemu.chaos.checkers import ALL, Verdict, check_all, format_table
from kubemu.chaos.history import History, HistoryError

__all__ = ["ALL", "History", "HistoryError", "Verdict", "check_all", "format_table"]
