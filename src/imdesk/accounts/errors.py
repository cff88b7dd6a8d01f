"""Errors of the accounts domain."""

from __future__ import annotations

from imdesk.core.errors import BadInput, Conflict, ErrorCode, NotAuthenticated, NotFound, RateLimited


class InvalidCredentials(NotAuthenticated):
    code = ErrorCode.INVALID_CREDENTIALS
    title = "Invalid credentials"


class TooManyLoginAttempts(RateLimited):
    code = "login_rate_limited"
    title = "Too many login attempts"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "User not found"


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"
    title = "Organisation not found"


class DuplicateUser(Conflict):
    code = "user_exists"
    title = "User already exists"


class DuplicateOrganisation(Conflict):
    code = "organisation_exists"
    title = "Organisation already exists"


class InvalidAccountInput(BadInput):
    code = "invalid_account_input"
    title = "Invalid account data"
