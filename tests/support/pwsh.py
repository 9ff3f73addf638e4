"""Static reading of the project's PowerShell scripts with tree-sitter-pwsh (no PowerShell needed).

Why: the scripts are parsed but never executed here (docs/design.md "Scope"), so the contract between a
script and ``provider/contracts/`` is proven on the syntax tree: the ``param()`` block's names and
types, the one output hashtable's keys (nested hashtables resolved through variables and local
functions), and the rules every script obeys (no ``try`` without ``catch``/``finally``, no PowerShell 7
syntax, no bare calls that would leak objects into the output stream).

tree-sitter-pwsh is a smoke check, not the PowerShell parser: it accepts ``try { }`` alone (checked
here separately) and flags one-line ``function f { param($x) $x }`` (the scripts use the multi-line style).
Node type names were read from the grammar's own output on samples (``param_block``, ``script_parameter``,
``hash_literal_expression``, ``hash_entry``, ``key_expression``, ``function_statement`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import tree_sitter_pwsh
from tree_sitter import Language, Node, Parser

_LANGUAGE = Language(tree_sitter_pwsh.language())

# PowerShell 7 only syntax, as node types of the grammar (Windows PowerShell 5.1 rejects all of them).
PS7_NODE_TYPES = {
    "null_coalesce_expression": "?? (null-coalescing)",
    "ternary_expression": "?: (ternary)",
    "pipeline_chain_tail": "&& / || (pipeline chain)",
}
PS7_TOKENS = {"??=": "??= (null-coalescing assignment)", "clean": "clean block"}

# Calls whose result PowerShell would write to the output stream, polluting the one result hashtable,
# unless assigned, cast to [void] or piped to Out-Null.
OUTPUT_CMDLETS = frozenset(
    name.lower()
    for name in (
        "New-Item",
        "New-ItemProperty",
        "Add-ClusterResource",
        "Add-ClusterResourceDependency",
        "Set-ClusterResourceDependency",
        "Remove-ClusterResourceDependency",
        "Start-ClusterResource",
        "Stop-ClusterResource",
        "Start-ClusterGroup",
        "Stop-ClusterGroup",
        "Move-ClusterGroup",
        "Set-ClusterOwnerNode",
        "Start-Process",
    )
)
OUTPUT_METHODS = frozenset(
    {
        "add",
        "addwithvalue",
        "invokemember",
        "invoke",
        "executenonquery",
        "executescalar",
        "insertbefore",
        "appendchild",
        "removechild",
        "createsubkey",
    }
)


# Variables PowerShell sets itself: a function may read them without declaring them.
AUTOMATIC_VARIABLES = frozenset({"null", "true", "false", "_", "psitem", "args", "input", "matches", "lastexitcode"})


@dataclass(frozen=True)
class Problem:
    """One finding, with a 1-based line for people."""

    kind: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.kind}: {self.text}"


@dataclass(frozen=True)
class ScriptParam:
    name: str  # without the leading $
    type: str | None  # the type literal's text, e.g. "string[]"
    attributes: tuple[str, ...]  # other attribute names, e.g. ("Parameter", "AllowEmptyString")


@dataclass
class Resolution:
    """What a value expression can evaluate to, as far as the syntax shows."""

    hashtables: list[Node] = field(default_factory=list)
    may_be_null: bool = False
    unresolved: list[Node] = field(default_factory=list)


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _problem(kind: str, node: Node, text: str | None = None) -> Problem:
    row, col = node.start_point
    snippet = text if text is not None else _text(node).splitlines()[0][:80] if _text(node) else ""
    return Problem(kind, row + 1, col + 1, snippet)


def _variable_name(node: Node) -> str:
    """``$Name``, ``${Name}``, ``$script:Name`` -> ``name``, ``name``, ``script:name``."""
    return _text(node).strip().lstrip("$").strip("{}").lower()


def _strip_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _unwrap(node: Node) -> Node:
    """Descend through single-child wrappers (pipeline -> pipeline_chain -> unary_expression ...)."""
    wrappers = {
        "pipeline",
        "pipeline_chain",
        "unary_expression",
        "assignment_value",
        "argument_expression",
        "expression_with_unary_operator",
    }
    current = node
    while current.type in wrappers:
        named = [c for c in current.named_children if c.type != "comment"]
        if len(named) != 1:
            break
        current = named[0]
    return current


class PwshScript:
    """One parsed script."""

    def __init__(self, source: str, name: str = "<script>") -> None:
        self.source = source
        self.name = name
        self.tree = Parser(_LANGUAGE).parse(source.encode("utf-8"))
        self.root = self.tree.root_node

    # ------------------------------------------------------------------------------------ syntax

    def problems(self) -> list[Problem]:
        """ERROR and MISSING nodes: the grammar could not read the script."""
        out = []
        for node in _walk(self.root):
            if node.is_missing:
                out.append(_problem("MISSING " + node.type, node))
            elif node.type == "ERROR":
                out.append(_problem("ERROR", node))
        return out

    def ps7_syntax(self) -> list[Problem]:
        out = []
        for node in _walk(self.root):
            if node.type in PS7_NODE_TYPES:
                out.append(_problem("PS7 " + PS7_NODE_TYPES[node.type], node))
            elif node.type in PS7_TOKENS and node.child_count == 0:
                out.append(_problem("PS7 " + PS7_TOKENS[node.type], node))
            elif node.type == "command_parameter" and _text(node).lower() == "-parallel":
                out.append(_problem("PS7 -Parallel", node))
        return out

    def try_without_handler(self) -> list[Problem]:
        """A ``try`` needs a ``catch`` or a ``finally`` (the grammar accepts it alone; PowerShell does not)."""
        out = []
        for node in _walk(self.root):
            if node.type == "try_statement":
                kinds = {c.type for c in node.children}
                if not kinds & {"catch_clauses", "catch_clause", "finally_clause"}:
                    out.append(_problem("try without catch/finally", node))
        return out

    # -------------------------------------------------------------------------------- structure

    def header_comment(self) -> str | None:
        """The comment(s) before the first code node."""
        parts = []
        for child in self.root.children:
            if child.type == "comment":
                parts.append(_text(child))
            else:
                break
        return "\n".join(parts) if parts else None

    def _top_param_block(self) -> Node | None:
        for child in self.root.children:
            if child.type == "param_block":
                return child
        return None

    def has_cmdlet_binding(self) -> bool:
        block = self._top_param_block()
        if block is None:
            return False
        for child in block.children:
            if child.type == "attribute_list":
                for attribute in child.named_children:
                    if _text(attribute).replace(" ", "").lower() == "[cmdletbinding()]":
                        return True
        return False

    def params(self) -> list[ScriptParam]:
        """The script's own param() block (not those of its functions)."""
        block = self._top_param_block()
        if block is None:
            return []
        out = []
        for plist in (c for c in block.children if c.type == "parameter_list"):
            for param in (c for c in plist.children if c.type == "script_parameter"):
                name = ""
                type_text: str | None = None
                attributes: list[str] = []
                for part in param.children:
                    if part.type == "variable":
                        name = _text(part).lstrip("$")
                    elif part.type == "attribute_list":
                        for attribute in part.named_children:
                            literal = next((c for c in attribute.children if c.type == "type_literal"), None)
                            if literal is not None:
                                spec = next((c for c in literal.children if c.type == "type_spec"), None)
                                type_text = _text(spec)
                            else:
                                attr_name = next((c for c in attribute.children if c.type == "attribute_name"), None)
                                attributes.append(_text(attr_name))
                out.append(ScriptParam(name, type_text, tuple(attributes)))
        return out

    def top_statements(self) -> list[Node]:
        """The script body's statements (after the param block), comments skipped."""
        for child in self.root.children:
            if child.type == "statement_list":
                return [c for c in child.named_children if c.type != "comment"]
        return []

    def output_hashtable(self) -> Node | None:
        """The hash literal that is the script's last statement, if it is one."""
        statements = self.top_statements()
        if not statements:
            return None
        last = _unwrap(statements[-1])
        return last if last.type == "hash_literal_expression" else None

    def stray_top_level_values(self) -> list[Problem]:
        """Top-level statements before the last that are bare values (they would be output too)."""
        out = []
        for statement in self.top_statements()[:-1]:
            inner = _unwrap(statement)
            if inner.type in {
                "hash_literal_expression",
                "variable",
                "string_literal",
                "integer_literal",
                "array_expression",
                "array_literal_expression",
            }:
                out.append(_problem("stray output value", statement))
        return out

    def top_level_returns(self) -> list[Problem]:
        """``return`` outside a function: a second exit, so the script would have two output points."""
        out = []
        for node in _walk(self.root):
            is_return = node.type == "flow_control_statement" and node.children and node.children[0].type == "return"
            if is_return and self._scope_of(node) == self.root:
                out.append(_problem("top-level return", node))
        return out

    def code_text(self) -> str:
        """The source with every comment blanked out (so rules about code ignore the prose)."""
        data = bytearray(self.source.encode("utf-8"))
        for node in _walk(self.root):
            if node.type == "comment":
                for i in range(node.start_byte, node.end_byte):
                    if data[i] not in (0x0A, 0x0D):
                        data[i] = 0x20
        return data.decode("utf-8")

    def nodes_of_type(self, node_type: str) -> list[Node]:
        return [n for n in _walk(self.root) if n.type == node_type]

    # ------------------------------------------------------------------------------- functions

    def function_definitions(self) -> list[tuple[str, Node]]:
        """Every ``function`` statement (name lower case, node) in source order, nested ones included."""
        return [
            (_text(next(c for c in n.children if c.type == "function_name")).lower(), n)
            for n in _walk(self.root)
            if n.type == "function_statement"
        ]

    def calls_by_function(self) -> dict[str | None, set[str]]:
        """Which of the script's own functions each function calls; key None: the code outside every function."""
        defined = self.function_names()
        out: dict[str | None, set[str]] = {None: set()}
        names = {n.id: name for name, n in self.function_definitions()}
        for name in names.values():
            out.setdefault(name, set())
        for command, node in self.commands():
            if command in defined:
                scope = self._scope_of(node)
                out[names.get(scope.id) if scope != self.root else None].add(command)
        return out

    def reachable_functions(self) -> set[str]:
        """The functions the code outside every function calls, directly or through other functions."""
        graph = self.calls_by_function()
        seen: set[str] = set()
        todo = list(graph[None])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(graph.get(name, ()))
        return seen

    @staticmethod
    def _caught(node: Node) -> bool:
        """Whether the node lies in the body of a ``try`` that has a ``catch`` (an error there does not escape)."""
        current = node
        while current.parent is not None:
            parent = current.parent
            if (
                parent.type == "try_statement"
                and current.type == "statement_block"
                and any(c.type in {"catch_clauses", "catch_clause"} for c in parent.children)
            ):
                return True
            if parent.type == "function_statement":
                return False
            current = parent
        return False

    def thrown_codes(self) -> set[str]:
        """The ESSO ids that can escape the script: ``throw 'ESSO-NNN ...'`` in its own code or in a function it
        reaches, unless a ``catch`` around the throw or around every path of calls to it stops it.

        Why reachability: a fragment may define a function that throws an id the including script never calls.
        """
        functions = {n.id: name for name, n in self.function_definitions()}
        defined = self.function_names()
        graph: dict[str | None, set[str]] = {None: set()}
        for command, call in self.commands():  # calls that an error can escape from (not inside try/catch)
            if command in defined and not self._caught(call):
                scope = self._scope_of(call)
                graph.setdefault(functions.get(scope.id) if scope != self.root else None, set()).add(command)
        reachable: set[str] = set()
        todo = list(graph[None])
        while todo:
            name = todo.pop()
            if name not in reachable:
                reachable.add(name)
                todo.extend(graph.get(name, ()))
        codes: set[str] = set()
        for node in _walk(self.root):
            if node.type != "flow_control_statement" or not node.children or node.children[0].type != "throw":
                continue
            scope = self._scope_of(node)
            if (scope != self.root and functions.get(scope.id) not in reachable) or self._caught(node):
                continue
            match = re.match(r"throw\s+\(?\s*['\"](ESSO-\d{3}) ", _text(node))
            if match:
                codes.add(match.group(1))
        return codes

    def calls_before_definition(self) -> list[Problem]:
        """Calls outside every function to a function the script defines only further down (not yet defined
        when the call runs)."""
        first: dict[str, int] = {}
        for name, node in self.function_definitions():
            first.setdefault(name, node.start_byte)
        return [
            _problem("called before its definition", node, command)
            for command, node in self.commands()
            if command in first and self._scope_of(node) == self.root and node.start_byte < first[command]
        ]

    def free_variables(self, function: Node) -> list[Problem]:
        """Variables a function reads without declaring (param), assigning or looping over them: values it would
        take from its caller's scope (PowerShell scopes are dynamic). Automatic variables and $env: are fine."""
        bound: set[str] = set()
        reads: list[tuple[str, Node]] = []
        for node in _walk(function):
            if node.type != "variable":
                continue
            name = _variable_name(node)
            parent = node.parent
            grandparent = parent.parent if parent is not None else None
            if (
                (parent is not None and parent.type in {"script_parameter", "foreach_statement"})
                or (grandparent is not None and grandparent.type == "left_assignment_expression")
                or (
                    grandparent is not None
                    and grandparent.type == "array_literal_expression"
                    and grandparent.parent is not None
                    and grandparent.parent.type == "left_assignment_expression"
                )
            ):
                bound.add(name)
            else:
                reads.append((name, node))
        return [
            _problem("free variable", node, "$" + name)
            for name, node in reads
            if name not in bound and name not in AUTOMATIC_VARIABLES and not name.startswith("env:")
        ]

    # ----------------------------------------------------------------------------- hashtables

    @staticmethod
    def hash_entries(node: Node) -> dict[str, Node]:
        """A hash literal's keys and value nodes (quoted keys unquoted)."""
        out: dict[str, Node] = {}
        body = next((c for c in node.children if c.type == "hash_literal_body"), None)
        if body is None:
            return out
        for entry in (c for c in body.children if c.type == "hash_entry"):
            key = next((c for c in entry.children if c.type == "key_expression"), None)
            value = next((c for c in entry.children if c.type in {"pipeline", "statement"}), None)
            if value is None:
                named = [c for c in entry.named_children if c.type not in {"key_expression", "comment"}]
                value = named[-1] if named else None
            if key is not None and value is not None:
                out[_strip_quotes(_text(key).strip())] = value
        return out

    def _scope_of(self, node: Node) -> Node:
        current = node.parent
        while current is not None:
            if current.type == "function_statement":
                return current
            current = current.parent
        return self.root

    def function_names(self) -> set[str]:
        """The names (lower case) of the functions the script defines."""
        return set(self._functions())

    def _functions(self) -> dict[str, Node]:
        return {
            _text(next(c for c in n.children if c.type == "function_name")).lower(): n
            for n in _walk(self.root)
            if n.type == "function_statement"
        }

    def _assignments(self, variable: str, scope: Node) -> list[Node]:
        values = []
        for node in _walk(scope):
            if node.type != "assignment_expression" or self._scope_of(node) != scope:
                continue
            left = next((c for c in node.children if c.type == "left_assignment_expression"), None)
            op = next((c for c in node.children if c.type == "assignment_operator"), None)
            if left is None or op is None or _text(op).strip() != "=":
                continue
            if _text(left).strip().lower() != variable.lower():
                continue
            named = [
                c for c in node.named_children if c.type not in {"left_assignment_expression", "assignment_operator"}
            ]
            if named:
                values.append(named[-1])
        return values

    def _index_assignments(self, variable: str, scope: Node) -> list[Node]:
        """Assignments to ``$variable[...]`` or ``$variable.Key`` in the scope: keys a literal does not show."""
        found = []
        for node in _walk(scope):
            if node.type != "assignment_expression" or self._scope_of(node) != scope:
                continue
            left = next((c for c in node.children if c.type == "left_assignment_expression"), None)
            target = _text(left).strip().lower() if left is not None else ""
            if re.match(re.escape(variable.lower()) + r"\s*[\[.]", target):
                found.append(node)
        return found

    @staticmethod
    def _block_results(block: Node) -> list[Node]:
        """The statements of a block that produce its value: the last one, plus any ``return <x>``."""
        statement_list = next((c for c in _walk(block) if c.type == "statement_list"), None)
        if statement_list is None:
            return []
        statements = [c for c in statement_list.named_children if c.type != "comment"]
        results = statements[-1:] if statements else []
        for node in _walk(block):
            if node.type == "flow_control_statement" and node.children and node.children[0].type == "return":
                value = next((c for c in node.named_children if c.type == "pipeline"), None)
                if value is not None:
                    results.append(value)
        return results

    def resolve(self, value: Node, _seen: frozenset[int] | None = None) -> Resolution:
        """The hash literals a value expression can be, through variables, local functions and branches."""
        seen = _seen or frozenset()
        out = Resolution()
        if value.id in seen:
            return out
        seen = seen | {value.id}
        node = _unwrap(value)
        if node.type == "hash_literal_expression":
            out.hashtables.append(node)
        elif node.type == "variable":
            name = _text(node).strip()
            if name.lower() == "$null":
                out.may_be_null = True
                return out
            assigned = self._assignments(name, self._scope_of(node))
            if not assigned:
                out.unresolved.append(node)
            for candidate in assigned:
                self._merge(out, self.resolve(candidate, seen))
            # keys added later by index ($t['Key'] = ...) are not in the literal: they cannot be proven
            out.unresolved.extend(self._index_assignments(name, self._scope_of(node)))
        elif node.type == "command":
            function = self._functions().get(_text(node.children[0]).lower()) if node.children else None
            if function is None:
                out.unresolved.append(node)
            else:
                body = next((c for c in function.children if c.type == "script_block"), function)
                results = self._block_results(body)
                if not results:
                    out.unresolved.append(node)
                for result in results:
                    self._merge(out, self.resolve(result, seen))
        elif node.type == "if_statement":
            blocks = [c for c in _walk(node) if c.type == "statement_block" and self._owning_if(c) == node]
            for block in blocks:
                for result in self._block_results(block):
                    self._merge(out, self.resolve(result, seen))
            if not any(c.type == "else_clause" for c in node.children):
                out.may_be_null = True
        elif node.type == "parenthesized_expression":
            inner = next((c for c in node.named_children if c.type == "pipeline"), None)
            if inner is None:
                out.unresolved.append(node)
            else:
                self._merge(out, self.resolve(inner, seen))
        elif node.type == "array_expression":
            out.unresolved.append(node)  # lists are checked with resolve_items()
        else:
            out.unresolved.append(node)
        return out

    @staticmethod
    def _owning_if(block: Node) -> Node | None:
        current = block.parent
        while current is not None and current.type in {"else_clause", "elseif_clause", "elseif_clauses"}:
            current = current.parent
        return current if current is not None and current.type == "if_statement" else None

    def resolve_items(self, value: Node) -> Resolution:
        """The hash literals an array value's items can be: ``@(...)`` of loops, calls or literals."""
        out = Resolution()
        node = _unwrap(value)
        if node.type == "variable":
            if _text(node).strip().lower() == "$null":
                out.may_be_null = True
                return out
            assigned = self._assignments(_text(node).strip(), self._scope_of(node))
            if not assigned:
                out.unresolved.append(node)
            for candidate in assigned:
                self._merge(out, self.resolve_items(candidate))
            return out
        if node.type != "array_expression":
            out.unresolved.append(node)
            return out
        statement_list = next((c for c in node.children if c.type == "statement_list"), None)
        if statement_list is None:
            return out  # @(): an empty list
        for statement in (c for c in statement_list.named_children if c.type != "comment"):
            if statement.type in {"foreach_statement", "for_statement", "while_statement"}:
                body = next(c for c in statement.children if c.type == "statement_block")
                for result in self._block_results(body):
                    self._merge(out, self.resolve(result, frozenset()))
                continue
            inner = _unwrap(statement)
            if inner.type == "variable":
                self._merge(out, self.resolve_items(inner))
            else:
                self._merge(out, self.resolve(statement, frozenset()))
        return out

    @staticmethod
    def _merge(into: Resolution, other: Resolution) -> None:
        into.hashtables.extend(other.hashtables)
        into.may_be_null = into.may_be_null or other.may_be_null
        into.unresolved.extend(other.unresolved)

    # ------------------------------------------------------------------------------- commands

    def commands(self) -> list[tuple[str, Node]]:
        """Every command invocation's name (lower case) and node."""
        out = []
        for node in _walk(self.root):
            if node.type == "command":
                name = next((c for c in node.children if c.type in {"command_name", "command_name_expr"}), None)
                if name is not None:
                    out.append((_text(name).lower(), node))
        return out

    def bare_output_calls(self) -> list[Problem]:
        """Calls that emit objects, used as a whole statement (not assigned, [void], or | Out-Null)."""
        out = []
        for node in _walk(self.root):
            if node.type != "pipeline" or node.parent is None or node.parent.type != "statement_list":
                continue
            chain = next((c for c in node.children if c.type == "pipeline_chain"), None)
            if chain is None:
                continue  # an assignment
            parts = [c for c in chain.named_children if c.type in {"command", "unary_expression"}]
            if not parts:
                continue
            last = parts[-1]
            if last.type == "command" and _text(last.children[0]).lower() == "out-null":
                continue
            first = parts[0]
            if first.type == "command":
                name = _text(first.children[0]).lower()
                if name in OUTPUT_CMDLETS and len(parts) == 1:
                    out.append(_problem("bare output cmdlet", node, name))
            else:
                inner = _unwrap(first)
                if inner.type == "invocation_expression":
                    member = next((c for c in inner.children if c.type == "member_name"), None)
                    if _text(member).lower() in OUTPUT_METHODS:
                        out.append(_problem("bare output method", node, _text(member)))
        return out

    def here_strings(self) -> list[str]:
        return [
            _text(n)
            for n in _walk(self.root)
            if n.type in {"verbatim_here_string_characters", "expandable_here_string_literal"}
        ]

    def csharp_types(self) -> dict[str, str]:
        """C# classes compiled with Add-Type from a here-string: class name -> source."""
        out = {}
        for text in self.here_strings():
            for match in re.finditer(r"public\s+static\s+class\s+(\w+)", text):
                out[match.group(1)] = text
        return out
