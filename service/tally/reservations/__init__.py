"""Reservations: holds of capacity before the work, committed with the real usage, released, or expired."""
