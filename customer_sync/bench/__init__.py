"""Measurement: ``customer-sync bench`` stage by stage (time, throughput, memory, accuracy) and the
Splink comparison. The entry point is :func:`customer_sync.bench.runner.run_bench`; the modules are
imported lazily so that the CLI stays fast.
"""
