"""Errors of the desk domain, each with a stable code (rendered as RFC 9457 problems)."""

from __future__ import annotations

from imdesk.core.errors import BadInput, Conflict, NotFound, PayloadTooLarge, PermissionDenied


class InvalidTransition(Conflict):
    code = "desk.invalid_transition"
    title = "Invalid ticket transition"


class TicketNotFound(NotFound):
    code = "desk.ticket_not_found"
    title = "Ticket not found"


class InvalidTicket(BadInput):
    code = "desk.invalid_ticket"
    title = "Invalid ticket"


class InvalidRating(BadInput):
    code = "desk.invalid_rating"
    title = "Invalid rating"


class RatingLinkInvalid(BadInput):
    code = "desk.rating_link_invalid"
    title = "Rating link invalid or expired"


class AlreadyRated(Conflict):
    code = "desk.already_rated"
    title = "Already rated"


class AttachmentTooLarge(PayloadTooLarge):
    code = "desk.attachment_too_large"
    title = "Attachment too large"


class AttachmentRefused(BadInput):
    code = "desk.attachment_refused"
    title = "Attachment refused"


class NotAllowed(PermissionDenied):
    code = "desk.not_allowed"
    title = "Not allowed"


class UploadConflict(Conflict):
    code = "desk.upload_conflict"
    title = "Upload offset conflict"
