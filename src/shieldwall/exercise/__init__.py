"""shieldwall.exercise"""
