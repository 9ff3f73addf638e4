"""``python -m provider.operate``: the ``esso`` command without the console script (see ``provider/operate/cli.py``)."""

from provider.operate.cli import main

raise SystemExit(main())
