"""One gateway configuration, envoy/envoy.yaml.tmpl, filled two ways: by devtools/gateway_config.py
(`make run`, the tests, the bench) and by the Helm chart. Both give the same configuration for
the same deployment (apart from the chart's health listener) and Envoy accepts both; the
template's generated blocks follow the protos; a placeholder one side does not fill fails.
Tokens are checked with the issuer's published keys (remote_jwks, the `identity` cluster, TLS for
an https issuer), and Envoy's own refusals carry the ErrorInfo the services' errors carry."""

from __future__ import annotations

import base64
import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import envoy, gateway_config
from devtools.deploy_check import gateway, helm, web
from devtools.deploy_check.tools import CheckError
from yoga_common import errors

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
    values = helm.chart_values(helm.Case("defaults", (helm.REQUIRED_VALUES,)))
    cm = config_map(rendered)
    chart = yaml.safe_load(cm["data"]["envoy.yaml"])
    targets = {
        name: f"{name}.yoga.svc.cluster.local:{values['services'][name]['port']}"
        for name in gateway_config.SERVICES
    }
    opts = gateway_config.GatewayOptions(
        listen_host="0.0.0.0",
        issuer=values["auth"]["issuer"],
        audience=values["auth"]["audience"],
        web_target=f"web.yoga.svc.cluster.local:{values['services']['web']['port']}",
    )
    text = gateway_config.render_config(
        values["services"]["gateway"]["port"],
        targets,
        Path("/etc/envoy/yoga.pb"),
        admin_port=9901,
        opts=opts,
    )
    python = yaml.safe_load(text)

    assert listeners(chart) == ["gateway", "health"]
    assert gateway.without_health_listener(chart) == python
    health = chart["static_resources"]["listeners"][1]
    assert health["address"]["socket_address"]["port_value"] == 8089

    assert set(cm["data"]) == {"envoy.yaml"}  # no key material of any kind
    descriptor = base64.b64decode(cm["binaryData"]["yoga.pb"])
    assert descriptor == gateway_config.DESCRIPTOR.read_bytes()
    assert gateway.validate(chart, descriptor, "chart") == []
    assert gateway.validate(python, descriptor, "python") == []


def test_the_parity_check_finds_a_drift(rendered: list[Obj]) -> None:
    objs = copy.deepcopy(rendered)
    cm = config_map(objs)
    chart = yaml.safe_load(cm["data"]["envoy.yaml"])
    hcm = chart["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm["typed_config"]["stream_idle_timeout"] = "5s"
    cm["data"]["envoy.yaml"] = yaml.safe_dump(chart)
    values = helm.chart_values(helm.Case("defaults", (helm.REQUIRED_VALUES,)))
    problems = gateway.parity_problems(objs, values, helm.NAMESPACE)
    assert problems == [
        "gateway config differs from devtools/gateway_config.py: "
        "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/"
        "stream_idle_timeout: '5s' in the chart, '60s' in Python"
    ]


@pytest.mark.parametrize(
    "auth",
    [
        # Quotes in the issuer (not in a URL Envoy fetches), the keys over TLS (SNI).
        '{issuer: "https://id.example.com/realms/a \\"b\\"", audience: "x: y", '
        "jwksUri: 'https://id.example.com/realms/a/protocol/openid-connect/certs'}",
        # The issuer's public URL; its keys inside the cluster, plain http on a port of its own.
        "{issuer: https://id.example.com/realms/studio/, jwksCacheSeconds: 5, jwksUri: "
        "'http://keycloak-service.keycloak.svc:8080/realms/studio/protocol/openid-connect/certs'}",
        # An address, not a name: no SNI, the certificate checked against the address.
        "{issuer: 'https://10.1.2.3:8443/realms/studio'}",
        "{issuer: 'http://[fd00::5]:8180/realms/studio'}",
    ],
)
def test_the_parity_check_holds_for_other_values(tmp_path: Path, auth: str) -> None:
    """Strings that need quoting, other issuers and key URIs, limits and a name prefix: filled
    alike by Python and the chart, and Envoy accepts them."""
    values = tmp_path / "odd.yaml"
    values.write_text(
        "namePrefix: t-\n"
        f"auth: {auth}\n"
        "services:\n  gateway:\n    port: 9000\n    maxRequestBytes: 1048576\n"
        "    routeTimeout: 2.5s\n"
        "    corsOriginsRegex: '^https://(www\\.)?example\\.com$'\n"
    )
    case = helm.Case("odd", (helm.REQUIRED_VALUES, values))
    objs = helm.helm_template(case)
    assert gateway.parity_problems(objs, helm.chart_values(case), helm.NAMESPACE) == []
    assert gateway.envoy_problems(objs, "odd") == []
    assert web.parity_problems(objs, helm.chart_values(case)) == []


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
        gateway_config.render_config(8088, targets)


def test_a_placeholder_the_chart_does_not_fill_fails_the_render(tmp_path: Path) -> None:
    chart = tmp_path / "yoga-studio"
    shutil.copytree(helm.CHART, chart, symlinks=False)
    template = chart / "files" / "gateway" / "envoy.yaml.tmpl"
    template.write_text(
        template.read_text().replace(
            "stream_idle_timeout: 60s", "stream_idle_timeout: ${STREAM_IDLE_TIMEOUT}"
        )
    )
    with pytest.raises(CheckError, match=r"placeholders the chart does not fill: \$\{STREAM_IDLE"):
        helm.helm_template(helm.Case("unfilled", (helm.REQUIRED_VALUES,)), chart=chart)


def test_the_chart_links_to_envoy_and_a_copy_is_found(tmp_path: Path) -> None:
    assert gateway.link_problems() == []
    copied = tmp_path / "envoy.yaml.tmpl"
    shutil.copyfile(gateway_config.TEMPLATE, copied)
    problems = gateway.link_problems({copied: gateway_config.TEMPLATE})
    assert problems and "must be a symlink to envoy/envoy.yaml.tmpl" in problems[0]


# -- the issuer's keys ---------------------------------------------------------------------------

TARGETS = {name: f"127.0.0.1:{5000 + i}" for i, name in enumerate(gateway_config.SERVICES)}


def provider(config: Obj) -> Obj:
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    jwt = next(f for f in hcm["typed_config"]["http_filters"] if f["name"].endswith("jwt_authn"))
    found: Obj = jwt["typed_config"]["providers"]["yoga"]
    return found


def cluster(config: Obj, name: str) -> Obj:
    found: Obj = next(c for c in config["static_resources"]["clusters"] if c["name"] == name)
    return found


def test_keys_come_from_the_issuer_and_are_refreshed_in_the_background() -> None:
    opts = gateway_config.GatewayOptions(
        issuer="http://127.0.0.1:8180/realms/studio/", audience="yoga", jwks_cache_seconds=5
    )
    config = gateway_config.build_config(8088, TARGETS, opts=opts)
    jwt = provider(config)
    assert jwt["issuer"] == "http://127.0.0.1:8180/realms/studio/"
    assert jwt["audiences"] == ["yoga"]
    assert "local_jwks" not in jwt
    remote = jwt["remote_jwks"]
    assert remote["http_uri"] == {
        "uri": "http://127.0.0.1:8180/realms/studio/protocol/openid-connect/certs",
        "cluster": "identity",
        "timeout": "5s",
    }
    assert remote["cache_duration"] == "5s"
    assert remote["async_fetch"]["fast_listener"] is False
    assert remote["retry_policy"]["num_retries"] >= 1
    identity = cluster(config, "identity")
    assert identity["type"] == "STRICT_DNS"
    endpoint = identity["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 8180}
    assert identity["transport_socket"]["name"] == "envoy.transport_sockets.raw_buffer"


def test_an_https_issuer_is_reached_over_tls_with_sni(tmp_path: Path) -> None:
    """The keys at another place than the issuer's (jwks_uri), https on the default port:
    TLS with SNI and the certificate checked against the host; Envoy accepts it."""
    opts = gateway_config.GatewayOptions(
        issuer="https://id.example.com/realms/studio",
        jwks_uri="https://keys.example.com/realms/studio/protocol/openid-connect/certs",
    )
    text = gateway_config.render_config(8088, TARGETS, opts=opts)
    config = yaml.safe_load(text)
    identity = cluster(config, "identity")
    endpoint = identity["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {
        "address": "keys.example.com",
        "port_value": 443,
    }
    socket = identity["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    context = socket["typed_config"]
    assert context["sni"] == "keys.example.com"
    validation = context["common_tls_context"]["validation_context"]
    assert validation["trusted_ca"] == {"filename": gateway_config.SYSTEM_CA_FILE}
    assert validation["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "keys.example.com"}}
    ]
    assert provider(config)["remote_jwks"]["cache_duration"] == "60s"
    path = tmp_path / "envoy.yaml"
    path.write_text(text)
    envoy.validate(path)


def test_the_options_default_to_the_services_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOGA_JWT_ISSUER", "https://login.example.org/realms/x")
    monkeypatch.setenv("YOGA_JWT_AUDIENCE", "studio-api")
    opts = gateway_config.GatewayOptions()
    assert (opts.issuer, opts.audience, opts.jwks_uri) == (
        "https://login.example.org/realms/x",
        "studio-api",
        "",
    )
    assert gateway_config.jwks_uri_of(opts) == (
        "https://login.example.org/realms/x/protocol/openid-connect/certs"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jwks_uri": "ftp://id.example.com/certs"}, "http or https URL"),
        ({"issuer": "yoga-dev"}, "http or https URL"),
        ({"jwks_uri": "http://id.example.com:99999/certs"}, "bad port"),
        ({"jwks_cache_seconds": 0}, "at least 1"),
        ({"jwks_cache_seconds": 30.5}, "whole seconds"),
    ],
)
def test_unusable_key_options_are_refused(change: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"issuer": "http://127.0.0.1:8180/realms/studio"}
    opts = gateway_config.GatewayOptions(**{**base, **change})
    with pytest.raises(ValueError, match=message):
        gateway_config.render_config(8088, TARGETS, opts=opts)


def test_the_access_log_names_the_subject_and_the_issuers_roles() -> None:
    config = gateway_config.build_config(8088, TARGETS)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    fields = hcm["typed_config"]["access_log"][0]["typed_config"]["log_format"]["json_format"]
    payload = "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:{})%"
    assert fields["user"] == payload.format("sub")
    assert fields["roles"] == payload.format("realm_access:roles")
    assert "role" not in fields


# -- Envoy's own replies -------------------------------------------------------------------------


def test_every_json_local_reply_carries_an_error_info() -> None:
    """Each JSON mapper answers a google.rpc.Status with one ErrorInfo of the services' domain;
    401 says what the services say (errors.unauthenticated); jwt_authn's 403 (a token for
    another audience) becomes that 401 too, as the services refuse such a token."""
    config = gateway_config.build_config(8088, TARGETS)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    mappers = hcm["typed_config"]["local_reply_config"]["mappers"]
    json_mappers = [m for m in mappers if "body_format_override" in m]
    by_status: dict[int, Obj] = {}
    for mapper in json_mappers:
        body = mapper["body_format_override"]["json_format"]
        assert mapper["body_format_override"]["content_type"] == "application/json"
        assert body["message"] == "%LOCAL_REPLY_BODY%"
        [detail] = body["details"]
        assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
        assert detail["domain"] == errors.DOMAIN
        assert detail["reason"]
        comparison = mapper["filter"]["status_code_filter"]["comparison"]
        if comparison["op"] == "EQ":
            by_status[comparison["value"]["default_value"]] = body
    # The last one takes any other error status: UNKNOWN.
    last = json_mappers[-1]
    assert last["filter"]["status_code_filter"]["comparison"]["op"] == "GE"
    assert last["body_format_override"]["json_format"]["details"][0]["reason"] == "UNKNOWN"
    assert len(by_status) == len(json_mappers) - 1
    refused = errors.unauthenticated("x")
    assert (by_status[401]["code"], by_status[401]["details"][0]["reason"]) == (
        refused.code.value,
        refused.reason,
    )
    assert (by_status[403]["code"], by_status[403]["details"][0]["reason"]) == (
        refused.code.value,
        refused.reason,
    )
    audience = next(
        m for m in json_mappers if m["body_format_override"]["json_format"] is by_status[403]
    )
    assert audience["status_code"] == 401
    assert by_status[400]["details"][0]["reason"] == "INVALID_ARGUMENT"
    assert by_status[404]["details"][0]["reason"] == "ROUTE_NOT_FOUND"
    assert by_status[413]["details"][0]["reason"] == "REQUEST_TOO_LARGE"
    assert by_status[503]["details"][0]["reason"] == "UNAVAILABLE"


# -- the web app on the same listener ------------------------------------------------------------


def routes(config: Obj) -> list[Obj]:
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    found: list[Obj] = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    return found


STATIC_OFF = {
    f"envoy.filters.http.{name}": {
        "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
        "disabled": True,
    }
    for name in ("jwt_authn", "buffer", "grpc_json_transcoder")
}


def test_the_web_app_gets_what_is_neither_api_nor_grpc_without_a_token() -> None:
    """Route order: the services' gRPC prefixes, any other gRPC call refused, GET/HEAD
    /v1/openapi.json to the web app, /v1/ to the transcoder, everything else to the web app.
    The web app's routes turn jwt_authn, the buffer and the transcoder off; the API's keep
    them (the filter-level rule still requires a token on every path)."""
    opts = gateway_config.GatewayOptions(web_target="web.example.svc:8080")
    config = gateway_config.build_config(8088, TARGETS, opts=opts)
    by_name = {route["name"]: route for route in routes(config)}
    last = ["unknown gRPC method", "openapi document", "json before transcoding", "web app"]
    assert list(by_name)[-4:] == last
    openapi, json_route, web = (by_name[name] for name in last[1:])
    assert openapi["match"]["path"] == "/v1/openapi.json"
    method = openapi["match"]["headers"][0]
    assert method["name"] == ":method"
    assert method["string_match"]["safe_regex"]["regex"] == "GET|HEAD"
    assert json_route["match"] == {"prefix": gateway_config.API_PREFIX}
    assert web["match"] == {"prefix": "/"}
    for route in (openapi, web):
        assert route["route"]["cluster"] == "web"
        assert route["typed_per_filter_config"] == STATIC_OFF
    for name, route in by_name.items():
        if route not in (openapi, web):
            per_filter = route.get("typed_per_filter_config", {})
            assert "envoy.filters.http.jwt_authn" not in per_filter, name
            assert "envoy.filters.http.grpc_json_transcoder" not in per_filter, name
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    jwt = next(f for f in hcm["typed_config"]["http_filters"] if f["name"].endswith("jwt_authn"))
    assert jwt["typed_config"]["rules"] == [
        {"match": {"prefix": "/"}, "requires": {"provider_name": "yoga"}}
    ]
    web_cluster = cluster(config, "web")
    endpoint = web_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {
        "address": "web.example.svc",
        "port_value": 8080,
    }
    assert "typed_extension_protocol_options" not in web_cluster  # HTTP/1.1
    # Without a web app the cluster points nowhere: those paths answer 503.
    alone = cluster(gateway_config.build_config(8088, TARGETS), "web")
    endpoint = alone["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 1}


def test_every_http_rule_is_under_the_api_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only /v1/ reaches the transcoder: an HTTP rule elsewhere would be served the web app's
    page; `make proto-check` (--check-template) says so."""
    paths = gateway_config.http_rule_paths()
    assert "/v1/classes/{class_id}" in paths
    assert all(path.startswith(gateway_config.API_PREFIX) for path in paths)
    monkeypatch.setattr(gateway_config, "http_rule_paths", lambda: [*paths, "/v2/classes"])
    [problem] = gateway_config.template_problems()
    assert "not: ['/v2/classes']" in problem
