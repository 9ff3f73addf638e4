"""The PowerShell library: the fragments in provider/scripts/lib/, the scripts' ``#esso:include`` lines, and assembly.

Why: a script travels to a node whole, so the helpers several scripts need live once, as fragments, and
``provider.remote.script_source.assembled`` splices them into each script that includes them. These tests keep
that honest: a fragment parses alone and only defines functions (or a C# type behind a type-exists check); it
takes nothing from the scope of the script it lands in; every include line names fragments that exist, sits right
after ``$ErrorActionPreference = 'Stop'``, and names only fragments the script needs; every fragment is used; and
each helper function and compiled C# type is defined in exactly one place, so a fix reaches every script.
The per-script rules and contracts are checked on the assembled text in test_scripts.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from tree_sitter import Node

from provider.contracts import SCRIPTS
from provider.errors import EssoError
from provider.remote.psrp import script_text
from provider.remote.script_source import (
    INCLUDE_LINE,
    SCRIPTS_DIR,
    ScriptSourceError,
    assembled,
    fragment_path,
    include_names,
    includes,
    known_fragments,
)
from tests.support.loopback import ScriptIndex
from tests.support.pwsh import AUTOMATIC_VARIABLES, PwshScript

NAMES = sorted(SCRIPTS)
FRAGMENTS = known_fragments()
_EAP = re.compile(r"\$ErrorActionPreference\s*=\s*'Stop'")
# if ($null -eq ('TypeName' -as [type])) { Add-Type ... }: compiling a type once per session is a definition.
_TYPE_GUARD = re.compile(r"(?i)if\s*\(\s*\$null\s+-eq\s+\(\s*'[\w.]+'\s+-as\s+\[type\]\s*\)\s*\)\s*\{")


def source(name: str) -> str:
    return (SCRIPTS_DIR / f"{name}.ps1").read_text(encoding="utf-8")


def fragment_source(fragment: str) -> str:
    return fragment_path(fragment).read_text(encoding="utf-8")


def load_fragment(fragment: str) -> PwshScript:
    return PwshScript(fragment_source(fragment), f"lib/{fragment}.ps1")


def fragment_functions(fragment: str) -> set[str]:
    return load_fragment(fragment).function_names()


# ------------------------------------------------------------------------------------------ the checker


def _is_guarded_add_type(node: Node) -> bool:
    """``if ($null -eq ('T' -as [type])) { Add-Type ... }`` with nothing else and no else branch."""
    text = node.text.decode() if node.text else ""
    if node.type != "if_statement" or not _TYPE_GUARD.match(text):
        return False
    if any(c.type in {"else_clause", "elseif_clause", "elseif_clauses"} for c in node.children):
        return False
    block = next((c for c in node.children if c.type == "statement_block"), None)
    statements = next((c for c in block.children if c.type == "statement_list"), None) if block else None
    body = [s for s in statements.named_children if s.type != "comment"] if statements else []
    return bool(body) and all(
        s.type == "pipeline" and s.text is not None and s.text.decode().lower().startswith("add-type") for s in body
    )


def fragment_errors(script: PwshScript) -> list[str]:
    """Everything that keeps a fragment from being spliced safely into any script."""
    errors = [str(p) for p in script.problems() + script.try_without_handler() + script.ps7_syntax()]
    header = script.header_comment()
    if header is None or "Why" not in header:
        errors.append("no header comment saying why the fragment exists")
    if any(c.type == "param_block" for c in script.root.children):
        errors.append("a param() block (a fragment defines functions; the script owns the parameters)")
    if INCLUDE_LINE.search(script.source):
        errors.append("an #esso:include line (fragments do not include fragments; the script lists them)")
    for statement in script.top_statements():
        allowed = statement.type in {"function_statement", "class_statement", "enum_statement"}
        if not allowed and not _is_guarded_add_type(statement):
            text = statement.text.decode().splitlines()[0][:60] if statement.text else ""
            errors.append(f"top-level statement that defines nothing: {text!r}")
    for name, function in script.function_definitions():
        for problem in script.free_variables(function):
            errors.append(f"{name} reads {problem.text} from the including script's scope (line {problem.line})")
    return errors


# Helpers that run a caller's script block (-Action) in a child scope of their own: the block sees the caller's
# variables, except those the helper itself defines, which hide them (PowerShell scopes are dynamic).
BLOCK_RUNNERS = {"use-plainsecret": "PlainSecret", "use-essoregistrykey": "EssoRegistry"}


def _descendants(node: Node) -> list[Node]:
    out, todo = [], [node]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(current.children)
    return out


def _variable_names(node: Node) -> set[str]:
    return {
        n.text.decode().lstrip("$").strip("{}").lower() for n in _descendants(node) if n.type == "variable" and n.text
    }


def runner_names(script: PwshScript, runner: str) -> set[str]:
    """Every variable a block runner's own body uses (its parameters, locals and loop variables)."""
    (body,) = [node for name, node in script.function_definitions() if name == runner]
    return _variable_names(body) - AUTOMATIC_VARIABLES


def hidden_variables(script: PwshScript, runners: dict[str, set[str]]) -> list[str]:
    """Variables a script block handed to a block runner uses that the runner also uses, so that the block would
    read the runner's value, not its caller's. The block's own param() names are its own."""
    errors = []
    for command, call in script.commands():
        if command not in runners:
            continue
        for block in (n for n in _descendants(call) if n.type == "script_block_expression"):
            declared = set().union(*(_variable_names(p) for p in _descendants(block) if p.type == "param_block"))
            for name in sorted((_variable_names(block) - declared) & runners[command]):
                errors.append(f"line {call.start_point[0] + 1}: {command} hides ${name} from its -Action block")
    return errors


def _runners() -> dict[str, set[str]]:
    return {runner: runner_names(load_fragment(fragment), runner) for runner, fragment in BLOCK_RUNNERS.items()}


# ------------------------------------------------------------------------------------------ the fragments


def test_the_library_exists_and_holds_only_fragments() -> None:
    assert len(FRAGMENTS) >= 6
    assert sorted(p.name for p in (SCRIPTS_DIR / "lib").iterdir()) == [f"{f}.ps1" for f in FRAGMENTS]


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_fragment_parses_alone_and_only_defines_functions(fragment: str) -> None:
    assert fragment_errors(load_fragment(fragment)) == []


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_fragment_is_ascii(fragment: str) -> None:
    fragment_source(fragment).encode("ascii")


def test_every_fragment_is_used_by_a_script() -> None:
    used = {fragment for name in NAMES for fragment in includes(source(name))}
    assert sorted(set(FRAGMENTS) - used) == []


def test_a_helper_function_is_defined_in_exactly_one_place() -> None:
    """Scripts are sent whole, but a helper lives once: in one script, or in one fragment that scripts include."""
    places: dict[str, list[str]] = defaultdict(list)
    for name in NAMES:
        for function, _node in PwshScript(source(name)).function_definitions():
            places[function].append(f"{name}.ps1")
    for fragment in FRAGMENTS:
        for function, _node in load_fragment(fragment).function_definitions():
            places[function].append(f"lib/{fragment}.ps1")
    assert {function: where for function, where in places.items() if len(where) > 1} == {}
    assert places["get-essoregistryvalue"] == ["lib/EssoRegistry.ps1"]


def test_a_compiled_csharp_type_is_defined_in_exactly_one_place() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for name in NAMES:
        for type_name in PwshScript(source(name)).csharp_types():
            places[type_name].append(f"{name}.ps1")
    for fragment in FRAGMENTS:
        for type_name in load_fragment(fragment).csharp_types():
            places[type_name].append(f"lib/{fragment}.ps1")
    assert {t: where for t, where in places.items() if len(where) > 1} == {}
    assert {"EssoLsaRights", "EssoRegistryTime"} <= set(places)


def test_a_secret_becomes_plaintext_in_one_place() -> None:
    """SecureStringToBSTR lives in lib/PlainSecret.ps1 only: every script hands its block to Use-PlainSecret."""
    places = [f"{name}.ps1" for name in NAMES if "SecureStringToBSTR" in PwshScript(source(name)).code_text()]
    places += [f"lib/{f}.ps1" for f in FRAGMENTS if "SecureStringToBSTR" in load_fragment(f).code_text()]
    assert places == ["lib/PlainSecret.ps1"]


def test_every_param_block_is_written_one_way() -> None:
    """Every script declares its parameters as Microsoft's docs do, ``[Parameter(Mandatory)]`` (one parameter a
    line): one style to read, and a script written the old long way stands out in review."""
    long_form = [f"{name}.ps1" for name in NAMES if re.search(r"Mandatory\s*=\s*\$true", source(name), re.I)]
    assert long_form == []


@pytest.mark.parametrize("name", NAMES)
def test_no_block_runner_hides_a_variable_its_block_reads(name: str) -> None:
    assert hidden_variables(PwshScript(assembled(name)), _runners()) == []


# -------------------------------------------------------------------------------- the include lines


@pytest.mark.parametrize("name", NAMES)
def test_include_line_names_existing_fragments_right_after_error_action_preference(name: str) -> None:
    text = source(name)
    lines = list(INCLUDE_LINE.finditer(text))
    assert len(lines) <= 1, "one #esso:include line per script"
    if not lines:
        return
    named = include_names(lines[0].group("names"), where=name)
    assert len(named) == len(set(named)), f"a fragment is named twice: {named}"
    assert sorted(set(named) - set(FRAGMENTS)) == []
    after = text[: lines[0].start()].rstrip().splitlines()[-1]
    assert _EAP.fullmatch(after.strip()), f"the include line follows {after!r}, not $ErrorActionPreference = 'Stop'"


@pytest.mark.parametrize("name", NAMES)
def test_script_defines_every_helper_it_calls(name: str) -> None:
    """A missing include (a fragment needing another one too) would fail on the node with 'not recognized'."""
    script = PwshScript(assembled(name))
    library = {function for fragment in FRAGMENTS for function in fragment_functions(fragment)}
    called = {command for command, _node in script.commands() if command in library}
    assert sorted(called - script.function_names()) == []


@pytest.mark.parametrize("name", [n for n in NAMES if includes(source(n))])
def test_every_included_fragment_is_needed(name: str) -> None:
    reachable = PwshScript(assembled(name)).reachable_functions()
    unneeded = [f for f in includes(source(name)) if not fragment_functions(f) & reachable]
    assert unneeded == [], "included, but none of its functions is called"


@pytest.mark.parametrize("name", NAMES)
def test_assembled_script_is_the_script_with_its_fragments_in_place_of_the_include_line(name: str) -> None:
    text, sent = source(name), assembled(name)
    assert INCLUDE_LINE.search(sent) is None
    line = INCLUDE_LINE.search(text)
    if line is None:
        assert sent == text
        return
    head, tail = text[: line.start()], text[line.end() :]
    assert sent.startswith(head)
    assert sent.endswith(tail)
    middle = sent[len(head) : len(sent) - len(tail)]
    assert re.findall(r"^# --- lib/(\w+)\.ps1 ---$", middle, flags=re.MULTILINE) == includes(text)
    for fragment in includes(text):
        assert fragment_source(fragment).rstrip() in middle


# ------------------------------------------------------------------------------------------ the assembler


def _folder(tmp_path: Path, script: str, **fragments: str) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "Test-Script.ps1").write_text(script, encoding="utf-8")
    for name, text in fragments.items():
        (tmp_path / "lib" / f"{name}.ps1").write_text(text, encoding="utf-8")
    return tmp_path


_HEAD = "[CmdletBinding()]\nparam()\n\n$ErrorActionPreference = 'Stop'\n\n"


class TestTheAssembler:
    def test_fragments_replace_the_line_in_order_each_once_after_a_separator(self, tmp_path: Path) -> None:
        folder = _folder(
            tmp_path,
            _HEAD + "#esso:include B, A, B\n#esso:include A\n\nTest-B\n",
            A="# A: why\nfunction Test-A {\n}\n",
            B="function Test-B {\n}\n\n",
        )
        b = "# --- lib/B.ps1 ---\nfunction Test-B {\n}\n"
        a = "# --- lib/A.ps1 ---\n# A: why\nfunction Test-A {\n}\n"
        # The second line names only A, which is in already: it leaves an empty line.
        assert assembled("Test-Script", folder) == _HEAD + b + "\n" + a + "\n\nTest-B\n"

    def test_a_script_without_an_include_line_is_sent_as_it_is(self, tmp_path: Path) -> None:
        folder = _folder(tmp_path, _HEAD + "@{}\n")
        assert assembled("Test-Script", folder) == _HEAD + "@{}\n"

    def test_an_unknown_fragment_is_a_clear_error(self, tmp_path: Path) -> None:
        folder = _folder(tmp_path, _HEAD + "#esso:include A, Nope\n", A="function Test-A {\n}\n")
        with pytest.raises(ScriptSourceError, match=r"unknown fragment 'Nope'.*Nope\.ps1.*the fragments are: A\)"):
            assembled("Test-Script", folder)

    @pytest.mark.parametrize(
        "line",
        [
            "#esso:include",
            "#esso:include A B",
            "#esso:includeA",
            "#esso:include ../A",
            "#esso:include A,",
            " #esso:include A;",
        ],
    )
    def test_a_malformed_include_line_is_refused_not_left_as_a_comment(self, tmp_path: Path, line: str) -> None:
        folder = _folder(tmp_path, _HEAD + line + "\n", A="function Test-A {\n}\n")
        with pytest.raises(ScriptSourceError, match="malformed include line"):
            assembled("Test-Script", folder)

    def test_a_fragment_that_includes_another_is_refused(self, tmp_path: Path) -> None:
        folder = _folder(tmp_path, _HEAD + "#esso:include A\n", A="#esso:include B\n", B="function Test-B {\n}\n")
        with pytest.raises(ScriptSourceError, match="only scripts include fragments"):
            assembled("Test-Script", folder)

    def test_a_missing_script_is_file_not_found(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            assembled("Nothing-Here", _folder(tmp_path, _HEAD))

    def test_the_result_is_cached(self, tmp_path: Path) -> None:
        folder = _folder(tmp_path, _HEAD + "#esso:include A\n", A="function Test-A {\n}\n")
        first = assembled("Test-Script", folder)
        (folder / "lib" / "A.ps1").write_text("function Test-Changed {\n}\n", encoding="utf-8")
        assert assembled("Test-Script", folder) is first

    def test_the_transport_sends_the_assembled_text(self) -> None:
        for name in NAMES:
            assert script_text(name) == assembled(name)

    def test_the_transport_refuses_a_script_it_cannot_assemble_with_esso_037(self, tmp_path: Path) -> None:
        folder = _folder(tmp_path, _HEAD + "#esso:include Nope\n")
        with pytest.raises(EssoError, match="unknown fragment 'Nope'") as raised:
            script_text("Test-Script", folder)
        assert raised.value.code == "ESSO-037"
        with pytest.raises(EssoError, match="missing from this installation") as raised:
            script_text("Nothing-Here", folder)
        assert raised.value.code == "ESSO-037"

    def test_the_loopback_knows_each_script_by_its_assembled_text(self) -> None:
        index = ScriptIndex()
        for name in NAMES:
            assert index.name(assembled(name)) == name


# ------------------------------------------------------------------------------ the checker can fail

_GOOD_FRAGMENT = """# Test: what it is.
#
# Why one place: because.

function Get-Thing {
    param(
        [string]$Name
    )
    $value = $Name
    foreach ($item in @($value)) {
        $item
    }
}

if ($null -eq ('EssoTestType' -as [type])) {
    Add-Type -TypeDefinition 'public static class EssoTestType {}' -Language CSharp
}
"""


class TestTheFragmentCheckerCanFail:
    def test_a_good_fragment_passes(self) -> None:
        assert fragment_errors(PwshScript(_GOOD_FRAGMENT)) == []

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (("# Why one place: because.", "# Because."), "no header comment"),
            (("function Get-Thing {", "$x = 1\nfunction Get-Thing {"), "defines nothing"),
            (("function Get-Thing {", "Import-Module -Name FailoverClusters\nfunction Get-Thing {"), "defines nothing"),
            (("    Add-Type", "    $loaded = $true\n    Add-Type"), "defines nothing"),
            (("$null -eq ('EssoTestType'", "$true -or ('EssoTestType'"), "defines nothing"),
            (("    $value = $Name", "    $value = $RoleName"), "reads $rolename"),
            (("# Why one place: because.\n", "# Why one place: because.\n#esso:include Other\n"), "#esso:include"),
            (("    $value = $Name", "    $value = @{ a = 1"), "MISSING"),
        ],
    )
    def test_a_broken_fragment_is_reported(self, change: tuple[str, str], expected: str) -> None:
        broken = _GOOD_FRAGMENT.replace(*change)
        assert broken != _GOOD_FRAGMENT
        errors = fragment_errors(PwshScript(broken))
        assert errors
        assert any(expected in e for e in errors), errors

    def test_a_block_reading_a_name_its_runner_hides_is_reported(self) -> None:
        runners = _runners()
        assert {"secret", "action"} <= runners["use-plainsecret"]
        good = (
            "Use-PlainSecret -Secret @($Password) -Action {\n"
            "    param(\n        [string[]]$Plain\n    )\n    $Plain[0]\n}\n"
        )
        assert hidden_variables(PwshScript(good), runners) == []
        broken = PwshScript(good.replace("    $Plain[0]", "    $Plain[0] + $Secret"))
        assert hidden_variables(broken, runners) == ["line 1: use-plainsecret hides $secret from its -Action block"]
        registry = "Use-EssoRegistryKey -SubKey 'A' -Action {\n    $SubKey\n}\n"
        assert hidden_variables(PwshScript(registry), runners) == [
            "line 1: use-essoregistrykey hides $subkey from its -Action block"
        ]

    def test_a_param_block_is_reported(self) -> None:
        errors = fragment_errors(PwshScript("# Why: x\nparam(\n    [string]$A\n)\n\nfunction Get-A {\n}\n"))
        assert any("param() block" in e for e in errors)

    def test_an_unneeded_include_is_visible_to_the_reachability_check(self) -> None:
        script = PwshScript("function Get-A {\n    Get-B\n}\n\nfunction Get-B {\n}\n\nfunction Get-C {\n}\n\nGet-A\n")
        assert script.reachable_functions() == {"get-a", "get-b"}
