"""Durable timers and recurring jobs for the whole control plane."""
