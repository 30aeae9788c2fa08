"""The pluggable parts of one round, each behind a small registry keyed by concept."""
