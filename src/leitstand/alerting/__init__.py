"""Alerting: rules, Alertmanager config, dashboards, alert intake, escalation, notifications."""
