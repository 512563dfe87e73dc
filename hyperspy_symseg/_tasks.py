"""Independent tasks shared out among Python threads as they become free.

numba's ``prange`` splits a loop into one equal part per thread, fixed in advance, and
every parallel region ends when its slowest thread does. On a machine whose cores are
shared with other work a thread is often descheduled for a whole time slice, so each
region costs about one slice and the region lasts as long as the slowest part (measured
on 2 shared cores: 3 ms of work took 40 ms in a two-thread region). Here the tasks are
taken in turn by whichever thread is free, so a slowed thread takes fewer of them, and the
tasks are fixed by the caller, not by the number of threads, so results do not depend on
it. The tasks are nogil numba kernels or NumPy/BLAS calls, which release the GIL.

Pure Python; no HyperSpy.
"""

from __future__ import annotations

import itertools
import threading


def run_tasks(task, n_tasks: int, n_threads: int) -> None:
    """Call ``task(i, t)`` for every ``i`` in ``range(n_tasks)``, ``t`` being the thread (0 .. n_threads - 1).

    The calling thread is thread 0 and works too. An exception raised by a task is
    re-raised here after every thread has stopped.
    """
    n_threads = max(1, min(int(n_threads), int(n_tasks)))
    if n_threads == 1:
        for i in range(n_tasks):
            task(i, 0)
        return
    counter = itertools.count()  # next() is atomic under the GIL
    errors = []

    def work(t):
        try:
            for i in iter(lambda: next(counter), None):
                if i >= n_tasks or errors:
                    return
                task(i, t)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(1, n_threads)]
    for thread in threads:
        thread.start()
    work(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
