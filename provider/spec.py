"""The stack configuration's old address: every name lives in ``provider.config`` now.

Why kept: the providers, the simulator, the transport and the tests import ``provider.spec``, and
``python -m provider.spec check stacks/Pulumi.<stack>.yaml`` is the documented offline check. New code
may import from ``provider.config`` (its docstring says which module does what). This module re-exports
exactly the package's public names (``provider.config.__all__``), so the two cannot drift apart.
"""

from __future__ import annotations

import sys

from provider.config import *  # noqa: F403 - the facade is the package's public names, by definition
from provider.config import __all__ as __all__
from provider.config import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m provider.spec"))
