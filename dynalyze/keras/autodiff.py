"""TensorFlow autodiff of a float64 step function: the one implementation.

:class:`TapeFunctions` compiles, for one TensorFlow step function
``F(h, x)``, the step itself, its Jacobians (``tf.GradientTape.batch_jacobian``)
and its vector-Jacobian product, each traced once with ``tf.function``.
:class:`~dynalyze.keras.KerasCellSystem` (the one system with autodiff
Jacobians: every Keras cell without an analytic system) uses it through
:func:`tape_functions`. :mod:`dynalyze.systems` never imports this module.

TensorFlow is imported only when a function is first compiled, so
``import dynalyze`` stays light.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from dynalyze._validation import FloatArray
from dynalyze.systems.finite_differences import chunks

__all__ = ["TapeFunctions", "import_tensorflow", "tape_functions"]

#: Which Jacobians a call computes.
JacobianKind = Literal["both", "state", "input"]

_CACHE: weakref.WeakKeyDictionary[Any, TapeFunctions] = weakref.WeakKeyDictionary()


class _StepsTensors(Protocol):
    """An object with ``_step_tensor(h, x)``: ``F`` on float64 TensorFlow tensors."""

    def _step_tensor(self, h: Any, x: Any) -> Any: ...


def import_tensorflow() -> Any:
    """Import TensorFlow lazily (it takes seconds and is needed only here).

    Examples
    --------
    >>> import_tensorflow().__name__
    'tensorflow'
    """
    import tensorflow as tf

    return tf


class TapeFunctions:
    """Compiled step, Jacobians and VJP of one TensorFlow step function.

    Parameters
    ----------
    step_tensor : callable
        ``F(h, x)`` on float64 tensors ``(n, state_dim)`` and ``(n, input_dim)``,
        returning float64 ``(n, state_dim)``, written with TensorFlow operations.

    Examples
    --------
    >>> import numpy as np
    >>> tape = TapeFunctions(lambda h, x: import_tensorflow().tanh(h) + x)
    >>> y, jh, jx = tape.jacobians("both", np.zeros((2, 3)), np.ones((2, 3)))
    >>> y.tolist()[0], np.allclose(jh, np.eye(3)), np.allclose(jx, np.eye(3))
    ([1.0, 1.0, 1.0], True, True)
    """

    def __init__(self, step_tensor: Callable[[Any, Any], Any]) -> None:
        self._step_tensor = step_tensor
        self._compiled: dict[str, Any] = {}

    def _function(self, kind: str) -> Any:
        fn = self._compiled.get(kind)
        if fn is None:
            tf = import_tensorflow()
            body: Any
            if kind == "step":
                body = self._step_tensor
            elif kind == "vjp":
                body = self._vjp_tensor
            else:
                body = self._jacobian_tensors(kind)
            fn = tf.function(body, reduce_retracing=True)
            self._compiled[kind] = fn
        return fn

    def _vjp_tensor(self, h: Any, x: Any, v: Any) -> Any:
        tf = import_tensorflow()
        with tf.GradientTape() as tape:
            tape.watch(h)
            y = self._step_tensor(h, x)
        return tape.gradient(
            y, h, output_gradients=v, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )

    def _jacobian_tensors(self, kind: str) -> Callable[[Any, Any], Any]:
        tf = import_tensorflow()
        zero = tf.UnconnectedGradients.ZERO
        wrt_state, wrt_input = kind in ("both", "state"), kind in ("both", "input")

        def jacobians(h: Any, x: Any) -> Any:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(h)
                tape.watch(x)
                y = self._step_tensor(h, x)
            jh = tape.batch_jacobian(y, h, unconnected_gradients=zero) if wrt_state else y
            jx = tape.batch_jacobian(y, x, unconnected_gradients=zero) if wrt_input else y
            return y, jh, jx

        return jacobians

    def step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        """``F(h, x)`` as float64 NumPy."""
        tf = import_tensorflow()
        out = self._function("step")(tf.constant(h), tf.constant(x))
        return np.asarray(out, dtype=np.float64)

    def jacobians(
        self, kind: JacobianKind, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``F``, ``dF/dh`` and ``dF/dx`` (the ones ``kind`` names; others empty).

        Points are processed in chunks so that no chunk holds more than about
        2**25 Jacobian entries.
        """
        tf = import_tensorflow()
        fn = self._function(kind)
        n, d = h.shape
        m = x.shape[1]
        with_state, with_input = kind in ("both", "state"), kind in ("both", "input")
        y = np.empty((n, d))
        jh = np.empty((n, d, d) if with_state else (0, 0, 0))
        jx = np.empty((n, d, m) if with_input else (0, 0, 0))
        per_point = d * ((d if with_state else 0) + (m if with_input else 0))
        for part in chunks(n, per_point):
            a, b, c = fn(tf.constant(h[part]), tf.constant(x[part]))
            y[part] = np.asarray(a, dtype=np.float64)
            if with_state:
                jh[part] = np.asarray(b, dtype=np.float64)
            if with_input:
                jx[part] = np.asarray(c, dtype=np.float64)
        return y, jh, jx

    def vjp(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        """``v^T dF/dh`` for each point, as float64 NumPy."""
        tf = import_tensorflow()
        out = self._function("vjp")(tf.constant(h), tf.constant(x), tf.constant(v))
        return np.asarray(out, dtype=np.float64)


def tape_functions(system: _StepsTensors) -> TapeFunctions:
    """The (cached) :class:`TapeFunctions` of ``system._step_tensor``.

    The cache holds the system weakly, and the compiled functions call it
    through a weak reference, so they never keep it alive.

    Examples
    --------
    >>> import numpy as np
    >>> class Tanh:
    ...     recurrent_kernel, kernel = 0.5 * np.eye(2), np.eye(2)
    ...     def _step_tensor(self, h, x):
    ...         tf = import_tensorflow()
    ...         return tf.tanh(h @ self.recurrent_kernel + x @ self.kernel)
    >>> system = Tanh()
    >>> tape_functions(system) is tape_functions(system)
    True
    >>> np.allclose(tape_functions(system).jacobians("state", np.zeros((1, 2)),
    ...                                              np.zeros((1, 2)))[1], 0.5 * np.eye(2))
    True
    """
    functions = _CACHE.get(system)
    if functions is None:
        ref = weakref.ref(system)

        def step_tensor(h: Any, x: Any) -> Any:
            target = ref()
            if target is None:  # pragma: no cover - the system owns the call
                raise ReferenceError("the recurrent system was garbage-collected")
            return target._step_tensor(h, x)

        functions = TapeFunctions(step_tensor)
        _CACHE[system] = functions
    return functions
