"""Router and instance rendering that needs no engine: nginx upstream, Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path

import yaml

from leitstand.gates.containers import check_manifest
from leitstand.policy.releases import Instance, KubernetesStart
from leitstand.releases.instances import KubernetesStarter, SlotContext
from leitstand.releases.model import Routing
from leitstand.releases.routers.kubernetes import KubernetesRouter
from leitstand.releases.routers.nginx import NginxRouter, render_upstream

ADDRESSES = {"blue": "127.0.0.1:8081", "green": "127.0.0.1:8082"}


def test_the_nginx_upstream_has_weights_and_marks_unweighted_slots_down(tmp_path: Path) -> None:
    text = render_upstream("api", ADDRESSES, Routing({"blue": 95, "green": 5}), keepalive=16)
    assert "server 127.0.0.1:8081 weight=95;" in text
    assert "server 127.0.0.1:8082 weight=5;" in text
    assert "zone api 64k;" in text and "keepalive 16;" in text
    upstream = tmp_path / "upstream.conf"
    upstream.write_text(
        render_upstream("api", ADDRESSES, Routing({"blue": 0, "green": 100}), keepalive=0)
    )
    router = NginxRouter(
        config="x", upstream_file=str(upstream), upstream="api", addresses=ADDRESSES
    )
    assert router.current() == Routing({"blue": 0, "green": 100}, frozenset({"blue"}))


def test_kubernetes_blue_green_is_a_service_selector_switch(tmp_path: Path) -> None:
    router = KubernetesRouter(
        app="enterprise-api", namespace="prod", service="enterprise-api",
        slots=["blue", "green"], output_dir=str(tmp_path),
    )  # fmt: skip
    assert router.current().serving() == []
    router.apply(Routing({"blue": 0, "green": 100}))
    docs = list(yaml.safe_load_all(router.manifest_file.read_text()))
    main = next(d for d in docs if d["metadata"]["name"] == "enterprise-api")
    assert main["kind"] == "Service" and main["metadata"]["namespace"] == "prod"
    assert main["spec"]["selector"] == {"app": "enterprise-api", "slot": "green"}
    assert {d["metadata"]["name"] for d in docs} == {
        "enterprise-api", "enterprise-api-blue", "enterprise-api-green",
    }  # fmt: skip
    assert router.current() == Routing({"blue": 0, "green": 100})


def test_kubernetes_canary_weights_are_an_httproute_and_apply_runs_the_command(
    tmp_path: Path,
) -> None:
    applied = tmp_path / "applied.txt"
    router = KubernetesRouter(
        app="enterprise-api", namespace="prod", service="enterprise-api",
        slots=["blue", "green"], output_dir=str(tmp_path / "out"), gateway="public",
        apply_command=["sh", "-c", f'cp "$0" {applied}', "{file}"],
    )  # fmt: skip
    router.apply(Routing({"blue": 95, "green": 5}))
    docs = list(yaml.safe_load_all(applied.read_text()))
    route = next(d for d in docs if d["kind"] == "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public"}]
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        ("enterprise-api-blue", 95), ("enterprise-api-green", 5),
    ]  # fmt: skip
    # Two slots serve: no selector switch of the main Service.
    assert all(d["metadata"]["name"] != "enterprise-api" or d["kind"] != "Service" for d in docs)


def test_a_kubernetes_version_is_a_deployment_with_the_version_as_image_tag(
    tmp_path: Path,
) -> None:
    spec = KubernetesStart(
        kind="kubernetes", image="registry.example/{service}", output_dir=str(tmp_path)
    )
    ctx = SlotContext(
        service="enterprise-api",
        env="production",
        instances={"blue": Instance(port=8081), "green": Instance(port=8082)},
        home=tmp_path,
    )
    starter = KubernetesStarter(spec, ctx=ctx)
    starter.start("green", "2.4.0")
    assert starter.running("green") == "2.4.0"
    deployment = yaml.safe_load((tmp_path / "enterprise-api-green-deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/enterprise-api:2.4.0"
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app": "enterprise-api",
        "slot": "green",
    }
    starter.stop("green")
    assert starter.running("green") is None


def _starter(tmp_path: Path, **start: object) -> KubernetesStarter:
    spec = KubernetesStart.model_validate(
        {"kind": "kubernetes", "image": "registry.example/{service}", "output_dir": str(tmp_path)}
        | start
    )
    ctx = SlotContext(
        service="enterprise-api",
        env="production",
        instances={"blue": Instance(port=8081), "green": Instance(port=8082)},
        home=tmp_path,
    )
    return KubernetesStarter(spec, ctx=ctx)


def test_a_rendered_deployment_passes_leitstands_own_container_gate(tmp_path: Path) -> None:
    _starter(tmp_path).start("blue", "2.4.0")
    path = tmp_path / "enterprise-api-blue-deployment.yaml"
    text = path.read_text()
    # Not only nothing blocking: not even the read-only warning.
    assert check_manifest(text, file=path.name) == []
    pod = yaml.safe_load(text)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert container["volumeMounts"] == [{"name": "writable-0", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "writable-0", "emptyDir": {}}]


def test_the_policy_sets_resources_user_and_writable_paths_of_the_deployment(
    tmp_path: Path,
) -> None:
    starter = _starter(
        tmp_path,
        resources={"requests": {"cpu": 0.5}, "limits": {"cpu": 2, "memory": "1Gi"}},
        run_as_user=2000,
        read_only_root_filesystem=False,
        writable_paths=["/tmp", "/var/cache/app"],
    )
    starter.start("green", "2.4.0")
    text = (tmp_path / "enterprise-api-green-deployment.yaml").read_text()
    pod = yaml.safe_load(text)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "0.5", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert container["securityContext"]["runAsUser"] == 2000
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp", "/var/cache/app"]
    assert {m["name"] for m in container["volumeMounts"]} == {v["name"] for v in pod["volumes"]}
    # A writable root is now the policy's business: undecided, the gate only warns.
    [finding] = check_manifest(text, file="d.yaml")
    assert (finding.rule, finding.blocking) == ("LS-K8S-READONLY", False)
