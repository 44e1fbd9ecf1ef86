"""Benchmark harnesses: each prints a table and JSON; results go to BENCHMARKS.md with their baseline."""
