"""shieldwall.store"""
