"""The :class:`AttractorModel` abstraction.

An attractor model is a fitted, low-dimensional description of how a recurrent
classifier computes: which manifold of (approximate) fixed points its states
live on, how inputs move the state along it, and a reduced model that predicts
the network's output from that description alone.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import xarray as xr
from numpy.typing import ArrayLike

from dynalyze._validation import FloatArray

if TYPE_CHECKING:  # pragma: no cover
    from dynalyze.classifier import RecurrentClassifier

__all__ = ["AttractorModel"]


class AttractorModel(abc.ABC):
    """A fitted low-dimensional account of a recurrent classifier.

    Subclasses are frozen attrs configurations; :meth:`fit` takes the arrays
    and returns a labelled dataset, :meth:`predict` evaluates the reduced model
    stored in that dataset.

    Examples
    --------
    :class:`~dynalyze.LineAttractor` is the built-in model; on a network with an
    exact line attractor its reduced model reproduces the network's logits:

    >>> import numpy as np
    >>> from dynalyze.analyses.line_attractor import Evidence, LineAttractor
    >>> from dynalyze.testing.toys import exact_integrator
    >>> clf, traj = exact_integrator()
    >>> model = LineAttractor(n_initial=60, evidence=Evidence(n_plot=50, n_null=200,
    ...                       relaxation_steps=5, n_relaxation=10))
    >>> isinstance(model, AttractorModel), model.kind
    (True, 'line_attractor')
    >>> fitted = model.fit(clf, traj)
    >>> bool(np.allclose(model.predict(fitted, traj["token_id"].values), traj["logit"], atol=1e-5))
    True
    """

    #: Dataset kind written by :meth:`fit`.
    kind: ClassVar[str] = ""

    @abc.abstractmethod
    def fit(
        self,
        classifier: RecurrentClassifier,
        trajectories: xr.Dataset,
    ) -> xr.Dataset:
        """Fit the description to a classifier and its hidden-state trajectories."""

    @abc.abstractmethod
    def predict(self, fitted: xr.Dataset, ids: ArrayLike) -> FloatArray:
        """Reduced-model logits for documents given as token-id matrices."""
