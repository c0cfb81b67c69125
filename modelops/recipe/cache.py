"""The `cache` section: a store of finished steps that a team and its CI share."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from modelops.recipe.common import Section


class Cache(Section):
    """Finished steps shared by fingerprint: `apply` pulls a step that is already there instead of running it
    (every output's hash checked) and pushes what it ran; `modelops push|pull` do the same by hand. Cache
    settings do not change step fingerprints."""

    url: str = Field(min_length=1, description=(
        "Any fsspec URL: a folder (relative to the recipe, or absolute: a shared mount), `s3://bucket/prefix`, "
        "`gs://bucket/prefix`, `sftp://user@host/path`. Credentials come from the environment, the cloud "
        "SDK's configuration or ~/.ssh, never from the recipe."))
    pull: bool = Field(True, description="Take finished steps from the cache instead of running them.")
    push: bool = Field(True, description="Store each step `apply` runs.")

    @field_validator("url")
    @classmethod
    def _no_password(cls, url: str) -> str:
        if "://" in url and urlsplit(url).password:
            raise ValueError("a password in the cache URL would be written into every plan and into git: give "
                             "the user alone (`sftp://user@host/path`) and keep the secret in ~/.ssh, the cloud "
                             "SDK's configuration or the environment")
        return url
