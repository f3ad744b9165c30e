"""`python -m rtaudiod`: the daemon (see rtaudiod/daemon/main.py)."""

import sys

from rtaudiod.daemon.main import main

sys.exit(main())
