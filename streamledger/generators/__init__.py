"""Deterministic generators of realistic input for each job (seeded, so tests can recompute)."""
