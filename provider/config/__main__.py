"""``python -m provider.config check stacks/Pulumi.<stack>.yaml``: see ``provider.config.cli``."""

import sys

from provider.config.cli import main

sys.exit(main())
