"""Database URLs: which kind of database a URL names, in the form its driver takes. A leaf: the settings check
URLs with it before any engine exists."""

from __future__ import annotations

# Each kind of database and the URL prefix of its async driver.
DRIVERS = {"sqlite": "sqlite+aiosqlite://", "postgresql": "postgresql+asyncpg://"}
# What hosting platforms hand out (Heroku, Render, Fly, Supabase, Neon): the same database, without a driver.
ALIASES = {"postgresql://": DRIVERS["postgresql"], "postgres://": DRIVERS["postgresql"]}
WITH_STANDBYS = frozenset({"postgresql"})  # kinds that stream to a standby that serves reads


def with_driver(url: str) -> str:
    """``url`` with its async driver named: ``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``;
    any other URL is returned as it is."""
    for alias, driver in ALIASES.items():
        if url.startswith(alias):
            return driver + url[len(alias) :]
    return url


def kind_of(url: str, variable: str = "TALLY_DATABASE_URL") -> str:
    """The kind of database ``url`` names (a key of ``DRIVERS``); ValueError naming ``variable`` and the accepted
    forms for any other."""
    url = with_driver(url)
    for kind, prefix in DRIVERS.items():
        if url.startswith(prefix):
            return kind
    accepted = ", ".join([*DRIVERS.values(), *ALIASES])
    raise ValueError(f"{variable} must start with one of {accepted}")


def check_read_url(url: str, primary_url: str) -> None:
    """ValueError naming the variable when a read replica's URL, or the primary's, is of a database that has no
    streaming standbys, or of another kind than the primary's."""
    kinds = " or ".join(DRIVERS[kind] for kind in sorted(WITH_STANDBYS))
    try:
        kind = kind_of(url, "TALLY_DATABASE_READ_URL")
    except ValueError:
        kind = None
    if kind not in WITH_STANDBYS:
        raise ValueError(f"TALLY_DATABASE_READ_URL must start with {kinds} (a streaming standby's URL)")
    if kind_of(primary_url) != kind:
        raise ValueError(
            f"TALLY_DATABASE_READ_URL is set, but TALLY_DATABASE_URL is not a {kinds} URL: a read replica is a "
            "standby of the primary database, which must be of the same kind"
        )
