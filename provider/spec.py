"""The stack configuration's old address: every name lives in ``provider.config`` now.

Why kept: the providers, the simulator, the transport and the tests import ``provider.spec``, and
``python -m provider.spec check stacks/Pulumi.<stack>.yaml`` is the documented offline check. New code
may import from ``provider.config`` (see its docstring for which module does what).
"""

from __future__ import annotations

import sys

from provider.config import (
    CONFIG_KEYS,
    DEFAULT_ADMIN_GROUP,
    DEFAULT_AFFILIATE_GROUP,
    DEFAULT_RESOURCE_NAME,
    ESSO_FOLDER,
    PROJECT,
    SECRET_KEYS,
    SECTION_KEYS,
    STAND_IN,
    BackupSection,
    ClusterSection,
    ClusterSpec,
    DatabaseSection,
    DomainSection,
    EscrowSection,
    FailoverSection,
    PolicySection,
    Problem,
    SpecError,
    SsoSection,
    TransportSection,
    check_stack_file,
    load_spec,
    load_stack_file,
    main,
    problems_of,
    split_account,
    sql_server_parts,
    temporary_folder,
)

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_ADMIN_GROUP",
    "DEFAULT_AFFILIATE_GROUP",
    "DEFAULT_RESOURCE_NAME",
    "ESSO_FOLDER",
    "PROJECT",
    "SECRET_KEYS",
    "SECTION_KEYS",
    "STAND_IN",
    "BackupSection",
    "ClusterSection",
    "ClusterSpec",
    "DatabaseSection",
    "DomainSection",
    "EscrowSection",
    "FailoverSection",
    "PolicySection",
    "Problem",
    "SpecError",
    "SsoSection",
    "TransportSection",
    "check_stack_file",
    "load_spec",
    "load_stack_file",
    "main",
    "problems_of",
    "split_account",
    "sql_server_parts",
    "temporary_folder",
]

if __name__ == "__main__":
    sys.exit(main(prog="python -m provider.spec"))
