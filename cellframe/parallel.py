"""Local worker processes for the driver: pools that end with it, and an ordered map over them.

The patch executors (:mod:`cellframe.running.executors`) run their pools here; the
ordered map is for the work the driver does once the patches are done (the slide
GeoJSON, the null reconstructions, the report's figures). Workers are spawned: a script that asks for more than one
must guard its entry point (``if __name__ == "__main__":``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator


def available_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, each of which exits as soon as this process is gone."""
    import multiprocessing

    threads = max(available_cpus() // max(workers, 1), 1)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(os.getpid(), threads))


def start_worker(parent: int, threads: int) -> None:
    """In a worker: at most ``threads`` threads in the BLAS and OpenMP libraries (the workers share the
    CPUs: two workers of two BLAS threads each on two cores run 6 % slower), and
    the driver's log format for warnings (:func:`cellframe.running.patch_logging.worker_logging`), and
    :func:`watch_parent`."""
    import numpy  # noqa: F401  (loads the BLAS the limit applies to)
    from threadpoolctl import threadpool_limits

    from cellframe.running.patch_logging import worker_logging

    threadpool_limits(limits=threads)
    worker_logging()
    watch_parent(parent)


def watch_parent(parent: int, every: float = 0.5) -> None:
    """In a worker: exit as soon as the driver process ``parent`` is gone (killed, even by SIGKILL)."""
    import threading

    def watch():
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="cellframe-watch-parent").start()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel a pool's queued tasks and end the running ones without letting them finish."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14
        pool.terminate_workers()
        return
    # the pool forgets its processes on shutdown, and has no public way to end them before Python 3.14
    running = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in running:
        process.terminate()
    for process in running:
        process.join(timeout=10)


@contextlib.contextmanager
def running_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """:func:`process_pool` for a ``with`` block: shut down when the block ends, its tasks in flight
    ended (:func:`stop_pool`) if it ends by an exception (a signal, an error, a consumer that stops)."""
    pool = process_pool(workers)
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()


def ordered_map(fn: Callable, items: Iterable, workers: int | None = 1) -> Iterator:
    """``fn(item)`` for each item, in the items' order, in up to ``workers`` processes (None: the
    CPUs; 1: here, one at a time). At most two tasks per worker are in flight, so neither the items
    nor the results pile up in memory."""
    workers = available_cpus() if workers is None else workers
    if workers < 2:
        yield from map(fn, items)
        return
    with running_pool(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
