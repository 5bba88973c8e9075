"""pmargin: a portfolio margin engine for crypto derivatives.

Layers (dependencies point downward): instruments -> market -> pricing -> valuation -> book ->
engine -> cli. See the README and ``docs/`` for conventions and units.
"""

__version__ = "0.1.0"
