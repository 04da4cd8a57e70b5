"""Speed figures a user can reproduce: `make bench` (or `python -m benchmarks [name ...]`)."""
