"""shieldwall.hub"""
