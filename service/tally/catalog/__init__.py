"""The feature catalog: what usage is metered in."""
