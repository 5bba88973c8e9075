"""Command-line adapter (``pmargin``)."""
