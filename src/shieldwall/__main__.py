from shieldwall.cli import script

script()
