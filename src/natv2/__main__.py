"""`python -m natv2 ...` (and `torchrun -m natv2 ...`) is the `natv2` command."""

import sys

from natv2.cli.main import main

sys.exit(main())
