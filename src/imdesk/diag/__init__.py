"""Diagnostics: log readers, parsing, template mining, rules, root-cause reports, config check,
network check, version check and support bundles.

A library and CLI with no web and no database dependency: it runs on a customer's server where no
imdesk service exists (a meta-test keeps ``diag`` free of web and database imports).
"""
