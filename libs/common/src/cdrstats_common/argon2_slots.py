"""How many argon2 hashes or verifications one process runs at once.

Each holds ``memory_cost`` (64 MiB with argon2-cffi's defaults) while it runs, and they run in
the default thread pool (cpu_count + 4 threads): logins and basic-auth calls in the gateway,
switch key checks in ingest's receiver. Unbounded, eight at once added 513 MiB to the gateway,
over its 512 Mi pod limit (bench/bench_load.py, BENCHMARKS.md). Two at a time bound it to
~128 MiB; more would not run faster on the cores argon2 gets anyway.
"""

from __future__ import annotations

import threading

ARGON2_SLOTS = threading.BoundedSemaphore(2)
