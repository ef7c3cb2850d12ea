import sys

from shieldwall.cli import main

sys.exit(main())
