"""``python -m maid_smart_monitor``."""

import sys

from maid_smart_monitor.cli import main

sys.exit(main())
