"""Benchmarks (see docs/PERFORMANCE.md)."""
