"""``python -m framestyle`` runs the ``stylize`` command line."""

import sys

from .cli import main

sys.exit(main())
