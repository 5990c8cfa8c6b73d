"""Defaults from the seed's "Infrastructure Security Baseline" and "Container Security" tables."""

from __future__ import annotations

from leitstand.policy.defaults._helpers import t
from leitstand.policy.hardening import HardeningItem, HardeningPolicy, ImageScanning

__all__ = ["hardening"]


def _item(title: tuple[str, str], description: tuple[str, str]) -> HardeningItem:
    return HardeningItem(title=t(*title), description=t(*description))


def hardening() -> HardeningPolicy:
    """The 8 host baseline items and the 9 container items."""
    return HardeningPolicy(
        standard="BSI IT-Grundschutz / CIS Benchmarks",
        host={
            "os_hardening": _item(
                ("OS-Härtung", "OS hardening"),
                (
                    "Minimale Installation, unnötige Services deaktiviert",
                    "Minimal installation, unneeded services disabled",
                ),
            ),
            "ssh_hardening": _item(
                ("SSH-Härtung", "SSH hardening"),
                (
                    "Key-Only-Auth, Port geändert, Root-Login deaktiviert",
                    "Key-only auth, port changed, root login disabled",
                ),
            ),
            "firewall": _item(
                ("Firewall", "Firewall"),
                (
                    "Default Deny, nur benötigte Ports offen",
                    "Default deny, only required ports open",
                ),
            ),
            "automatic_security_updates": _item(
                ("Automatische Sicherheitsupdates", "Automatic security updates"),
                (
                    "Unattended-Upgrades für Security-Patches",
                    "Unattended upgrades for security patches",
                ),
            ),
            "disk_encryption": _item(
                ("Festplattenverschlüsselung", "Disk encryption"),
                ("LUKS auf allen Datenträgern", "LUKS on all volumes"),
            ),
            "audit_logging": _item(
                ("Audit-Logging", "Audit logging"),
                ("auditd für Systemzugriffe konfiguriert", "auditd configured for system access"),
            ),
            "ntp_sync": _item(
                ("NTP-Synchronisation", "NTP synchronisation"),
                ("Alle Server auf gleiche Zeitquelle", "All servers on the same time source"),
            ),
            "fail2ban": _item(
                ("Fail2ban", "Fail2ban"),
                (
                    "Brute-Force-Schutz auf SSH und kritische Services",
                    "Brute-force protection on SSH and critical services",
                ),
            ),
        },
        container={
            "base_images": _item(
                ("Base Images", "Base images"),
                (
                    "Nur offizielle, minimale Images (alpine, distroless)",
                    "Only official, minimal images (alpine, distroless)",
                ),
            ),
            "image_scanning": _item(
                ("Image-Scanning", "Image scanning"),
                (
                    "Trivy-Scan in CI-Pipeline (0 Critical, 0 High)",
                    "Trivy scan in the CI pipeline (0 critical, 0 high)",
                ),
            ),
            "image_signing": _item(
                ("Image-Signing", "Image signing"),
                ("Cosign für alle Produktions-Images", "Cosign for all production images"),
            ),
            "non_root": _item(
                ("Non-Root", "Non-root"),
                ("Container laufen als non-root User", "Containers run as a non-root user"),
            ),
            "read_only_filesystem": _item(
                ("Read-Only Filesystem", "Read-only filesystem"),
                (
                    "Wo möglich, Filesystem read-only mounten",
                    "Mount the filesystem read-only where possible",
                ),
            ),
            "resource_limits": _item(
                ("Resource Limits", "Resource limits"),
                (
                    "CPU/Memory-Limits für jeden Container gesetzt",
                    "CPU/memory limits set for every container",
                ),
            ),
            "no_latest_tag": _item(
                ("No Latest Tag", "No latest tag"),
                (
                    "Immer spezifische Versions-Tags verwenden",
                    "Always use specific version tags",
                ),
            ),
            "private_registry": _item(
                ("Private Registry", "Private registry"),
                (
                    "Alle Images über private Registry (Harbor/ECR)",
                    "All images through a private registry (Harbor/ECR)",
                ),
            ),
            "secret_injection": _item(
                ("Secret-Injection", "Secret injection"),
                (
                    "Secrets über Vault/Environment, nicht im Image",
                    "Secrets via Vault/environment, never in the image",
                ),
            ),
        },
        image_scanning=ImageScanning(tool="trivy", max_critical=0, max_high=0),
    )
