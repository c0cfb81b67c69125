"""Shared base model and small value types of the recipe schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Every recipe section refuses unknown keys, so a misspelt key is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _shape(value: object) -> str:
    return "name" if isinstance(value, str) else "spec"


def name_or(spec: type) -> object:
    """A field that takes either a short name (string) or a mapping `spec`.

    Discriminating by shape keeps errors about one alternative, not both."""
    from typing import Annotated, Union

    from pydantic import Discriminator, Tag

    return Annotated[Union[Annotated[str, Tag("name")], Annotated[spec, Tag("spec")]], Discriminator(_shape)]
