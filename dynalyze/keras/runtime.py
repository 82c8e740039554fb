"""Process-wide TensorFlow settings a worker needs before it trains."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["pin_threads", "thread_environment"]

#: Keeps the BLAS limit of :func:`pin_threads` alive for the life of the process.
_BLAS_LIMIT: list[Any] = []


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables limiting TensorFlow, BLAS/OpenMP and dynalyze to ``threads``.

    Effective in a process that reads them before importing those libraries
    (e.g. the environment of a new worker process).

    Examples
    --------
    >>> thread_environment(1)["OMP_NUM_THREADS"]
    '1'
    """
    value = str(int(threads))
    return {
        name: value
        for name in (
            "DYNALYZE_NUM_THREADS",
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "TF_NUM_INTRAOP_THREADS",
            "TF_NUM_INTEROP_THREADS",
        )
    }


def pin_threads(threads: int) -> dict[str, str]:
    """Limit TensorFlow, BLAS and dynalyze's own worker pool to ``threads`` threads.

    Meant for a process that runs one job at a time (a Dask worker with one
    thread): environment variables cover libraries not imported yet,
    ``tf.config.threading`` covers TensorFlow if it is imported but not yet
    initialised, and threadpoolctl limits BLAS libraries already loaded.

    Returns
    -------
    dict
        The environment variables set.

    Examples
    --------
    >>> pin_threads(2)["TF_NUM_INTRAOP_THREADS"]
    '2'
    """
    settings = thread_environment(threads)
    os.environ.update(settings)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:  # already initialised: its thread pools are fixed
            pass
    try:
        from threadpoolctl import threadpool_limits

        _BLAS_LIMIT[:] = [threadpool_limits(int(threads))]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    return settings
