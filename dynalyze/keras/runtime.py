"""Process-wide TensorFlow settings a worker needs before it trains."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["pin_threads"]

#: Keeps the BLAS limit of :func:`pin_threads` alive for the life of the process.
_BLAS_LIMIT: list[Any] = []


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
    value = str(int(threads))
    settings = {
        "DYNALYZE_NUM_THREADS": value,
        "OMP_NUM_THREADS": value,
        "OPENBLAS_NUM_THREADS": value,
        "MKL_NUM_THREADS": value,
        "TF_NUM_INTRAOP_THREADS": value,
        "TF_NUM_INTEROP_THREADS": value,
    }
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
