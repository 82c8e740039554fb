"""Example dynalyze extension: a leaky RNN cell and its analytic recurrent system.

The package is split so that each side imports only what it needs:

- :mod:`dynalyze_leaky.cell` holds the Keras cell (imports Keras);
- :mod:`dynalyze_leaky.system` holds the dynalyze system (NumPy only, built
  from weight arrays);
- :mod:`dynalyze_leaky.adapter` says how dynalyze builds the system from the
  Keras cell (no Keras import).

dynalyze loads :mod:`dynalyze_leaky.adapter` through the ``dynalyze.systems``
entry point when it first needs its systems; nothing has to import it.
"""

__version__ = "0.1.0"
