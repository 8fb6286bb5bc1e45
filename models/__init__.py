"""Estimators: deterministic, incremental, no I/O and no clocks; each with one ``update()``."""
