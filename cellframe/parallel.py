"""Driver-side work spread over local worker processes, results in order.

The patches have their own executors (:mod:`cellframe.running.executors`); this is
for the work the driver does once they are done (the slide GeoJSON, the null
reconstructions). Workers are spawned: a script that asks for more than one
must guard its entry point (``if __name__ == "__main__":``).
"""

from __future__ import annotations

import os
from collections import deque
from typing import Callable, Iterable, Iterator


def available_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def ordered_map(fn: Callable, items: Iterable, workers: int | None = 1) -> Iterator:
    """``fn(item)`` for each item, in the items' order, in up to ``workers`` processes (None: the
    CPUs; 1: here, one at a time). At most two tasks per worker are in flight, so neither the items
    nor the results pile up in memory."""
    workers = available_cpus() if workers is None else workers
    if workers < 2:
        yield from map(fn, items)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
