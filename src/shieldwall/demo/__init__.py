"""``shieldwall demo``: a live alliance on one machine."""
