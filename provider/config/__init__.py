"""The stack configuration: the one place a stack's words are checked.

Why a package: the rules, the model, problem reporting, loading and the command line are separate jobs.
Read it in this order:

* ``problems`` - ``Problem``, ``SpecError`` (ESSO-040) and the one rule error every rule raises;
* ``names``, ``places`` - the rule functions (Windows and AD names; SQL Server, paths, AWS names);
* ``rules`` - each rule as a reusable ``Annotated`` type (``ClusterNodes``, ``DomainAccount``, ...) that
  the stack model and the resources' inputs both annotate with;
* ``sections``, ``model`` - the sections and ``ClusterSpec``, field declarations with descriptions, and
  the rules across fields and sections;
* ``translation`` - pydantic's errors as dotted keys with the fix, and key suggestions;
* ``loading`` - stack files, prefixed keys, JSON sections, secure values, stand-ins, redaction;
* ``project_file`` - Pulumi.yaml's config declarations and the README table, generated from the model;
* ``cli`` - ``python -m provider.config check stacks/Pulumi.<stack>.yaml`` (also ``python -m provider.spec``).

Errors name the dotted config key as the user writes it (``cluster.nodes[1]``, ``transport.readTimeout``)
and the fix; secrets are ``SecretStr`` and never echoed.
"""

from provider.config.cli import main
from provider.config.loading import STAND_IN, check_stack_file, load_spec, load_stack_file
from provider.config.model import CONFIG_KEYS, SECRET_KEYS, SECTION_KEYS, ClusterSpec
from provider.config.names import split_account
from provider.config.places import ESSO_FOLDER, sql_server_parts, temporary_folder
from provider.config.problems import PROJECT, Problem, SpecError, printable
from provider.config.rules import DEFAULT_ADMIN_GROUP, DEFAULT_AFFILIATE_GROUP, DEFAULT_RESOURCE_NAME
from provider.config.sections import (
    BackupSection,
    ClusterSection,
    DatabaseSection,
    DomainSection,
    EscrowSection,
    FailoverSection,
    PolicySection,
    SsoSection,
    TransportSection,
)
from provider.config.translation import problems_of

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
    "printable",
    "problems_of",
    "split_account",
    "sql_server_parts",
    "temporary_folder",
]
