"""The web app in the chart: a Deployment of the web image (nginx, non-root, read-only root, no
capabilities, /tmp an emptyDir), its Service, HPA, PDB and the gateway's `web` cluster pointing
at it; only the gateway may reach it in the mesh. Its nginx.conf is nginx/nginx.conf.tmpl filled
as devtools/nginx.py fills it (deploy-check holds it so and finds a drift), and nginx itself
(Debian's, as `make test` installs it) accepts the chart's file; /config.json names the issuer
and the web client."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from devtools import nginx
from devtools.deploy_check import gateway, helm, rules, web
from devtools.deploy_check.tools import CheckError

Obj = dict[str, Any]


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def defaults() -> dict[str, Any]:
    return helm.chart_values(helm.Case("defaults", (helm.REQUIRED_VALUES,)))


def test_the_web_deployment_runs_nginx_locked_down(rendered: list[Obj]) -> None:
    deployment = find(rendered, "Deployment", "web")
    spec = deployment["spec"]["template"]["spec"]
    assert "replicas" not in deployment["spec"]  # the HPA scales it
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 101  # nginx-unprivileged's user
    [container] = spec["containers"]
    assert container["image"].startswith("registry.example.com/yoga-studio-web:")
    assert container["command"] == ["nginx"]
    assert container["args"] == ["-e", "stderr", "-c", "/etc/yoga-web/nginx.conf"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["tmp"]["mountPath"] == "/tmp"
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/yoga-web", "readOnly": True}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes["tmp"]
    assert volumes["config"]["configMap"]["name"] == "web-config"
    assert rules.deployment_problems([deployment, find(rendered, "ServiceAccount", "web")]) == []

    service = find(rendered, "Service", "web")
    assert service["spec"]["ports"] == [
        {
            "name": "http",
            "port": 8080,
            "targetPort": "http",
            "protocol": "TCP",
            "appProtocol": "http",
        }
    ]
    assert find(rendered, "HorizontalPodAutoscaler", "web")["spec"]["minReplicas"] == 2
    assert find(rendered, "PodDisruptionBudget", "web")["spec"]["maxUnavailable"] == 1


def test_only_the_gateway_reaches_the_web_app(rendered: list[Obj]) -> None:
    policy = find(rendered, "AuthorizationPolicy", "web")
    assert policy["spec"]["rules"] == [
        {
            "from": [{"source": {"principals": ["cluster.local/ns/yoga/sa/gateway"]}}],
            "to": [{"operation": {"methods": ["GET", "HEAD"], "ports": ["8080"]}}],
        }
    ]
    # It takes mTLS only: no port of it is left PERMISSIVE.
    assert not [
        o for o in rendered if o["kind"] == "PeerAuthentication" and o["metadata"]["name"] == "web"
    ]


def test_the_gateway_routes_to_the_web_service_and_a_wrong_address_is_found(
    rendered: list[Obj],
) -> None:
    assert gateway.gateway_problems(rendered) == []
    objs = copy.deepcopy(rendered)
    config_map, config = gateway.gateway_config_map(objs) or ({}, {})
    web_cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "web")
    address = web_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert address["address"]["socket_address"] == {
        "address": "web.yoga.svc.cluster.local",
        "port_value": 8080,
    }
    address["address"]["socket_address"]["port_value"] = 80
    config_map["data"]["envoy.yaml"] = json.dumps(config)
    assert gateway.gateway_problems(objs) == [
        "gateway cluster web: web.yoga.svc.cluster.local:80 is no rendered Service"
    ]


def test_chart_and_python_render_the_same_nginx_config(rendered: list[Obj]) -> None:
    values = defaults()
    assert web.parity_problems(rendered, values) == []
    config_map = find(rendered, "ConfigMap", "web-config")
    assert set(config_map["data"]) == {"nginx.conf", "config.json"}
    assert json.loads(config_map["data"]["config.json"]) == {
        "issuer": "https://id.example.com/realms/studio",
        "clientId": "yoga-web",
    }
    assert "connect-src 'self' https://id.example.com;" in config_map["data"]["nginx.conf"]


def test_nginx_accepts_the_charts_config(rendered: list[Obj], tmp_path: Path) -> None:
    """`nginx -t` on the chart's nginx.conf, the pod's paths moved to a temporary folder (the
    port stays: testing does not bind it)."""
    text = find(rendered, "ConfigMap", "web-config")["data"]["nginx.conf"]
    (tmp_path / "html").mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "config.json").write_text("{}")
    moved = (
        text.replace(str(web.MOUNT), str(tmp_path))
        .replace(str(web.WEB_ROOT), str(tmp_path / "html"))
        .replace(" /tmp/", f" {tmp_path}/tmp/")
    )
    assert f"pid {tmp_path}/tmp/nginx.pid;" in moved
    path = tmp_path / "nginx.conf"
    path.write_text(moved)
    nginx.validate(path)


def test_a_drift_of_the_charts_nginx_config_is_found(rendered: list[Obj]) -> None:
    objs = copy.deepcopy(rendered)
    config_map = find(objs, "ConfigMap", "web-config")
    data = config_map["data"]
    data["nginx.conf"] = data["nginx.conf"].replace("max-age=31536000", "max-age=60")
    data["config.json"] = json.dumps({"issuer": "https://elsewhere.example", "clientId": "x"})
    problems = web.parity_problems(objs, defaults())
    assert len(problems) == 2
    assert "nginx.conf differs from devtools/nginx.py" in problems[0]
    assert "max-age=60" in problems[0]
    assert "config.json is" in problems[1]


def test_a_placeholder_the_chart_does_not_fill_fails_the_render(tmp_path: Path) -> None:
    chart = tmp_path / "yoga-studio"
    shutil.copytree(helm.CHART, chart, symlinks=False)
    template = chart / "files" / "web" / "nginx.conf.tmpl"
    template.write_text(
        template.read_text().replace("worker_processes 1;", "worker_processes @N@;")
    )
    with pytest.raises(CheckError, match=r"placeholders the chart does not fill: @N@"):
        helm.helm_template(helm.Case("unfilled", (helm.REQUIRED_VALUES,)), chart=chart)


def test_a_value_nginx_would_misread_is_refused_both_ways() -> None:
    bad = "https://id.exa$mple.com/realms/studio"
    with pytest.raises(CheckError, match=r"IDP_ORIGIN .* nginx would misread"):
        helm.helm_template(
            helm.Case("odd issuer", (helm.REQUIRED_VALUES,), sets=(f"auth.issuer={bad}",))
        )
    with pytest.raises(ValueError, match="IDP_ORIGIN"):
        nginx.render_config("8080", Path("/srv"), Path("/c.json"), Path("/tmp"), bad)
    with pytest.raises(ValueError, match="WEB_ROOT"):
        nginx.render_config("8080", Path("/srv/a b"), Path("/c.json"), Path("/tmp"), bad[:8] + "x")


def test_other_values_render_alike(tmp_path: Path) -> None:
    """A name prefix, another port, client and issuer (with a port): still one config."""
    values = tmp_path / "web.yaml"
    values.write_text(
        "namePrefix: s-\n"
        "auth: {issuer: 'https://login.example.org:8443/realms/studio'}\n"
        "services:\n  web:\n    port: 9090\n    clientId: studio-web\n"
    )
    case = helm.Case("web", (helm.REQUIRED_VALUES, values))
    objs = helm.helm_template(case)
    assert web.parity_problems(objs, helm.chart_values(case)) == []
    assert gateway.parity_problems(objs, helm.chart_values(case), helm.NAMESPACE) == []
    config_map = find(objs, "ConfigMap", "s-web-config")
    assert json.loads(config_map["data"]["config.json"])["clientId"] == "studio-web"
    assert "frame-src 'self' https://login.example.org:8443;" in config_map["data"]["nginx.conf"]
    assert "listen 9090;" in config_map["data"]["nginx.conf"]
