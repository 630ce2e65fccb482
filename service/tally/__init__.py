"""Tally: records metered usage exactly once and answers usage totals."""

__version__ = "0.1.0"
