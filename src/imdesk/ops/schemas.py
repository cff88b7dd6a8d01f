"""Input of the ops tools API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConfigCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=1 << 20, description="The im_config.yaml text.")
    filename: str = Field("im_config.yaml", max_length=200)
    profile: str | None = Field(None, max_length=64)
    cpu_count: int | None = Field(None, ge=1, le=4096, description="CPU cores of the IM server host.")
    open_file_limit: int | None = Field(None, ge=1, description="Open-file limit of the im_server process.")
    environment: str | None = Field(None, min_length=1, max_length=32, examples=["development"],
                                    description="What the IM server is for: production (default), staging or "
                                                "development. In development DEBUG logs and TLS off are info.")


class VersionCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdk: str = Field(min_length=3, max_length=100, examples=["java:4.3.0"])
    server: str = Field(min_length=1, max_length=100, examples=["4.2.1"])
    profile: str | None = Field(None, max_length=64)
