"""Float64 NumPy activations with analytic derivatives, by Keras name.

Built-in systems support the activations listed in :data:`ACTIVATIONS`; a
Keras cell using any other activation is wrapped by the generic autodiff system
of :mod:`dynalyze.keras` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import expit

from dynalyze._validation import FloatArray
from dynalyze.errors import UnsupportedModelError

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "activation_name",
    "get_activation",
    "keras_activation_name",
]


class Activation:
    """An elementwise function with its derivative expressed through (z, f(z)).

    Parameters
    ----------
    name : str
        Keras name of the activation.
    fn : callable
        ``f(z)``.
    grad : callable
        ``f'(z)`` computed from ``(z, f(z))`` (so it can reuse the value).
    bounds : tuple of float
        Closed interval containing every value of ``f`` (``-inf``/``inf`` if unbounded).

    Examples
    --------
    >>> import numpy as np
    >>> tanh = get_activation("tanh")
    >>> z = np.array([0.0, 1.0])
    >>> f = tanh.fn(z)
    >>> np.allclose(tanh.grad(z, f), 1 - np.tanh(z) ** 2), tanh.bounds
    (True, (-1.0, 1.0))
    """

    def __init__(
        self,
        name: str,
        fn: Callable[[FloatArray], FloatArray],
        grad: Callable[[FloatArray, FloatArray], FloatArray],
        bounds: tuple[float, float] = (-np.inf, np.inf),
    ) -> None:
        self.name = name
        self.fn = fn
        self.grad = grad
        self.bounds = bounds

    def __call__(self, z: FloatArray) -> FloatArray:
        return self.fn(z)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _sigmoid(z: FloatArray) -> FloatArray:
    # SciPy's logistic ufunc: one pass, stable for large |z| and within an ulp of
    # the branchy exp(-z) / exp(z) form (which took 6x longer with its boolean masks).
    out: FloatArray = expit(z)
    return out


def _hard_sigmoid(z: FloatArray) -> FloatArray:
    # Keras 3: relu6(x + 3) / 6
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


ACTIVATIONS: MappingProxyType[str, Activation] = MappingProxyType(
    {
        "tanh": Activation("tanh", np.tanh, lambda z, f: 1.0 - f * f, (-1.0, 1.0)),
        "sigmoid": Activation("sigmoid", _sigmoid, lambda z, f: f * (1.0 - f), (0.0, 1.0)),
        "linear": Activation("linear", lambda z: z, lambda z, f: np.ones_like(z)),
        "relu": Activation(
            "relu",
            lambda z: np.maximum(z, 0.0),
            lambda z, f: (z > 0).astype(np.float64),
            (0.0, np.inf),
        ),
        "hard_sigmoid": Activation(
            "hard_sigmoid",
            _hard_sigmoid,
            lambda z, f: ((z > -3.0) & (z < 3.0)).astype(np.float64) / 6.0,
            (0.0, 1.0),
        ),
    }
)


def get_activation(name: str | None) -> Activation:
    """Look up a supported activation by Keras name (``None`` means linear).

    Examples
    --------
    >>> get_activation("tanh")(np.array([0.0])).tolist()
    [0.0]
    """
    key = "linear" if name is None else str(name)
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise UnsupportedModelError(
            f"Activation {key!r} has no analytic float64 implementation; supported: "
            f"{sorted(ACTIVATIONS)}. Wrap the cell with system='keras' for autodiff Jacobians."
        ) from None


def activation_name(activation: Any) -> str:
    """Name of an activation given as None (linear), a name, or a function object.

    A function object is named by its ``__name__`` (Keras's activations are
    plain functions such as ``keras.activations.tanh``), so the name can be
    passed to :func:`get_activation`.

    Examples
    --------
    >>> import math
    >>> activation_name(None), activation_name("relu"), activation_name(math.tanh)
    ('linear', 'relu', 'tanh')
    """
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return str(name)


def keras_activation_name(activation: Any) -> str:
    """Deprecated alias of :func:`activation_name` (kept for one release).

    Examples
    --------
    >>> import math, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     keras_activation_name(math.tanh)
    'tanh'
    """
    warnings.warn(
        "dynalyze.systems.activations.keras_activation_name is deprecated; use "
        "activation_name (same module) instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return activation_name(activation)
