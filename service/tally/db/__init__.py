"""Persistence: SQLAlchemy models, the engine, migrations."""
