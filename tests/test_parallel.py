"""The driver's worker processes: results in order, and no worker outlives a consumer that stops."""

import math
import os
import subprocess
import sys
import time

import psutil
import pytest

from cellframe.parallel import ordered_map


def test_ordered_map_in_processes_gives_the_results_in_order():
    items = [9.0, 0.25, 4.0, 16.0, 1.0, 2.0, 36.0]
    assert list(ordered_map(math.sqrt, items, workers=2)) == [math.sqrt(x) for x in items]
    assert list(ordered_map(math.sqrt, items, workers=1)) == [math.sqrt(x) for x in items]


def test_a_consumer_that_stops_ends_the_tasks_in_flight():
    started = time.perf_counter()
    results = ordered_map(time.sleep, [0.01] + [30.0] * 7, workers=2)
    assert next(results) is None
    workers = [p for p in psutil.Process().children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    results.close()  # the three 30 s sleeps in flight are ended, the rest never start
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive and time.perf_counter() - started < 25


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_the_default_pool_width_is_the_cpus_this_process_may_use():
    code = ("import os; from types import SimpleNamespace; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from cellframe.running.executors import pool_width; "
            "print(pool_width(SimpleNamespace(workers=None)), pool_width(SimpleNamespace(workers=3)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "3"]  # one CPU allowed (as taskset or SLURM sets it): one worker, whatever the machine has


def _blas_threads(_) -> int:
    from threadpoolctl import threadpool_info

    return max((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=1)


def test_workers_share_the_cpus_with_their_blas_threads():
    from cellframe.parallel import available_cpus

    threads = list(ordered_map(_blas_threads, [0, 1], workers=2))
    assert threads == [max(available_cpus() // 2, 1)] * 2  # two workers: each half the CPUs' BLAS threads


def _warn_in_patch(sample_id: str) -> str:
    import logging

    from cellframe.running.patch_logging import in_patch

    with in_patch(sample_id):
        logging.getLogger("plugins.objectives.evidence").warning("densities say nothing of depth (%d nats)", -6)
    logging.getLogger("plugins.objectives.evidence").warning("after the patch")
    return sample_id


def test_a_warning_in_a_worker_names_its_patch_in_the_drivers_format(capfd):
    assert list(ordered_map(_warn_in_patch, ["slide_x0_y0", "slide_x1000_y0"], workers=2)) == [
        "slide_x0_y0", "slide_x1000_y0"]
    err = capfd.readouterr().err.splitlines()
    for name in ("slide_x0_y0", "slide_x1000_y0"):
        line = next(x for x in err if name in x)
        assert line.endswith(f"[plugins.objectives.evidence][WARNING] - {name}: densities say nothing of depth (-6 nats)")
    assert sum(x.endswith("][WARNING] - after the patch") for x in err) == 2


def test_the_patch_name_is_not_given_twice(caplog):
    import logging

    from cellframe.running.patch_logging import in_patch

    with caplog.at_level(logging.INFO, logger="cellframe"), in_patch("p1"):
        logging.getLogger("cellframe").info("p1: 12 nuclei")
        logging.getLogger("cellframe").info("no nuclei kept")
    assert [r.getMessage() for r in caplog.records] == ["p1: 12 nuclei", "p1: no nuclei kept"]
