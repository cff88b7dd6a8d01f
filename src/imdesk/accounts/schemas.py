"""Pydantic models for accounts input/output."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    verified: bool
    annual_fee: int
    plan: str
    account_manager_email: str | None = None


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    annual_fee: int = Field(0, ge=0, le=10**12)
    plan: str = "standard"
    verified: bool = False
    verification_pin: str | None = Field(None, pattern=r"^\d{4,8}$")
    account_manager_email: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: str
    org_id: int | None
    org_name: str | None
    locale: str | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    role: str
    org: str | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)
    name: str = Field("", max_length=200)
    locale: str | None = None


class MeOut(BaseModel):
    id: int | None
    email: str
    role: str
    org_id: int | None
    locale: str | None


class LocaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: str = Field(pattern=r"^(zh_CN|en)$")
