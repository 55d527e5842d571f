"""Benchmark suite: raw-protocol load generator, server fixtures and the driver (``python -m benchmarks.run``)."""
