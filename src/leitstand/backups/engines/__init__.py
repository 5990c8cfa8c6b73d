"""Backup engines behind one narrow protocol: pgBackRest, restic and git."""

from __future__ import annotations

from leitstand.backups.engines.base import BackupEngine, RestorePoint, Retention

__all__ = ["BackupEngine", "RestorePoint", "Retention"]
