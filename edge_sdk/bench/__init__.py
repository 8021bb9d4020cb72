"""Benchmarks that print a table and write JSON. `edge-sdk bench` runs `pipeline_bench`."""
