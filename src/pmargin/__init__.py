"""pmargin: a portfolio margin engine for crypto derivatives.

Layers (dependencies point downward) are DESIGN.md's table, checked by ``tests/test_layers.py``;
``docs/architecture.md`` says where each concept lives. See the README and ``docs/`` for
conventions and units.
"""

__version__ = "0.1.0"
