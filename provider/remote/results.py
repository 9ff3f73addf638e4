"""Bounds on what a node's answer may be, and the checks that apply them: a script result against its
contract (``parse_result``), its size and nesting, and each chunk of a fetched file.

Why apart: what a node answers decides nothing about how much this machine holds (issue 13, M6); these
checks change with the bounds, not with how a Remote calls.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from pydantic import ValidationError

from provider import contracts
from provider.errors import EssoError

R = TypeVar("R", bound=contracts.Result)


# Bytes of file data per chunk: base64 grows it by 4/3 and the envelope (153,600 bytes by default)
# also carries the CLIXML wrapping, so 64 KiB of data stays well inside one message.
DEFAULT_CHUNK_BYTES = 64 * 1024

# Reads from a node are bounded (issue 13, M6): what a node answers decides nothing about how much this
# machine holds. The only file fetched is a master secret backup, a few KB; a script result is a small
# hashtable (the largest is one file chunk, bounded by the length asked for).
MAX_FETCH_BYTES = 1024 * 1024
MAX_RESULT_CHARS = 1024 * 1024
MAX_RESULT_DEPTH = 32


def parse_result(node: str, script: contracts.Script[Any, R], raw: Any, *, limit: int = MAX_RESULT_CHARS) -> R:
    """Validate raw script output against the script's result model (ESSO-037 on a mismatch).

    A result larger than ``limit`` characters, or nested deeper than ``MAX_RESULT_DEPTH``, is refused
    first (ESSO-081): no script of this tool returns one, so a node that does is not answered in kind.
    """
    why = result_size_problem(raw, limit)
    if why:
        raise EssoError(
            "ESSO-081",
            f"{script.name} on {node} returned {why}; nothing of it was used.",
            node=node,
            step=script.name,
        )
    try:
        return script.result.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "(root)" for err in exc.errors())
        raise EssoError(
            "ESSO-037",
            f"{script.name} on {node} returned output that does not match its contract (fields: {fields}).",
            node=node,
            step=script.name,
        ) from None


# Room for the rest of a file chunk's result (size, sha256, keys) beyond its base64 text.
_ENVELOPE_CHARS = 4096


def encoded_chars(length: int) -> int:
    """How many base64 characters ``length`` bytes take."""
    return 4 * ((max(length, 0) + 2) // 3)


def checked_chunk(
    node: str,
    path: str,
    chunk: contracts.FileChunk,
    first: contracts.FileChunk,
    *,
    offset: int,
    length: int,
    limit: int,
) -> bytes:
    """One chunk's bytes, or ESSO-080 when the node answered more, or otherwise, than was asked for."""

    def refuse(why: str) -> EssoError:
        return EssoError("ESSO-080", f"{path} on {node}: {why}; nothing was kept.", node=node, step="fetch-file")

    if chunk.size < 0 or chunk.size > limit:
        raise refuse(f"the node reports {chunk.size} bytes, more than the {limit} this read allows")
    if (chunk.size, chunk.sha256) != (first.size, first.sha256):
        raise refuse("the size or SHA-256 the node reports changed between chunks")
    if len(chunk.data_base64) > encoded_chars(length):
        raise refuse(f"a chunk holds more than the {length} bytes asked for")
    try:
        data = base64.b64decode(chunk.data_base64, validate=True)
    except ValueError:
        raise refuse("a chunk is not canonical base64") from None
    if len(data) > length or offset + len(data) > chunk.size:
        raise refuse(f"a chunk of {len(data)} bytes at offset {offset} exceeds what was asked for or the file size")
    return data


def result_size_problem(raw: Any, limit: int) -> str | None:
    """Why ``raw`` is too large to parse (characters of its keys and values, or its nesting), or None.

    Iterative and stops at the limit, so an answer of any size costs no more than ``limit`` to judge.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_RESULT_DEPTH:
            return f"a result nested deeper than {MAX_RESULT_DEPTH} levels"
        if isinstance(value, str | bytes):
            total += len(value)
        elif isinstance(value, dict):
            total += 1 + len(value)  # counted before anything is stacked: a huge container stops here
            if total > limit:
                break
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            total += 1 + len(value)
            if total > limit:
                break
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total += value.bit_length() // 3 + 1
        else:
            total += 1
        if total > limit:
            break
    if total > limit:
        return f"more than {limit} characters, the most a result of this call may hold"
    return None
