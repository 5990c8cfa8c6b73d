"""Uptime and certificate probes on the real blackbox exporter, Prometheus and Alertmanager.

The stack `leitstand up` manages (``LocalStack``, started by ``support.releases_lab``) probes a
tiny HTTP server and a TLS server made here: a service going down fires ``ServiceDown`` in
Prometheus and reaches Alertmanager; a self-signed certificate expiring in 6 days is measured as
such and fires the certificate rule at the policy's thresholds (promtool shows the minute).
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from leitstand.alerting.engines import find_engines
from leitstand.alerting.stack import LocalStack
from leitstand.bootstrap import Container, build
from leitstand.policy.loader import load_policy_text
from leitstand.policy.monitoring import ThresholdMetric
from leitstand.settings import Settings
from leitstand.testing import free_port, wait_for
from support.releases_lab import managed_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        None
        in (
            shutil.which("prometheus"),
            shutil.which("prometheus-alertmanager"),
            shutil.which("prometheus-blackbox-exporter"),
        ),
        reason="needs the Debian packages prometheus, prometheus-alertmanager and "
        "prometheus-blackbox-exporter",
    ),
]


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


class _Server:
    """A health endpoint on 127.0.0.1 (TLS when given a context), served from a thread."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.http = ThreadingHTTPServer(("127.0.0.1", free_port()), _Health)
        if context is not None:
            self.http.socket = context.wrap_socket(self.http.socket, server_side=True)
        self.port = self.http.server_address[1]
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        """Stop serving and close the port: new connections are refused from now on."""
        if self.running:
            self.http.shutdown()
            self.http.server_close()
            self._thread.join(5)
            self.running = False


def _stack(tmp_path: Path, probes: dict[str, Any]) -> tuple[Container, LocalStack]:
    overlay = {
        "monitoring": {"scrape_interval": "1s", "evaluation_interval": "1s", "probes": probes}
    }
    container = build(
        Settings(home=tmp_path / "home"),
        migrate=True,
        policy=load_policy_text(yaml.safe_dump(overlay)),
    )
    try:
        return container, managed_stack(container)
    except BaseException:
        container.close()
        raise


def _query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _firing(prometheus: str, alertname: str, **labels: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5)
    answer.raise_for_status()
    return [
        a
        for a in answer.json()["data"]["alerts"]
        if a["state"] == "firing"
        and a["labels"]["alertname"] == alertname
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def _in_alertmanager(alertmanager: str, alertname: str, **labels: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5)
    answer.raise_for_status()
    return [
        a
        for a in answer.json()
        if a["labels"]["alertname"] == alertname
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


@pytest.fixture
def health() -> Iterator[_Server]:
    server = _Server()
    try:
        yield server
    finally:
        server.stop()


def test_a_service_going_down_fires_the_uptime_rule(tmp_path: Path, health: _Server) -> None:
    address = f"127.0.0.1:{health.port}"
    url = f"http://{address}/health"
    container, stack = _stack(
        tmp_path,
        {
            "uptime_pending": "2s",
            "targets": [
                {"module": "http", "target": url, "service": "shop", "labels": {"env": "prod"}},
                {"module": "tcp", "target": address, "service": "shop"},
            ],
        },
    )
    try:
        prometheus = stack.components["prometheus"].url
        alertmanager = stack.components["alertmanager"].url
        assert (stack.folder / "config/blackbox/blackbox.yml").is_file()
        # Up: the exporter's probe answers 1, the service is up, the TCP connect time is recorded.
        wait_for(
            "a successful HTTP probe",
            lambda: _query(
                prometheus, f'probe_success{{job="blackbox-http",instance="{url}"}} == 1'
            ),
            timeout=60,
        )
        wait_for(
            "the service recorded as up",
            lambda: _query(prometheus, 'leitstand:uptime:up{service="shop",env="prod"} == 1'),
            timeout=30,
        )
        [latency] = wait_for(
            "the TCP connect latency",
            lambda: _query(
                prometheus, f'leitstand:network_latency:ms{{instance="tcp://{address}"}}'
            ),
            timeout=30,
        )
        assert latency["metric"]["service"] == "shop"
        assert 0 < float(latency["value"][1]) < 1000
        assert not _firing(prometheus, "ServiceDown")

        health.stop()

        [alert] = wait_for(
            "ServiceDown firing in Prometheus",
            lambda: _firing(prometheus, "ServiceDown", service="shop", env="prod"),
            timeout=60,
        )
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["metric"] == "uptime"
        assert "service=shop" in alert["annotations"]["summary"]
        [received] = wait_for(
            "ServiceDown in Alertmanager",
            lambda: _in_alertmanager(alertmanager, "ServiceDown", service="shop"),
            timeout=60,
        )
        assert received["status"]["state"] == "active"
        # The probe says why: the exporter answers, the target does not.
        assert _query(prometheus, f'probe_success{{job="blackbox-http",instance="{url}"}} == 0')
        assert _query(prometheus, f'up{{job="blackbox-http",instance="{url}"}} == 1')
    finally:
        stack.stop()
        container.close()


def _certificate(folder: Path, valid_for: timedelta) -> tuple[Path, Path, datetime]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key; returns its expiry."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leitstand probe test")])
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + valid_for
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, not_after


def _fill(template: str, labels: dict[str, str]) -> str:
    for key, value in labels.items():
        template = template.replace(f"{{{{ $labels.{key} }}}}", value)
    return template


def test_a_certificate_expiring_in_6_days_fires_the_certificate_rule(tmp_path: Path) -> None:
    cert_file, key_file, not_after = _certificate(tmp_path, timedelta(days=6))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = _Server(context)
    address = f"127.0.0.1:{server.port}"
    container, stack = _stack(
        tmp_path,
        {
            "ca_file": str(cert_file),
            "targets": [
                {"module": "http", "target": f"https://{address}/health", "service": "portal"},
                {"module": "tls", "target": address, "service": "portal"},
            ],
        },
    )
    metric = container.policy.monitoring.metrics["certificate_expiry"]
    assert isinstance(metric, ThresholdMetric)
    warning_days, critical_days = float(metric.warning), float(metric.critical)  # seed: 30, 7
    try:
        prometheus = stack.components["prometheus"].url
        alertmanager = stack.components["alertmanager"].url
        instance = f"tls://{address}"
        # The real probe: the certificate's expiry, about now + 6 days.
        [sample] = wait_for(
            "probe_ssl_earliest_cert_expiry of the TLS probe",
            lambda: _query(
                prometheus,
                f'probe_ssl_earliest_cert_expiry{{job="blackbox-tls",instance="{instance}"}}',
            ),
            timeout=60,
        )
        measured_at, expiry = float(sample["value"][0]), float(sample["value"][1])
        assert expiry == not_after.timestamp()
        assert abs(expiry - measured_at - 6 * 86400) < 120
        # An https URL reports the same certificate.
        assert wait_for(
            "the certificate of the https probe",
            lambda: _query(prometheus, 'probe_ssl_earliest_cert_expiry{job="blackbox-http"}'),
            timeout=30,
        )
        # 6 days left is below the critical threshold: critical (and warning) fire at once.
        wait_for(
            "the critical certificate alert",
            lambda: _firing(
                prometheus, "CertificateExpiry", severity="critical", instance=instance
            ),
            timeout=60,
        )
        assert _firing(prometheus, "CertificateExpiry", severity="warning", instance=instance)
        [received] = wait_for(
            "the critical certificate alert in Alertmanager",
            lambda: _in_alertmanager(
                alertmanager, "CertificateExpiry", severity="critical", instance=instance
            ),
            timeout=60,
        )
        assert received["labels"]["service"] == "portal"
        rules_file = stack.folder / "config/prometheus/rules/certificate_expiry.rules.yml"
        rules = yaml.safe_load(rules_file.read_text())
    finally:
        stack.stop()
        container.close()
        server.stop()

    # The right time, on the stack's own rule file: the same certificate one day and one hour
    # earlier (7 days and an hour left) is only a warning until the minute fewer than 7 days
    # are left, then critical.
    left = round(expiry - measured_at) + 86400 + 3600
    first_critical = ((left - int(critical_days * 86400)) // 60 + 1) * 60
    labels = {"instance": instance, "service": "portal"}
    alerts = {r["labels"]["severity"]: r for r in rules["groups"][0]["rules"] if "alert" in r}

    def expected(*severities: str) -> list[dict[str, Any]]:
        return [
            {
                "exp_labels": {**labels, **alerts[s]["labels"]},
                "exp_annotations": {
                    k: _fill(v, labels) for k, v in alerts[s]["annotations"].items()
                },
            }
            for s in severities
        ]

    assert left / 86400 < warning_days
    minutes = first_critical // 60 + 2
    test = {
        "rule_files": [str(rules_file.name)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": (
                            f'probe_ssl_earliest_cert_expiry{{job="blackbox-tls",'
                            f'instance="{instance}",service="portal"}}'
                        ),
                        "values": f"{left}x{minutes}",
                    }
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{first_critical // 60 - 1}m",
                        "alertname": "CertificateExpiry",
                        "exp_alerts": expected("warning"),
                    },
                    {
                        "eval_time": f"{first_critical // 60}m",
                        "alertname": "CertificateExpiry",
                        "exp_alerts": expected("warning", "critical"),
                    },
                ],
            }
        ],
    }
    folder = tmp_path / "promtool"
    folder.mkdir()
    (folder / rules_file.name).write_text(yaml.safe_dump(rules, allow_unicode=True))
    (folder / "cert.test.yml").write_text(yaml.safe_dump(test, allow_unicode=True))
    find_engines().test_rules(["cert.test.yml"], folder)  # raises CheckFailed on a wrong minute
