"""`python -m channels.cli ...`: the `persona` command."""

import sys

from channels.cli import main

sys.exit(main())
