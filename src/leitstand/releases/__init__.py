"""Releases: blue-green and canary over two slots, health checks, automatic rollback."""
