"""A system seen at a constant input offset: ``G(h, u) = F(h, x_b + u)``.

A trained sentiment network does not run at zero input: every token it reads is
an embedding vector, and the expected one (the *baseline input* ``x_b``, see
:mod:`dynalyze.baseline`) is far from zero for our trained embeddings. Analysing
``F(h, 0)`` then describes a system the network never runs. Wrapping the cell as
:class:`InputShiftedSystem` moves the origin of the input to ``x_b``: every
zero-input computation of the wrapped system (fixed points, the manifold
profile, relaxation, exact roots, linearizations) is the original system's at
``x_b``, and an input ``u`` is a deviation from it (a token's is ``e_w - x_b``).

The Jacobians are the wrapped system's own (analytic, autodiff or finite
differences) evaluated at ``x_b + u``; ``dG/du = dF/dx``.

This is the NumPy half of a function-preserving reparametrisation: shifting
every embedding row by ``-x_b`` and folding ``x_b`` into the recurrent layer's
input bias gives the same network, whose zero-input analysis equals this one
(the tests check it against Keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray, as_float_array, check_finite
from dynalyze.errors import ConfigurationError
from dynalyze.systems.base import RecurrentSystem, StateLayout

__all__ = ["InputShiftedSystem", "at_input"]


class InputShiftedSystem(RecurrentSystem):
    """``G(h, u) = F(h, offset + u)``: a system whose zero input is ``offset``.

    Parameters
    ----------
    system : RecurrentSystem
        The original map ``F``.
    offset : array_like, shape (input_dim,)
        The input that becomes the origin (e.g. the baseline input ``x_b``).

    Examples
    --------
    The fixed point of ``h' = 0.5 h + x`` at ``x = 1`` is ``h = 2``; at the
    shifted system's zero input it is the same:

    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(1), 0.5 * np.eye(1), np.zeros(1), activation="linear")
    >>> shifted = InputShiftedSystem(system, [1.0])
    >>> shifted.step(np.array([[2.0]])).tolist()
    [[2.0]]
    >>> shifted.step(np.array([[2.0]]), np.array([[-1.0]])).tolist()  # back to F(h, 0)
    [[1.0]]
    """

    def __init__(self, system: RecurrentSystem, offset: ArrayLike) -> None:
        if not isinstance(system, RecurrentSystem):
            raise ConfigurationError(
                f"InputShiftedSystem wraps a dynalyze RecurrentSystem; got "
                f"{type(system).__name__}. Wrap a Keras object with dynalyze.wrap first."
            )
        vector = as_float_array(offset, "offset").reshape(-1)
        if vector.shape != (system.input_dim,):
            raise ConfigurationError(
                f"The input offset must have {system.input_dim} entries (the system's input "
                f"width); got {vector.shape[0]}. Pass one value per input unit."
            )
        check_finite(vector, "offset")
        self.base = system
        self.offset: FloatArray = vector.copy()
        self.offset.setflags(write=False)

    # ------------------------------------------------------------ shape
    @property
    def state_dim(self) -> int:
        return self.base.state_dim

    @property
    def input_dim(self) -> int:
        return self.base.input_dim

    @property
    def layout(self) -> StateLayout:
        return self.base.layout

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        return self.base.state_bounds

    @property
    def jacobian_method(self) -> str:
        return self.base.jacobian_method

    def describe(self) -> dict[str, Any]:
        """The wrapped system's provenance, with the offset's norm."""
        return {**self.base.describe(), "input_offset_norm": float(np.linalg.norm(self.offset))}

    # ------------------------------------------------------------ hooks
    def _shift(self, x: FloatArray) -> FloatArray:
        return np.ascontiguousarray(x + self.offset)

    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self.base._step(h, self._shift(x))

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self.base._jacobians(h, self._shift(x))

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self.base._jacobian_state(h, self._shift(x))

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self.base._jacobian_input(h, self._shift(x))

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        return self.base._step_and_jacobian_state(h, self._shift(x))

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        return self.base._vjp_state(h, self._shift(x), v)

    def __repr__(self) -> str:
        return (
            f"InputShiftedSystem({self.base!r}, offset norm "
            f"{float(np.linalg.norm(self.offset)):.4g})"
        )


def at_input(system: RecurrentSystem, offset: ArrayLike | None) -> RecurrentSystem:
    """``system`` seen at input ``offset`` (the system itself when the offset is zero or None).

    Examples
    --------
    >>> import numpy as np
    >>> from dynalyze.systems import SimpleRNNSystem
    >>> system = SimpleRNNSystem(np.eye(2), np.eye(2), np.zeros(2))
    >>> at_input(system, np.zeros(2)) is system, type(at_input(system, [0.1, 0.0])).__name__
    (True, 'InputShiftedSystem')
    """
    if offset is None:
        return system
    vector = as_float_array(offset, "offset").reshape(-1)
    if vector.size == system.input_dim and not np.any(vector):
        return system
    if isinstance(system, InputShiftedSystem):
        return InputShiftedSystem(system.base, system.offset + vector)
    return InputShiftedSystem(system, vector)
