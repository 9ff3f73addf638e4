"""Every .ps1 parses, obeys the script rules, and matches its contract in provider/contracts/.

The scripts are parsed, never executed (docs/design.md "Scope"): tree-sitter-pwsh reads the syntax, and the contract is
proven on the tree. What is checked is what a node receives: the script assembled with its ``#esso:include``
fragments (``provider.remote.script_source.assembled``; the fragments themselves are checked in
test_script_library.py). ``contract_errors`` is the checker; ``TestTheCheckerCanFail`` runs it on broken snippets
so a checker that silently accepts everything would be caught.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from pydantic.alias_generators import to_pascal

from provider.contracts import PARAMETERS_BY_TYPE, SCRIPTS, DtcParameters, NoParameters, Result, Script
from provider.errors import CATALOGUE, EssoError
from provider.remote.base import parse_result
from provider.remote.script_source import SCRIPTS_DIR, assembled
from tests.support.pwsh import PwshScript

SCRIPT_DIR = SCRIPTS_DIR
NAMES = sorted(SCRIPTS)
GCF = SCRIPTS["Get-ClusterFacts"]


def load(name: str) -> PwshScript:
    """The script as it is sent: assembled with its fragments."""
    return PwshScript(assembled(name), f"{name}.ps1 (assembled)")


# ------------------------------------------------------------------------------------------ the checker


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (other unions are returned as they are)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def expected_ps_type(annotation: Any) -> str:
    """The PowerShell type a contract field must have in the param() block."""
    annotation = _strip_optional(annotation)
    if annotation is SecretStr:
        return "System.Security.SecureString"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if typing.get_origin(annotation) is list:
        return "string[]"
    return "string"  # str and Literal[...] of strings


def result_keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _models(annotation: Any) -> tuple[type[BaseModel], ...]:
    """The models a type can be: Model, or each model of a union of models (per-type cluster parameters)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (annotation,)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        if members and all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
            return tuple(members)
    return ()


def _submodel(annotation: Any) -> tuple[str, tuple[type[BaseModel], ...]] | None:
    """("one", models) for a nested model field, ("list", models) for list[Model], else None."""
    annotation = _strip_optional(annotation)
    if models := _models(annotation):
        return "one", models
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if models := _models(item):
            return "list", models
    return None


def _hash_errors(script: PwshScript, hashtable: Any, model: type[BaseModel], where: str) -> list[str]:
    errors = []
    entries = script.hash_entries(hashtable)
    keys = set(entries)
    expected = result_keys(model)
    if keys != expected:
        errors.append(f"{where}: keys {sorted(keys)} != {model.__name__} {sorted(expected)}")
    for name, info in model.model_fields.items():
        alias = info.alias or name
        nested = _submodel(info.annotation)
        if nested is None or alias not in entries:
            continue
        kind, submodels = nested
        resolution = (script.resolve_items if kind == "list" else script.resolve)(entries[alias])
        for node in resolution.unresolved:
            errors.append(f"{where}.{alias}: cannot resolve {node.text!r} to a hashtable literal")
        if not resolution.hashtables and not resolution.unresolved and kind == "one" and not resolution.may_be_null:
            errors.append(f"{where}.{alias}: no hashtable found")
        for table in resolution.hashtables:
            errors.extend(_union_errors(script, table, submodels, f"{where}.{alias}"))
    return errors


def _union_errors(script: PwshScript, table: Any, models: tuple[type[BaseModel], ...], where: str) -> list[str]:
    """A hashtable must match one model of a union exactly (keys and nested tables); with one model, that model."""
    attempts = [_hash_errors(script, table, model, where) for model in models]
    if any(not found for found in attempts):
        return []
    if len(models) == 1:
        return attempts[0]
    keys = sorted(script.hash_entries(table))
    names = ", ".join(m.__name__ for m in models)
    return [f"{where}: keys {keys} match none of {names}"]


def contract_errors(script: PwshScript, contract: Script[Any, Any]) -> list[str]:
    """Everything in which the script's param() block and output hashtable disagree with the contract."""
    errors = []
    params = script.params()
    expected_names = [to_pascal(name) for name in contract.params.model_fields]
    names = [p.name for p in params]
    if names != expected_names:
        errors.append(f"param names {names} != contract wire names {expected_names}")
    by_name = {p.name: p for p in params}
    for field_name, info in contract.params.model_fields.items():
        wire = to_pascal(field_name)
        if wire not in by_name:
            continue
        want = expected_ps_type(info.annotation)
        got = by_name[wire].type
        if (got or "").lower() != want.lower():
            errors.append(f"param {wire}: type [{got}] != [{want}]")
    for param in params:
        if param.type is not None and param.type.lower() in {"securestring", "system.security.securestring"}:
            field = next((f for f in contract.params.model_fields if to_pascal(f) == param.name), None)
            if field is None or _strip_optional(contract.params.model_fields[field].annotation) is not SecretStr:
                errors.append(f"param {param.name} is a SecureString but the contract field is not SecretStr")
        if param.type is not None and param.type.lower() in {"switch", "switchparameter"}:
            errors.append(f"param {param.name} is a [switch]; contracts send [bool]")
    hashtable = script.output_hashtable()
    if hashtable is None:
        errors.append("the last statement is not a hashtable literal")
    else:
        errors.extend(_hash_errors(script, hashtable, contract.result, "output"))
    for problem in script.stray_top_level_values() + script.top_level_returns() + script.bare_output_calls():
        errors.append(f"extra output: {problem}")
    return errors


def rule_errors(script: PwshScript) -> list[str]:
    """The script rules that do not depend on the contract."""
    errors = [str(p) for p in script.problems()]
    errors += [str(p) for p in script.try_without_handler()]
    errors += [str(p) for p in script.ps7_syntax()]
    errors += [str(p) for p in script.calls_before_definition()]
    statements = script.top_statements()
    first = statements[0].text.decode() if statements and statements[0].text else ""
    if not re.fullmatch(r"\$ErrorActionPreference\s*=\s*'Stop'", first.strip()):
        errors.append(f"the first statement is not $ErrorActionPreference = 'Stop' ({first[:40]!r})")
    if not script.has_cmdlet_binding():
        errors.append("no [CmdletBinding()] param() block")
    code = script.code_text()
    for name, _node in script.commands():
        if name in {"invoke-expression", "iex"}:
            errors.append("Invoke-Expression is used")
    if re.search(r"(?i)\binvoke-expression\b|(?<![\w-])iex(?![\w-])", code):
        errors.append("Invoke-Expression/iex appears in the code")
    invoked = {name.rsplit("\\", 1)[-1].strip("'\"") for name, _node in script.commands()}
    if invoked & {"ssoconfig", "ssoconfig.exe"} or re.search(
        r"(?i)\bssoconfig(\.exe)?\b\s*['\"]?\s+-|ssoconfig\.exe", code
    ):
        errors.append("ssoconfig is invoked (the interactive CLI is never used)")
    if re.search(r"(?i)(^|[\s'\"(,])/u(?=[\s'\")]|$)", code, flags=re.M):
        errors.append("a /U switch appears in the code (Configuration.exe /U unconfigures every feature)")
    return errors


# ------------------------------------------------------------------------------------- the real scripts


def test_every_contract_has_a_script_and_every_script_a_contract() -> None:
    on_disk = {p.stem for p in SCRIPT_DIR.glob("*.ps1")}
    assert on_disk == set(SCRIPTS), (sorted(set(SCRIPTS) - on_disk), sorted(on_disk - set(SCRIPTS)))


@pytest.mark.parametrize("name", NAMES)
def test_script_obeys_the_rules(name: str) -> None:
    assert rule_errors(load(name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_script_matches_its_contract(name: str) -> None:
    assert contract_errors(load(name), SCRIPTS[name]) == []


@pytest.mark.parametrize("name", NAMES)
def test_header_says_what_and_which_seed_step(name: str) -> None:
    header = load(name).header_comment()
    assert header is not None, "no comment header before the param() block"
    assert ".SYNOPSIS" in header
    assert "Seed" in header, "the header must name the seed step it implements"
    if SCRIPTS[name].changes:
        assert re.search(r"(?i)chang|creat|remov|writ|set|grant|back|restor|mov|stop|start", header)


@pytest.mark.parametrize("name", NAMES)
def test_script_is_ascii(name: str) -> None:
    (SCRIPT_DIR / f"{name}.ps1").read_text(encoding="utf-8").encode("ascii")
    assembled(name).encode("ascii")


@pytest.mark.parametrize("name", NAMES)
def test_every_param_is_mandatory_and_named(name: str) -> None:
    for param in load(name).params():
        assert "Parameter" in param.attributes, param.name


@pytest.mark.parametrize("name", NAMES)
def test_esso_codes_exist_and_lead_their_message(name: str) -> None:
    script = load(name)
    code = script.code_text()
    for found in re.findall(r"ESSO-\d{3}", code):
        assert found in CATALOGUE, found
    for node in script.nodes_of_type("flow_control_statement"):
        text = node.text.decode() if node.text else ""
        if text.startswith("throw") and "ESSO-" in text:
            assert re.match(r"throw\s+\(?\s*['\"]ESSO-\d{3} ", text), text[:80]


@pytest.mark.parametrize(
    "name", [n for n in NAMES if any(f.annotation is SecretStr for f in SCRIPTS[n].params.model_fields.values())]
)
def test_secrets_become_plaintext_only_in_memory_and_are_freed_in_finally(name: str) -> None:
    script = load(name)
    code = script.code_text()
    assert code.count("SecureStringToBSTR(") == code.count("ZeroFreeBSTR(") > 0
    finally_text = " ".join(n.text.decode() for n in script.nodes_of_type("finally_clause") if n.text)
    assert finally_text.count("ZeroFreeBSTR(") == code.count("ZeroFreeBSTR(")
    for forbidden in ("ConvertFrom-SecureString", "PtrToStringAuto", "NetworkCredential", "Write-Host"):
        assert forbidden not in code, forbidden
    for command, node in script.commands():
        if command == "start-process":
            text = node.text.decode() if node.text else ""
            assert not re.search(r"(?i)password|bstr|secret", text), f"a secret may reach a command line: {text}"


# Configuration.exe: /noprogressbar, started in its folder, a bounded wait, the tree killed on timeout (issue 9 A1).
_BOUNDED_RUN = [
    "/noprogressbar",
    "-WorkingDirectory",
    "Wait-Process -Timeout ($TimeoutMinutes * 60)",
    "taskkill.exe /PID $process.Id /T /F",
    "ESSO-027",
    "Save-ConfigurationLog",
]


# The ActiveDirectory module is checked before it is used, naming the feature to install (issue 9 A4).
_AD_MODULE = ["Import-ActiveDirectoryModule", "Get-Module -ListAvailable -Name ActiveDirectory", "RSAT-AD-PowerShell"]


@pytest.mark.parametrize("name", ["Install-SsoSystem", "Join-SsoSystem"])
def test_configuration_exe_is_never_waited_for_without_a_bound_and_the_log_is_no_verdict(name: str) -> None:
    """Start-Process -Wait has no timeout and waits for descendants; a word "error" in the log is no failure."""
    script = load(name)
    for command, node in script.commands():
        if command == "start-process":
            text = node.text.decode() if node.text else ""
            assert not re.search(r"(?i)-Wait\b", text), text
    code = script.code_text()
    verdicts = re.findall(r"if \(([^\n]*)\) \{\n\s*\$excerpt", code)
    assert verdicts == ["$exitCode -ne 0"], verdicts


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("Restart-EntSsoService", ["ESSO-014", "Get-EntSsoClusterResource"]),
        ("Remove-SsoNodeConfiguration", ["ESSO-005", "ESSO-014", "Remove-SsossCopies", "-StartupType Disabled"]),
        (
            "Set-SsoDomainGroups",
            ["ESSO-002", "-GroupScope Global", "-GroupCategory Security", "Add-ADGroupMember", *_AD_MODULE],
        ),
        ("Get-DomainGroupFacts", _AD_MODULE),
        ("Write-FileChunk", ["ESSO-022", "Get-FileHash"]),
        ("New-ProtectedTempDir", ["New-AdminOnlyDirectorySecurity -ReaderSid $readerSid", "ReadAndExecute"]),
        ("Grant-ServiceLogonRight", ["Get-AccountTokenSids", "Test-ServiceLogonRight -Sids $tokenSids"]),
        (
            "Set-ClusteredSsoService",
            [
                "UseNetworkName = 1",
                "ServiceName = 'ENTSSO'",
                "'Generic Service'",
                "ESSO-008",
                "Grant-ClusterAccess -User $ServiceAccount -Full",
                "ClusterRights -ne 'Full'",
            ],
        ),
        (
            "Install-SsoSystem",
            ["Start-Process", "ExitCode", "/S", "/L", "ESSO-001", "ESSO-005", "ESSO-025", *_BOUNDED_RUN],
        ),
        (
            "Join-SsoSystem",
            [
                "Start-Process",
                "ExitCode",
                "ESSO-005",
                "ESSO-006",
                "Set-Service -Name 'ENTSSO' -StartupType Manual",
                *_BOUNDED_RUN,
            ],
        ),
        ("Backup-MasterSecret", ["'BackupSecret'", "Microsoft.EnterpriseSingleSignOn.Interop.dll", "ESSO-029"]),
        (
            "Get-SsoDatabaseFacts",
            ["ec_pws_msid", "ec_pns_msid", "wp_msid", "<> '00000000-0000-0000-0000-000000000000'"],
        ),
        ("Restore-MasterSecret", ["'RestoreSecret'", "ESSO-011", "ESSO-012"]),
        ("Set-SecretServerName", ["-updatedb", "ssomanage.exe", "ESSO-007", "-RedirectStandardInput $inPath"]),
        ("Set-EntSsoStartMode", ["[System.Net.Dns]::GetHostName()", "-like '*Pending'"]),
        (
            "Get-NodeFacts",
            [
                "LsaEnumerateAccountsWithUserRight",
                "GetServerStatus",
                "ms_wlbs",
                "SSOSS",
                "Registry32",
                "$flags = -1",
                "Get-AccountTokenSids",
                "System.Security.Principal.WindowsIdentity",
            ],
        ),
        ("Get-ClusterFacts", ["Distributed Transaction Coordinator", "Get-ClusterOwnerNode", "Get-ClusterParameter"]),
        ("Remove-SsoDatabase", ["Replace(']', ']]')", "DROP DATABASE"]),
    ],
)
def test_script_does_what_its_contract_says(name: str, needles: list[str]) -> None:
    code = load(name).code_text()
    for needle in needles:
        assert needle in code, needle


@pytest.mark.parametrize("name", [n for n in NAMES if not SCRIPTS[n].changes])
def test_reads_change_nothing(name: str) -> None:
    verbs = {"set", "new", "add", "remove", "start", "stop", "restart", "move", "grant", "install", "clear", "rename"}
    script = load(name)
    local_names = script.function_names()
    for command, _node in script.commands():
        verb = command.split("-", 1)[0]
        allowed = command in {"new-object", "add-type", "start-sleep"} or command in local_names
        assert verb not in verbs or allowed, command


# ------------------------------------------------------------------------------ the checker can fail

_GOOD_SET = """<#
.SYNOPSIS
    x
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$RoleName,

    [Parameter(Mandatory = $true)]
    [string]$Node,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$CycleResource
)

$ErrorActionPreference = 'Stop'

function Get-RoleState {
    @{
        ownerNode = 'a'
        state = 'Online'
    }
}

$before = Get-RoleState
$after = $before
@{
    changed = $false
    before = $before
    after = $after
}
"""


class TestTheCheckerCanFail:
    contract = SCRIPTS["Move-SsoRole"]

    def test_a_good_snippet_passes(self) -> None:
        script = PwshScript(_GOOD_SET)
        assert rule_errors(script) == []
        assert contract_errors(script, self.contract) == []

    def test_syntax_error_is_reported(self) -> None:
        script = PwshScript(_GOOD_SET.replace("$after = $before", "$after = @{ state = 1"))
        assert any("ERROR" in e or "MISSING" in e for e in rule_errors(script))

    def test_try_without_catch_or_finally_is_reported(self) -> None:
        script = PwshScript(_GOOD_SET.replace("$after = $before", "try {\n    $after = $before\n}"))
        assert any("try without catch/finally" in e for e in rule_errors(script))

    @pytest.mark.parametrize(
        "line",
        ["$after = $x ? $before : $null", "$after = $x ?? $before", "Get-Item a && Get-Item b", "$after ??= $before"],
    )
    def test_powershell_7_syntax_is_reported(self, line: str) -> None:
        script = PwshScript(_GOOD_SET.replace("$after = $before", line + "\n$after = $before"))
        assert any("PS7" in e for e in rule_errors(script))

    def test_a_call_before_the_function_is_defined_is_reported(self) -> None:
        early = "$ErrorActionPreference = 'Stop'\n$x = Get-RoleState"
        script = PwshScript(_GOOD_SET.replace("$ErrorActionPreference = 'Stop'", early))
        assert any("called before its definition" in e and "get-rolestate" in e for e in rule_errors(script))

    def test_missing_error_action_and_forbidden_commands_are_reported(self) -> None:
        broken = _GOOD_SET.replace("$ErrorActionPreference = 'Stop'", "iex 'x'\n& ssoconfig -restoresecret f")
        broken = broken.replace("$after = $before", "& $exe /U\n$after = $before")
        errors = rule_errors(PwshScript(broken))
        assert any("ErrorActionPreference" in e for e in errors)
        assert any("Invoke-Expression" in e for e in errors)
        assert any("ssoconfig" in e for e in errors)
        assert any("/U" in e for e in errors)

    def test_wrong_param_name_and_type_are_reported(self) -> None:
        broken = _GOOD_SET.replace("[string]$Node", "[switch]$NodeName")
        errors = contract_errors(PwshScript(broken), self.contract)
        assert any("param names" in e for e in errors)
        assert any("[switch]" in e for e in errors)

    def test_secure_string_for_a_plain_field_is_reported(self) -> None:
        broken = _GOOD_SET.replace("[string]$Node", "[System.Security.SecureString]$Node")
        errors = contract_errors(PwshScript(broken), self.contract)
        assert any("SecureString" in e for e in errors)

    def test_plain_string_for_a_secret_field_is_reported(self) -> None:
        source = _GOOD_SET.replace("[string]$RoleName", "[string]$BackupFile").replace(
            "[string]$Node", "[string]$BackupPassword"
        )
        errors = contract_errors(PwshScript(source), SCRIPTS["Restore-MasterSecret"])
        assert any("BackupPassword: type [string] != [System.Security.SecureString]" in e for e in errors)

    def test_wrong_top_level_key_is_reported(self) -> None:
        broken = _GOOD_SET.replace("    changed = $false", "    Changed2 = $false")
        assert any("keys" in e for e in contract_errors(PwshScript(broken), self.contract))

    def test_wrong_nested_key_through_a_function_is_reported(self) -> None:
        broken = _GOOD_SET.replace("ownerNode = 'a'", "owner = 'a'")
        errors = contract_errors(PwshScript(broken), self.contract)
        assert any("output.before" in e and "keys" in e for e in errors)
        assert any("output.after" in e for e in errors)

    def test_unresolvable_nested_value_is_reported(self) -> None:
        broken = _GOOD_SET.replace("$before = Get-RoleState", "$before = Get-Something -Else")
        assert any("cannot resolve" in e for e in contract_errors(PwshScript(broken), self.contract))

    def test_missing_output_hashtable_is_reported(self) -> None:
        broken = _GOOD_SET.rstrip() + "\n$after\n"
        errors = contract_errors(PwshScript(broken), self.contract)
        assert any("not a hashtable literal" in e for e in errors)

    def test_second_output_is_reported(self) -> None:
        for extra in ("return $before", "New-Item -Path x", "$list.Add('x')", "@{\n    a = 1\n}"):
            broken = _GOOD_SET.replace("$after = $before", "$after = $before\n" + extra)
            assert any("extra output" in e for e in contract_errors(PwshScript(broken), self.contract)), extra

    def test_discarded_output_is_accepted(self) -> None:
        for fine in ("$null = New-Item -Path x", "New-Item -Path x | Out-Null", "[void]$list.Add('x')"):
            source = _GOOD_SET.replace("$after = $before", "$after = $before\n" + fine)
            assert contract_errors(PwshScript(source), self.contract) == [], fine

    def test_list_items_are_checked(self) -> None:
        source = """[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$RoleName
)
$ErrorActionPreference = 'Stop'
$nodes = @(
    foreach ($n in $all) {
        @{
            name = 'a'
            status = 'Up'
        }
    }
)
@{
    clusterName = 'c'
    nodes = $nodes
    role = $null
    resources = @()
    msdtc = @()
}
"""
        errors = contract_errors(PwshScript(source), SCRIPTS["Get-ClusterFacts"])
        assert errors == ["output.nodes: keys ['name', 'status'] != ClusterNodeFacts ['name', 'state']"]


def test_result_aliases_are_camel_case() -> None:
    """The checker compares with the models' aliases; make sure they are what the scripts emit."""
    assert "dataBase64" in result_keys(SCRIPTS["Read-FileChunk"].result)
    assert "needsCycle" in result_keys(SCRIPTS["Set-ClusteredSsoService"].result)
    assert issubclass(SCRIPTS["Get-NodeFacts"].result, Result)


class TestNestedDataIsTyped:
    """Issue 9 C: cluster resource parameters are per-type models keyed exactly as Get-ClusterFacts emits them."""

    def test_a_misspelt_cluster_parameter_key_fails_the_static_proof(self) -> None:
        source = assembled("Get-ClusterFacts")
        assert "CID = Get-MsdtcCid" in source
        errors = contract_errors(PwshScript(source.replace("CID = Get-MsdtcCid", "Cid = Get-MsdtcCid")), GCF)
        assert any("output.resources.parameters" in e and "'Cid'" in e for e in errors), errors
        assert any("output.msdtc.parameters" in e for e in errors), errors

    def test_keys_added_by_index_cannot_be_proven(self) -> None:
        """The old Get-ClusterFacts built ``$parameters = @{}`` then ``$parameters['Cid'] = ...``: now refused."""
        broken = _GOOD_SET.replace(
            "$after = $before", "$after = @{\n    ownerNode = 'a'\n}\n$after['state'] = 'Online'"
        )
        errors = contract_errors(PwshScript(broken), SCRIPTS["Move-SsoRole"])
        assert any("output.after: cannot resolve" in e for e in errors), errors

    def test_a_misspelt_key_fails_parsing_with_esso_037(self) -> None:
        raw = {
            "clusterName": "C",
            "nodes": [],
            "role": None,
            "resources": [],
            "msdtc": [
                {
                    "name": "MSDTC",
                    "type": "Distributed Transaction Coordinator",
                    "group": "DTC",
                    "state": "Online",
                    "parameters": {"Cid": "6b1b0b0e-0000-4000-8000-000000000001"},
                    "dependencies": [],
                    "possibleOwners": [],
                }
            ],
        }
        with pytest.raises(EssoError) as caught:
            parse_result("SSO01", GCF, raw)
        assert caught.value.code == "ESSO-037" and "msdtc.0.parameters" in str(caught.value)
        raw["msdtc"][0]["parameters"] = {"CID": "6b1b0b0e-0000-4000-8000-000000000001"}  # type: ignore[index]
        parsed = parse_result("SSO01", GCF, raw).msdtc[0].parameters
        assert isinstance(parsed, DtcParameters) and parsed.cid == "6b1b0b0e-0000-4000-8000-000000000001"

    def test_each_resource_type_has_its_own_key_set(self) -> None:
        models: list[type[BaseModel]] = [*PARAMETERS_BY_TYPE.values(), NoParameters]
        key_sets = [frozenset(result_keys(m)) for m in models]
        assert len(set(key_sets)) == len(key_sets)
        source = assembled("Get-ClusterFacts")
        for type_name in PARAMETERS_BY_TYPE:
            assert f"-eq '{type_name}'" in source, type_name


@pytest.mark.parametrize("name", NAMES)
def test_every_stop_service_is_forced(name: str) -> None:
    """Without -Force, Stop-Service fails while dependent services run (BizTalk hosts on shared nodes; review F15)."""
    for command, node in load(name).commands():
        if command == "stop-service":
            text = node.text.decode() if node.text else ""
            assert re.search(r"(?i)\s-Force\b", text), text


def test_resource_type_names_are_spelt_as_the_scripts_spell_them() -> None:
    """One vocabulary (review aesthetics 3.5(2)): every type name the contract declares appears in the scripts."""
    from provider.contracts import GENERIC_SERVICE, IP_ADDRESS, IPV6_ADDRESS, MSDTC, NETWORK_NAME

    clustered = assembled("Set-ClusteredSsoService")
    for type_name in (GENERIC_SERVICE, IP_ADDRESS, IPV6_ADDRESS, MSDTC, NETWORK_NAME):
        assert f"'{type_name}'" in clustered, type_name
