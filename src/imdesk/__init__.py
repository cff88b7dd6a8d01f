"""imdesk: a self-hosted support platform for enterprise IM servers."""

__version__ = "0.1.0"
