"""The metering core: aggregations, buckets, periods and windows, limits' rules, how totals are assembled. Pure: the
standard library, msgspec and ``tally.domain`` only, so every other package can stand on it."""
