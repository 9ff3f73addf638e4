"""Script text and file-chunk sizing: what one WS-Man request can carry.

Why: a file chunk must travel in one WS-Man envelope both ways (Write-FileChunk's parameters, Read-FileChunk's
result), so its size is derived from the envelope and the script's own size, never guessed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provider import contracts
from provider.errors import EssoError
from provider.remote.script_source import SCRIPTS_DIR, ScriptSourceError, assembled

# ------------------------------------------------------------------------------------------ scripts


def script_text(name: str, folder: Path = SCRIPTS_DIR) -> str:
    """The text sent for ``provider/scripts/<name>.ps1``: the script with its ``#esso:include`` fragments spliced
    in (``script_source.assembled``, cached); values travel only as parameters."""
    try:
        return assembled(name, folder)
    except FileNotFoundError:
        raise EssoError("ESSO-037", f"{folder / f'{name}.ps1'} is missing from this installation.", step=name) from None
    except ScriptSourceError as e:
        raise EssoError("ESSO-037", f"{name}.ps1 cannot be assembled: {e}", step=name) from None


# ----------------------------------------------------------------------------------- chunk sizing

_FRAGMENT_HEADER = 21  # object id, fragment id, flags, length
_RECEIVE_MARGIN = 4096  # the result hashtable around a chunk, and the Receive envelope's own overhead
_PATH_ALLOWANCE = "C" * 1024  # a path up to 1,024 characters keeps a chunk inside one envelope


def _create_pipeline_bytes(script: str, params: Mapping[str, Any]) -> int:
    """Size of the PSRP CreatePipeline message pypsrp builds for this script and parameters."""
    from pypsrp.complex_objects import (
        ApartmentState,
        Command,
        CommandParameter,
        HostInfo,
        Pipeline,
        RemoteStreamOptions,
    )
    from pypsrp.messages import CreatePipeline, Destination, Message
    from pypsrp.serializer import Serializer

    command = Command(script, protocol_version="2.3", is_script=True, use_local_scope=None)
    for name, value in params.items():
        command.args.append(CommandParameter(name=name, value=value))
    pipeline = Pipeline(is_nested=False, cmds=[command], history=None, redirect_err_to_out=False)
    message = CreatePipeline(
        True,
        ApartmentState(value=ApartmentState.UNKNOWN),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=None),
        pipeline,
        False,
    )
    zero = str(uuid.UUID(int=0))
    return len(Message(Destination.SERVER, zero, zero, message, Serializer()).pack())


def chunk_bytes_for(max_envelope_size: int, write_script: str) -> int:
    """File bytes per chunk so that one Write-FileChunk call, and one Read-FileChunk result, fit one envelope."""
    from pypsrp.wsman import WSMan

    payload = WSMan("localhost", max_envelope_size=max_envelope_size, auth="basic").max_payload_size
    overhead = _create_pipeline_bytes(
        write_script,
        contracts.WriteFileChunkParams(
            path=_PATH_ALLOWANCE, data_base64="", offset=2**62, final=False, expected_sha256="0" * 64
        ).wire(),
    )
    send_room = payload - _FRAGMENT_HEADER - overhead - 256
    receive_room = payload - _FRAGMENT_HEADER - _RECEIVE_MARGIN
    room = min(send_room, receive_room)
    chunk = (room // 4) * 3  # base64 text -> bytes
    chunk -= chunk % 3072  # whole base64 quanta, in KiB multiples
    if chunk < 3072:
        raise EssoError(
            "ESSO-034",
            f"a max envelope size of {max_envelope_size} bytes leaves no room for file data.",
            step="send-file",
        )
    return chunk
