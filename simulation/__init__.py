"""How time and chance unfold around the pathway (imports :mod:`pathway`, never the reverse)."""
