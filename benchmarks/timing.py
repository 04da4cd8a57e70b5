"""What the benchmarks share: a median timer, torch if it is there, and the thread setting.

    from benchmarks.timing import median_seconds, optional_torch, threads_line

Times are this process's CPU time by default (`time.process_time`), not wall
time: on a shared, busy machine other processes then count much less. Everything
timed here runs on one thread (numpy's BLAS too, when OPENBLAS_NUM_THREADS=1,
as the Makefile sets it), so CPU time is the time the work itself took.
"""

import os
import statistics
import time

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def median_seconds(fn, min_time=0.02, repeats=9, clock=time.process_time):
    """Median over `repeats` of the time per call of `fn`, each repeat calling it
    enough times to last about `min_time` seconds (once, for a slow `fn` or
    `min_time=0`). One call first, untimed, warms up (and creates optimizer state)."""
    fn()
    start = clock()
    fn()
    once = max(clock() - start, 1e-7)
    number = max(1, int(min_time / once))
    times = []
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            fn()
        times.append((clock() - start) / number)
    return statistics.median(times)


def optional_torch():
    """torch on one thread (to compare like with like), or None when it cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def threads_line():
    """One line saying how many BLAS threads numpy was allowed, e.g. for under a table's title."""
    blas = {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ}
    setting = ", ".join(f"{k}={v}" for k, v in blas.items()) or f"not set (up to {os.cpu_count()})"
    return f"numpy BLAS threads: {setting}."
