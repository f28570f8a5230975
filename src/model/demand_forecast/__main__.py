"""`python -m demand_forecast` delegates to the console entry point."""

import sys

from demand_forecast.cli import main

sys.exit(main())
