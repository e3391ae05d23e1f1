"""Outgoing mail: messages rendered from templates, sent through one backend (ADR-0037)."""
