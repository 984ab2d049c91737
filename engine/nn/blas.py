"""One BLAS thread while network kernels run.  The matrices of these networks are small
(128 x 64 x 64): a second OpenBLAS thread gains little on an idle machine and, on a 2-core
machine whose other core is busy (the GUI, another process), makes every product wait for
a preempted thread, which measured 10-40x slower (benchmarks/bench_nn.py)."""
from __future__ import annotations

import contextlib
from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (numba's np.dot calls this BLAS: load it first)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def single_thread():
    """Context manager limiting every loaded BLAS to one thread (a no-op without threadpoolctl)."""
    c = _controller()
    return c.limit(limits=1, user_api="blas") if c is not None else contextlib.nullcontext()
