"""Fault injection: poisoned rows, full disks, forks, kills, hostile SQL, secrets, HTML.

Each file here proves one promise of README's "Guarantees" section against real parts: real
DuckDB files, real child processes, a real size-limited file system, real kernels.
"""
