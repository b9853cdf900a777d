"""`python -m bench`: the benchmarks of docs/benchmarks.md (see bench/__main__.py)."""
