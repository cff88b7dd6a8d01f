"""Errors of the ops domain."""

from __future__ import annotations

from imdesk.core.errors import BadInput, PayloadTooLarge


class ToolInputInvalid(BadInput):
    code = "tool_input_invalid"
    title = "Invalid tool input"


class ToolInputTooLarge(PayloadTooLarge):
    code = "tool_input_too_large"
    title = "Input too large for the online tool"
