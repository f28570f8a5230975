"""`python -m stackctl` delegates to the console entry point."""

import sys

from stackctl.cli import main

sys.exit(main())
