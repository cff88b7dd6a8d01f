"""Web plumbing shared by every domain's views and API: dependencies, the Jinja2 environment,
base layouts, static files (vendored HTMX, CSS)."""
