"""Version of the dynalyze package."""

__version__ = "0.1.0"
