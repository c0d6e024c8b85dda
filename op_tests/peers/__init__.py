"""Benchmark-only peers built at bench time (never dependencies of aiter)."""
