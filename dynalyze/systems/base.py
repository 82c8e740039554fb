"""The :class:`RecurrentSystem` abstraction: a cell's one-step map ``h' = F(h, x)``.

A recurrent system works on a flat float64 state vector. Multi-part states (an
LSTM's ``h`` and ``c``) are concatenated and described by a :class:`StateLayout`
so that results can say which state unit belongs to which component.

Subclasses implement :meth:`RecurrentSystem._step` (and ideally analytic
:meth:`RecurrentSystem._jacobian_state` / :meth:`RecurrentSystem._jacobian_input`).
Without analytic Jacobians a subclass still works: the base class falls back to
central finite differences. Systems are built from arrays; how a Keras cell
becomes a system (and TensorFlow autodiff for any cell) lives in
:mod:`dynalyze.keras`, which this package never imports.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynalyze._validation import FloatArray, as_batch
from dynalyze.errors import ConfigurationError

__all__ = ["RecurrentSystem", "StateComponent", "StateLayout"]

logger = logging.getLogger(__name__)


@attrs.frozen
class StateComponent:
    """One named, contiguous part of a flat state vector.

    Parameters
    ----------
    name : str
        Component name, e.g. ``"h"`` or ``"c"``.
    size : int
        Number of state units in this component.

    Examples
    --------
    >>> layout = StateLayout.from_sizes({"h": 3, "c": 3})
    >>> [(part.name, part.size) for part in layout.components]
    [('h', 3), ('c', 3)]
    >>> StateComponent("h", 3) == layout.components[0]
    True
    """

    name: str
    size: int = attrs.field()

    @size.validator
    def _check_size(self, _attribute: Any, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(
                f"StateComponent {self.name!r} needs a positive integer size; got {value!r}."
            )


def _as_components(value: Iterable[StateComponent]) -> tuple[StateComponent, ...]:
    return tuple(value)


@attrs.frozen
class StateLayout:
    """How a flat state vector splits into named components.

    Parameters
    ----------
    components : tuple of StateComponent
        Components in the order they are concatenated.

    Examples
    --------
    >>> layout = StateLayout.from_sizes({"h": 2, "c": 2})
    >>> layout.size
    4
    >>> layout.component_labels().tolist()
    ['h', 'h', 'c', 'c']
    >>> layout.slice("c")
    slice(2, 4, None)
    """

    components: tuple[StateComponent, ...] = attrs.field(converter=_as_components)

    @components.validator
    def _check_components(self, _attribute: Any, value: tuple[StateComponent, ...]) -> None:
        if not value:
            raise ConfigurationError("A StateLayout needs at least one component.")
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"StateLayout component names must be unique; got {names}.")

    @classmethod
    def from_sizes(cls, sizes: Mapping[str, int]) -> StateLayout:
        """Build a layout from an ordered mapping ``name -> size``."""
        return cls(tuple(StateComponent(name, int(size)) for name, size in sizes.items()))

    @classmethod
    def single(cls, size: int, name: str = "h") -> StateLayout:
        """A layout with one component."""
        return cls((StateComponent(name, int(size)),))

    @property
    def size(self) -> int:
        """Total number of state units."""
        return sum(c.size for c in self.components)

    @property
    def names(self) -> tuple[str, ...]:
        """Component names in order."""
        return tuple(c.name for c in self.components)

    def __iter__(self) -> Iterator[StateComponent]:
        return iter(self.components)

    def slice(self, name: str) -> slice:
        """Slice of the flat state that holds component ``name``."""
        start = 0
        for component in self.components:
            if component.name == name:
                return slice(start, start + component.size)
            start += component.size
        raise KeyError(f"No state component {name!r}; the layout has {list(self.names)}.")

    def component_labels(self) -> NDArray[np.str_]:
        """Component name of every flat state unit."""
        return np.concatenate([np.full(c.size, c.name) for c in self.components]).astype(str)

    def unit_indices(self) -> NDArray[np.int64]:
        """Index of every flat state unit within its own component."""
        return np.concatenate([np.arange(c.size, dtype=np.int64) for c in self.components])

    def to_dict(self) -> dict[str, int]:
        """The layout as an ordered ``name -> size`` mapping."""
        return {c.name: c.size for c in self.components}


class RecurrentSystem(abc.ABC):
    """A recurrent cell's one-step map ``h' = F(h, x)`` on flat float64 states.

    All public methods take batches: states ``h`` of shape ``(n, state_dim)`` and
    inputs ``x`` of shape ``(n, input_dim)``. A single input vector of shape
    ``(input_dim,)`` is shared by all states, and ``x=None`` means zero input.

    Subclasses must implement :attr:`state_dim`, :attr:`input_dim` and
    :meth:`_step`. They should implement analytic :meth:`_jacobian_state` and
    :meth:`_jacobian_input` (or :meth:`_jacobians`); otherwise the base class
    uses central finite differences. A system is built from arrays; to build it
    from a Keras cell, describe the cell in a
    :class:`dynalyze.keras.adapters.CellAdapter`.

    Examples
    --------
    A two-unit linear system ``h' = W h + U x``:

    >>> import numpy as np
    >>> from dynalyze.systems import RecurrentSystem
    >>> class Linear(RecurrentSystem):
    ...     name = "doc-linear"
    ...     def __init__(self, W, U):
    ...         self.W, self.U = np.asarray(W, float), np.asarray(U, float)
    ...     @property
    ...     def state_dim(self): return self.W.shape[0]
    ...     @property
    ...     def input_dim(self): return self.U.shape[1]
    ...     def _step(self, h, x): return h @ self.W.T + x @ self.U.T
    ...     def _jacobian_state(self, h, x):
    ...         return np.broadcast_to(self.W, (len(h), *self.W.shape)).copy()
    ...     def _jacobian_input(self, h, x):
    ...         return np.broadcast_to(self.U, (len(h), *self.U.shape)).copy()
    >>> system = Linear([[0.5, 0.0], [0.0, 0.9]], [[1.0], [0.0]])
    >>> system.step(np.ones((1, 2)), np.zeros((1, 1)))
    array([[0.5, 0.9]])
    """

    #: Registry name of the system class (``dynalyze.list_systems()`` shows it).
    name: ClassVar[str] = ""

    # ------------------------------------------------------------------ shape
    @property
    @abc.abstractmethod
    def state_dim(self) -> int:
        """Length of the flat state vector."""

    @property
    @abc.abstractmethod
    def input_dim(self) -> int:
        """Length of the input vector."""

    @property
    def layout(self) -> StateLayout:
        """Named components of the flat state (one component ``"h"`` by default)."""
        return StateLayout.single(self.state_dim)

    @property
    def state_bounds(self) -> tuple[FloatArray, FloatArray] | None:
        """Per-unit lower and upper bounds of the reachable states, or None if unknown.

        Built-in cells whose state is a convex combination of bounded activations
        (e.g. a tanh GRU's ``h`` stays in ``[-1, 1]``) declare them; the
        fixed-point finder then keeps its iterates inside this invariant box
        instead of wandering to spurious roots that no trajectory can reach.
        """
        return None

    @property
    def jacobian_method(self) -> str:
        """How Jacobians are computed: ``"analytic"`` or ``"finite-difference"``.

        Subclasses that compute them otherwise say so (the Keras package's
        :class:`~dynalyze.keras.KerasCellSystem` answers ``"autodiff"``).
        """
        cls, base = type(self), RecurrentSystem
        if cls._jacobians is not base._jacobians or (
            cls._jacobian_state is not base._jacobian_state
            and cls._jacobian_input is not base._jacobian_input
        ):
            return "analytic"
        return "finite-difference"

    def describe(self) -> dict[str, Any]:
        """Provenance of the system, stored in the global attributes of results."""
        return {
            "system": type(self).__name__,
            "system_name": self.name or type(self).__name__,
            "state_dim": self.state_dim,
            "input_dim": self.input_dim,
            "state_layout": self.layout.to_dict(),
            "jacobian_method": self.jacobian_method,
        }

    # ------------------------------------------------------------ public API
    def validate(self, h: ArrayLike, x: ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
        """Check and convert a batch of states and inputs.

        Returns float64 arrays of shapes ``(n, state_dim)`` and ``(n, input_dim)``;
        raises :class:`dynalyze.errors.InputShapeError` or
        :class:`dynalyze.errors.NonFiniteError` with a message naming the problem.
        """
        states = as_batch(h, self.state_dim, "states")
        n = states.shape[0]
        if x is None:
            inputs = np.zeros((n, self.input_dim))
        else:
            inputs = as_batch(x, self.input_dim, "inputs", n=n)
        return states, np.ascontiguousarray(inputs)

    def step(self, h: ArrayLike, x: ArrayLike | None = None) -> FloatArray:
        """One step of the map: ``F(h, x)`` for a batch, shape ``(n, state_dim)``."""
        states, inputs = self.validate(h, x)
        return self._step(states, inputs)

    def jacobian_state(self, h: ArrayLike, x: ArrayLike | None = None) -> FloatArray:
        """``dF/dh`` for a batch, shape ``(n, state_dim, state_dim)``.

        Entry ``[k, i, j]`` is ``dF_i / dh_j`` at point ``k``.
        """
        states, inputs = self.validate(h, x)
        return self._jacobian_state(states, inputs)

    def jacobian_input(self, h: ArrayLike, x: ArrayLike | None = None) -> FloatArray:
        """``dF/dx`` for a batch, shape ``(n, state_dim, input_dim)``."""
        states, inputs = self.validate(h, x)
        return self._jacobian_input(states, inputs)

    def jacobians(self, h: ArrayLike, x: ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
        """Both Jacobians at once (subclasses may share work between them)."""
        states, inputs = self.validate(h, x)
        return self._jacobians(states, inputs)

    def step_and_jacobian_state(
        self, h: ArrayLike, x: ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """``F(h, x)`` and ``dF/dh`` together (the fixed-point solver's inner call)."""
        states, inputs = self.validate(h, x)
        return self._step_and_jacobian_state(states, inputs)

    def vjp_state(self, h: ArrayLike, x: ArrayLike | None, v: ArrayLike) -> FloatArray:
        """Vector-Jacobian product ``v^T dF/dh`` for a batch, shape ``(n, state_dim)``."""
        states, inputs = self.validate(h, x)
        vectors = as_batch(v, self.state_dim, "v", n=states.shape[0])
        return self._vjp_state(states, inputs, vectors)

    # ------------------------------------------------- hooks for subclasses
    @abc.abstractmethod
    def _step(self, h: FloatArray, x: FloatArray) -> FloatArray:
        """Compute ``F(h, x)`` on validated float64 arrays."""

    def _jacobian_state(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._jacobians(h, x)[0]

    def _jacobian_input(self, h: FloatArray, x: FloatArray) -> FloatArray:
        return self._jacobians(h, x)[1]

    def _jacobians(self, h: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        overrides_state = type(self)._jacobian_state is not RecurrentSystem._jacobian_state
        overrides_input = type(self)._jacobian_input is not RecurrentSystem._jacobian_input
        if overrides_state and overrides_input:
            return self._jacobian_state(h, x), self._jacobian_input(h, x)
        from dynalyze.systems.finite_differences import finite_difference_jacobians

        _warn_finite_differences(type(self))
        return finite_difference_jacobians(self._step, h, x)

    def _step_and_jacobian_state(
        self, h: FloatArray, x: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        return self._step(h, x), self._jacobian_state(h, x)

    def _vjp_state(self, h: FloatArray, x: FloatArray, v: FloatArray) -> FloatArray:
        out: FloatArray = np.einsum("ni,nij->nj", v, self._jacobian_state(h, x))
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(state_dim={self.state_dim}, input_dim={self.input_dim}, "
            f"layout={self.layout.to_dict()})"
        )


_WARNED: set[type] = set()


def _warn_finite_differences(cls: type) -> None:
    if cls not in _WARNED:
        _WARNED.add(cls)
        logger.warning(
            "%s implements no analytic Jacobians; using central finite differences "
            "(about 1e-8 relative accuracy). Implement _jacobian_state/_jacobian_input "
            "for exact and faster Jacobians, or wrap the Keras cell with "
            "dynalyze.wrap(cell, system='keras') for TensorFlow autodiff ones.",
            cls.__name__,
        )
