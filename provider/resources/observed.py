"""The model of what a provider observed: the outputs that come from the world, not from the inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Observed(BaseModel):
    """What a provider read from the world, as outputs: camelCase in state, typed in Python.

    Why a model: the output keys, ``registration()``'s placeholders, ``read()`` and ``drift()`` all derive
    from it, so a renamed observation cannot leave a stale string behind.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    @classmethod
    def output_keys(cls) -> tuple[str, ...]:
        """The output keys, as state spells them."""
        return tuple(f.alias or name for name, f in cls.model_fields.items())

    @classmethod
    def from_state(cls, props: Mapping[str, Any]) -> Self:
        """The observation recorded in state (keys an older state lacks, or holds as null, stay unset)."""
        return cls.model_validate({k: props[k] for k in cls.output_keys() if props.get(k) is not None})

    def outputs(self, *, only_set: bool = False) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_unset=only_set)
