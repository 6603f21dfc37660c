"""``python -m simulation.cli``: the ``carechart`` command."""

import sys

from simulation.cli.main import main

sys.exit(main())
