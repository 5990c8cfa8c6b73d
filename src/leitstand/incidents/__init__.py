"""Incidents: opened from escalations (issue 4); the full response process builds on this."""
