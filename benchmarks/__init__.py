"""Throughput and latency figures: ``make bench`` (``python -m benchmarks``)."""
