"""One gateway configuration, envoy/envoy.yaml.tmpl, filled two ways: by devtools/gateway_config.py
(`make run`, the tests, the bench) and by the Helm chart. Both give the same configuration for
the same deployment (apart from the chart's health listener) and Envoy accepts both; the
template's generated blocks follow the protos; a placeholder one side does not fill fails."""

from __future__ import annotations

import base64
import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import gateway_config
from devtools.deploy_check import gateway, helm
from devtools.deploy_check.tools import CheckError

Obj = dict[str, Any]


def config_map(objs: list[Obj]) -> Obj:
    found = gateway.gateway_config_map(objs)
    assert found is not None
    return found[0]


def listeners(config: Obj) -> list[str]:
    return [listener["name"] for listener in config["static_resources"]["listeners"]]


def test_chart_and_python_render_the_same_config(rendered: list[Obj]) -> None:
    """Python with the chart's addresses, paths, ports, issuer and audience; helm with its
    defaults. Equal as parsed YAML once the chart's health listener is set aside, and
    `envoy --mode validate` accepts both (the pod's /etc/envoy paths rewritten to temp files)."""
    values = helm.chart_values()
    cm = config_map(rendered)
    chart = yaml.safe_load(cm["data"]["envoy.yaml"])
    targets = {
        name: f"{name}.yoga.svc.cluster.local:{values['services'][name]['port']}"
        for name in gateway_config.SERVICES
    }
    opts = gateway_config.GatewayOptions(
        listen_host="0.0.0.0", issuer=values["auth"]["issuer"], audience=values["auth"]["audience"]
    )
    text = gateway_config.render_config(
        values["services"]["gateway"]["port"],
        targets,
        Path("/etc/envoy/jwks.json"),
        Path("/etc/envoy/yoga.pb"),
        admin_port=9901,
        opts=opts,
    )
    python = yaml.safe_load(text)

    assert listeners(chart) == ["gateway", "health"]
    assert gateway.without_health_listener(chart) == python
    health = chart["static_resources"]["listeners"][1]
    assert health["address"]["socket_address"]["port_value"] == 8089

    jwks = cm["data"]["jwks.json"]
    descriptor = base64.b64decode(cm["binaryData"]["yoga.pb"])
    assert descriptor == gateway_config.DESCRIPTOR.read_bytes()
    assert gateway.validate(chart, jwks, descriptor, "chart") == []
    assert gateway.validate(python, jwks, descriptor, "python") == []


def test_the_parity_check_finds_a_drift(rendered: list[Obj]) -> None:
    objs = copy.deepcopy(rendered)
    cm = config_map(objs)
    chart = yaml.safe_load(cm["data"]["envoy.yaml"])
    hcm = chart["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm["typed_config"]["stream_idle_timeout"] = "5s"
    cm["data"]["envoy.yaml"] = yaml.safe_dump(chart)
    problems = gateway.parity_problems(objs, helm.chart_values(), helm.NAMESPACE)
    assert problems == [
        "gateway config differs from devtools/gateway_config.py: "
        "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/"
        "stream_idle_timeout: '5s' in the chart, '60s' in Python"
    ]


def test_the_parity_check_holds_for_other_values(tmp_path: Path, keys: dict[str, Path]) -> None:
    """Strings that need quoting, another issuer, limits and a name prefix: filled alike."""
    values = tmp_path / "odd.yaml"
    values.write_text(
        "namePrefix: t-\n"
        'auth: {issuer: "https://id.example.com/realms/a \\"b\\"", audience: "x: y"}\n'
        "services:\n  gateway:\n    port: 9000\n    maxRequestBytes: 1048576\n"
        "    routeTimeout: 2.5s\n"
        "    corsOriginsRegex: '^https://(www\\.)?example\\.com$'\n"
    )
    case = helm.Case("odd", (values,), keys)
    objs = helm.helm_template(case)
    assert gateway.parity_problems(objs, helm.chart_values(case), helm.NAMESPACE) == []
    assert gateway.envoy_problems(objs, "odd") == []


def test_the_generated_blocks_match_the_protos() -> None:
    assert gateway_config.template_problems() == []
    internal = gateway_config.internal_methods()
    text = gateway_config.TEMPLATE.read_text()
    for path in internal:
        assert f'match: {{prefix: "{path}"}}' in text


def test_a_stale_generated_block_is_found(tmp_path: Path) -> None:
    stale = tmp_path / "envoy.yaml.tmpl"
    text = gateway_config.TEMPLATE.read_text()
    lines = text.splitlines(keepends=True)
    stale.write_text("".join(ln for ln in lines if ln.strip() != "- yoga.mypage.v1.MyPageService"))
    assert text != stale.read_text()
    problems = gateway_config.template_problems(stale)
    assert problems and "out of date with protos/" in problems[0]
    assert gateway_config.with_generated_blocks(stale.read_text()) == text
    # A block whose end marker is lost is a problem too, not a crash.
    broken = tmp_path / "broken.yaml.tmpl"
    broken.write_text(text.replace("# END GENERATED services", "# END services", 1))
    assert "must hold each generated block once" in gateway_config.template_problems(broken)[0]


def test_a_placeholder_python_does_not_fill_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "envoy.yaml.tmpl"
    template.write_text(
        gateway_config.TEMPLATE.read_text().replace(
            "stream_idle_timeout: 60s", "stream_idle_timeout: ${STREAM_IDLE_TIMEOUT}"
        )
    )
    monkeypatch.setattr(gateway_config, "TEMPLATE", template)
    targets = {name: "127.0.0.1:1" for name in gateway_config.SERVICES}
    with pytest.raises(ValueError, match=r"only in the template \['STREAM_IDLE_TIMEOUT'\]"):
        gateway_config.render_config(8088, targets, tmp_path / "jwks.json")


def test_a_placeholder_the_chart_does_not_fill_fails_the_render(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    chart = tmp_path / "yoga-studio"
    shutil.copytree(helm.CHART, chart, symlinks=False)
    template = chart / "files" / "gateway" / "envoy.yaml.tmpl"
    template.write_text(
        template.read_text().replace(
            "stream_idle_timeout: 60s", "stream_idle_timeout: ${STREAM_IDLE_TIMEOUT}"
        )
    )
    with pytest.raises(CheckError, match=r"placeholders the chart does not fill: \$\{STREAM_IDLE"):
        helm.helm_template(helm.Case("unfilled", set_files=keys), chart=chart)


def test_the_chart_links_to_envoy_and_a_copy_is_found(tmp_path: Path) -> None:
    assert gateway.link_problems() == []
    copied = tmp_path / "envoy.yaml.tmpl"
    shutil.copyfile(gateway_config.TEMPLATE, copied)
    problems = gateway.link_problems({copied: gateway_config.TEMPLATE})
    assert problems and "must be a symlink to envoy/envoy.yaml.tmpl" in problems[0]
