"""CI/CD quality gates: the seed's stages on real scanners; a failed gate blocks the deployment."""
