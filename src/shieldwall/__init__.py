"""shieldwall: collective defence for servers."""

__version__ = "0.1.0"
