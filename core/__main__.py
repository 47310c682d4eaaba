"""`python -m core`: train a zoo model or list saved runs from the command line."""

import sys

from core.cli import main

sys.exit(main())
