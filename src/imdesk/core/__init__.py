"""Cross-cutting, model-free building blocks. ``core`` imports no domain."""
