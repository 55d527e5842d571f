"""Server fixtures with identical behaviour, one per stack under test (started by benchmarks/run.py)."""
