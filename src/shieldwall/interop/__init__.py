"""shieldwall.interop"""
