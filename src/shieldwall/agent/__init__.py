"""shieldwall.agent"""
