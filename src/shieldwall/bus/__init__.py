"""shieldwall.bus"""
