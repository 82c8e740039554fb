"""An example dynalyze analysis plug-in: where does one word drive the network if read forever?"""

from dynalyze_driven.analysis import FRAGMENT, DrivenPoints, DrivenSummary

__all__ = ["FRAGMENT", "DrivenPoints", "DrivenSummary"]
