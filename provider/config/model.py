"""The whole stack configuration (``ClusterSpec``), the rules across its sections, and its config keys.

Why here: the program, every provider's ``configure()`` and the offline check validate with this one
model. Config keys are ``esso-cluster:<key>`` in a stack file, where ``<key>`` is the camelCase alias of
a ``ClusterSpec`` field (``CONFIG_KEYS``); sections are objects (``SECTION_KEYS``); passwords are
top-level secret keys (``SECRET_KEYS``). The field descriptions are Pulumi.yaml's (``project_file``).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel

from provider.config import sections
from provider.config.names import split_account
from provider.config.places import temporary_folder
from provider.config.problems import STAND_IN, fail, quoted
from provider.config.rules import (
    BackupPassword,
    ServiceAccountPassword,
    SimulatorStateFile,
    WinrmPassword,
    reminder_gives_away,
)
from provider.config.sections import ConfigModel


class ClusterSpec(ConfigModel):
    """The whole stack configuration."""

    target: Literal["simulator", "winrm"] = Field(
        "winrm", description="where the remote steps run: real nodes over WinRM/PSRP, or the in-process simulator"
    )
    simulator_state: SimulatorStateFile | None = Field(
        None,
        description="target simulator only: the simulated world's state file, relative to the project directory "
        "(e.g. .state/demo-world.json)",
    )
    cluster: sections.ClusterSection = Field(description="the failover cluster")
    domain: sections.DomainSection = Field(description="the Active Directory domain")
    sso: sections.SsoSection = Field(description="Enterprise SSO's accounts and groups")
    database: sections.DatabaseSection = Field(description="the SSO database")
    backup: sections.BackupSection = Field(
        default_factory=sections.BackupSection, description="the master secret backup on nodes[0]"
    )
    escrow: sections.EscrowSection = Field(
        default_factory=sections.EscrowSection,
        description="where the backup is kept for the restores on the other nodes",
    )
    transport: sections.TransportSection = Field(
        default_factory=sections.TransportSection, description="how nodes are reached over WinRM"
    )
    allow_disruption: bool = Field(
        False,
        description="allow steps that move the cluster role or cycle ENTSSO (restores, failover proof, repairs): "
        "set true for a maintenance window",
    )
    failover: sections.FailoverSection = Field(
        default_factory=sections.FailoverSection, description="the failover proof"
    )
    policy: sections.PolicySection = Field(
        default_factory=sections.PolicySection, description="what may happen to the SSO system"
    )
    existing_system: sections.ExistingSystemSection = Field(
        default_factory=sections.ExistingSystemSection,
        description="set when the SSO system already exists: every node joins it and its master secret comes from "
        "the current master secret server or a provided backup (docs/adopt.md)",
    )
    service_account_password: ServiceAccountPassword = Field(
        description="the password of sso.serviceAccount (ENTSSO's logon); required: "
        "pulumi config set --secret serviceAccountPassword"
    )
    backup_password: BackupPassword | None = Field(
        None, description="the master secret backup password; required unless escrow.passwordSecretId is set"
    )
    winrm_password: WinrmPassword | None = Field(
        None,
        description="the password of sso.configuringAccount, the WinRM logon; required with target winrm unless "
        "transport.auth is certificate",
    )

    @model_validator(mode="after")
    def _spec_rules(self, info: ValidationInfo) -> Self:
        allow_missing = bool((info.context or {}).get("allow_missing_secrets"))
        problems = cross_section_problems(
            {name: getattr(self, name) for name in type(self).model_fields}, allow_missing
        )
        if problems:
            fail(problems)
        return self


def cross_section_problems(values: Mapping[str, Any], allow_missing: bool) -> list[tuple[str, str]]:
    """Rules across sections. ``values`` maps field names to validated values; a field that failed is absent.

    Called by the model, and by the loaders over the sections that validate on their own, so that a bad
    section elsewhere does not hide these problems.
    """
    problems: list[tuple[str, str]] = []
    target = values.get("target")
    if target == "simulator" and "simulator_state" in values and values["simulator_state"] is None:
        problems.append(
            (
                "simulatorState",
                "is required with target: simulator: give the simulator's state file, e.g. .state/demo-world.json "
                "(relative to the project directory)",
            )
        )
    if target == "winrm" and values.get("simulator_state") is not None:
        problems.append(("simulatorState", "is only used with target: simulator: remove it"))
    transport = values.get("transport")
    if (
        target == "winrm"
        and "winrm_password" in values
        and values["winrm_password"] is None
        and isinstance(transport, sections.TransportSection)
        and transport.auth != "certificate"
        and not allow_missing
    ):
        problems.append(
            (
                "winrmPassword",
                "is required with target: winrm (it is sso.configuringAccount's password, the WinRM logon): run "
                "`pulumi config set --secret winrmPassword`, or use transport.auth: certificate",
            )
        )
    sso = values.get("sso")
    if isinstance(transport, sections.TransportSection) and isinstance(sso, sections.SsoSection):
        from provider.remote.transport_rules import account_problems  # the transport applies it too

        problems += [(f"transport.{key}", why) for key, why in account_problems(transport, sso.configuring_account)]
    escrow = values.get("escrow")
    if (
        "backup_password" in values
        and values["backup_password"] is None
        and isinstance(escrow, sections.EscrowSection)
        and escrow.password_secret_id is None
        and not allow_missing
    ):
        problems.append(
            (
                "backupPassword",
                "is required to back up the master secret: run `pulumi config set --secret backupPassword`, or set "
                "escrow.passwordSecretId to a Secrets Manager secret that holds it",
            )
        )
    if isinstance(escrow, sections.EscrowSection) and escrow.kind == "local" and escrow.path is None:
        problems.append(
            (
                "escrow.path",
                "is required with escrow.kind: local (the default): give a persistent folder for the master secret "
                "backup (absolute, or relative to the project directory), or use escrow.kind: s3",
            )
        )
    if (
        target == "winrm"
        and isinstance(escrow, sections.EscrowSection)
        and escrow.kind == "local"
        and escrow.path is not None
        and temporary_folder(escrow.path) is not None
    ):
        problems.append(
            (
                "escrow.path",
                f"{quoted(escrow.path)} is a temporary folder; the master secret backup must outlive the machine's "
                "clean-ups: choose a folder that is kept and backed up, or escrow.kind: s3 (only the simulator "
                "target may use a temporary escrow)",
            )
        )
    domain = values.get("domain")
    sso = values.get("sso")
    if isinstance(domain, sections.DomainSection) and isinstance(sso, sections.SsoSection):
        for key, account in (("serviceAccount", sso.service_account), ("configuringAccount", sso.configuring_account)):
            account_domain, user = split_account(account)
            if account_domain.upper() != domain.name.upper():
                problems.append(
                    (
                        f"sso.{key}",
                        f"{quoted(account)} is in domain {quoted(account_domain)} but domain.name is "
                        f"{quoted(domain.name)}: the SSO groups and accounts live in one domain; write "
                        f"{domain.name}\\{user}, or correct domain.name",
                    )
                )
    backup = values.get("backup")
    password = values.get("backup_password")
    if isinstance(backup, sections.BackupSection) and isinstance(password, SecretStr) and backup.reminder:
        secret = password.get_secret_value()
        if secret != STAND_IN and reminder_gives_away(backup.reminder, secret):
            problems.append(
                (
                    "backup.reminder",
                    "is too close to backupPassword (it holds the password, reversed, or two thirds of it or more, "
                    "in some case or spacing): write a hint that does not give the password away",
                )
            )
    problems += sections.existing_system_problems(values.get("existing_system"), values.get("cluster"))
    return problems


def _holds_secret(annotation: Any) -> bool:
    """Whether a field's type is, or may be, a SecretStr (``Annotated`` and ``| None`` looked through)."""
    return annotation is SecretStr or any(_holds_secret(arg) for arg in typing.get_args(annotation))


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The section model a field holds, or None for a scalar field."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


FIELDS = ClusterSpec.model_fields
CONFIG_KEYS: tuple[str, ...] = tuple(to_camel(name) for name in FIELDS)
SECRET_KEYS: tuple[str, ...] = tuple(to_camel(name) for name, f in FIELDS.items() if _holds_secret(f.annotation))
SECTION_KEYS: tuple[str, ...] = tuple(to_camel(name) for name, f in FIELDS.items() if section_model(f.annotation))
