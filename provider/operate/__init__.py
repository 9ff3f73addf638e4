"""Operate with confidence (issue 18): the ``esso`` command, the read-only plan, live progress, the run record.

``provider.operate.cli`` is the command line; ``plan`` builds a plan by running the real providers against a
twin of the cluster; ``progress`` sends each step to the engine while it runs; ``provider.remote.recorder``
keeps the record of every remote call.
"""
