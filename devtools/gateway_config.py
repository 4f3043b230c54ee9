"""The Envoy edge gateway's configuration: `envoy/envoy.yaml.tmpl` (read it: the configuration and
why) with its placeholders filled for one deployment. `render_config` fills them for `make run`,
the tests and the bench (`devtools.envoy.start_gateway` writes the result and starts Envoy); the
Helm chart fills the same file from its values.

The template's `BEGIN GENERATED` blocks are what the protos decide (the methods without a
`google.api.http` rule, refused at the gateway; the transcoded services; one route prefix and
cluster per service). `python -m devtools.gateway_config --write-template` rewrites them and
`--check-template` (in `make proto-check`) fails when the committed file differs."""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

# Imported for their side effect: they put the services' descriptors in the default pool.
from yoga.mypage.v1 import mypage_pb2  # noqa: F401
from yoga.notification.v1 import notification_pb2  # noqa: F401
from yoga.reservation.v1 import reservation_pb2  # noqa: F401
from yoga.yogaclass.v1 import yogaclass_pb2  # noqa: F401
from yoga_common import system
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "envoy" / "envoy.yaml.tmpl"
DESCRIPTOR = ROOT / "envoy" / "yoga.pb"
LISTEN_PORT = system.GATEWAY_PORT
CORS_ORIGINS = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$"
# Where Keycloak publishes a realm's keys, under its issuer URL.
KEYCLOAK_JWKS_PATH = "/protocol/openid-connect/certs"
# The CA bundle Envoy checks the issuer's certificate with when the JWKS URI is https: the
# system's (Debian and Ubuntu, the envoyproxy/envoy image included).
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
# Where the `web` cluster points when no static server runs: nothing listens on port 1.
NO_WEB = "127.0.0.1:1"
# Every JSON route (google.api.http rule) lies under it: the gateway sends the rest to the web app.
API_PREFIX = "/v1/"

# Target name (as in `make run` and the tests) -> the gRPC service it serves.
SERVICES: dict[str, ServiceDescriptor] = {
    name: descriptor_pool.Default().FindServiceByName(service.grpc_service)
    for name, service in system.SERVICES.items()
}


def http_rule_paths() -> list[str]:
    """The path template of every `google.api.http` rule (additional bindings included): the
    gateway sends only API_PREFIX to the transcoder, the rest to the web app."""
    found: list[str] = []
    for service in SERVICES.values():
        for method in service.methods:
            options = method.GetOptions()
            rules = [v for f, v in options.ListFields() if f.full_name == "google.api.http"]
            for rule in rules:
                found += _rule_paths(rule)
    return found


def _rule_paths(rule: Any) -> list[str]:
    """The paths of one google.api.HttpRule and its additional bindings."""
    found: list[str] = []
    for each in (rule, *rule.additional_bindings):
        pattern = each.WhichOneof("pattern")
        if pattern == "custom":
            found.append(each.custom.path)
        elif pattern:
            found.append(getattr(each, pattern))
    return found


def internal_methods() -> list[str]:
    """Full paths of the methods without a `google.api.http` rule: service to service only, so
    refused at the gateway. Derived from the protos, so a new internal RPC is refused too."""
    found = []
    for service in SERVICES.values():
        for method in service.methods:
            options = method.GetOptions()
            if not any(f.full_name == "google.api.http" for f, _ in options.ListFields()):
                found.append(f"/{service.full_name}/{method.name}")
    return found


def default_jwks_uri(issuer: str) -> str:
    """Where the issuer publishes its keys by Keycloak's convention (`<issuer>/protocol/
    openid-connect/certs`); the chart derives it the same way."""
    return issuer.rstrip("/") + KEYCLOAK_JWKS_PATH


@dataclass(frozen=True)
class GatewayOptions:
    listen_host: str = "127.0.0.1"
    # What a token must say; by default what the services are told (YOGA_JWT_*).
    issuer: str = field(default_factory=lambda: AuthSettings().issuer)
    audience: str = field(default_factory=lambda: AuthSettings().audience)
    # The issuer's keys (JWKS); empty: Keycloak's place under the issuer (`default_jwks_uri`).
    jwks_uri: str = ""
    # Envoy's cache_duration of the keys (whole seconds): it fetches them again in the background
    # every cache_duration less 5 s (the duration itself when 5 s or less), so a new signing key
    # reaches the gateway at most this late. Fetched keys never expire (they are replaced), so
    # a provider outage does not make the gateway refuse tokens.
    jwks_cache_seconds: float = 60.0
    # Largest request body (JSON or gRPC) the gateway accepts; larger ones get 413.
    max_request_bytes: int = 64 * 1024
    max_response_bytes: int = 4 * 1024 * 1024
    # Route timeout; a gRPC caller's own deadline (grpc-timeout) applies when shorter.
    timeout_seconds: float = 15.0
    cors_origins_regex: str = CORS_ORIGINS
    access_log: bool = True
    # host:port of the web app's static server (nginx, devtools/nginx.py): `GET /v1/openapi.json`
    # and every path neither under /v1/ nor gRPC go there, without a token. By default nowhere:
    # those paths answer 503 (a stack without the web app).
    web_target: str = NO_WEB


# -- filling the placeholders ---------------------------------------------------------------------


def _q(value: str) -> str:
    """A string as a YAML value: JSON-quoted (JSON strings are YAML strings), as the chart does
    with `toJson`."""
    return json.dumps(value)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def host_placeholder(name: str) -> str:
    return f"{name.upper()}_HOST"


def port_placeholder(name: str) -> str:
    return f"{name.upper()}_PORT"


def jwks_uri_of(opts: GatewayOptions) -> str:
    return opts.jwks_uri or default_jwks_uri(opts.issuer)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def identity_endpoint(jwks_uri: str) -> tuple[str, int, bool]:
    """(host, port, tls) of the JWKS URI: the `identity` cluster Envoy fetches the keys from."""
    parts = urlsplit(jwks_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the JWKS URI must be an http or https URL, not {jwks_uri!r}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError as err:
        raise ValueError(f"the JWKS URI {jwks_uri!r} has a bad port: {err}") from err
    return parts.hostname, port, tls


def transport_socket(host: str, tls: bool) -> dict[str, Any]:
    """The `identity` cluster's transport socket: plaintext, or TLS that sends the host as SNI
    and checks the certificate against the system's CAs and the host name (or address)."""
    if not tls:
        return {
            "name": "envoy.transport_sockets.raw_buffer",
            "typed_config": {
                "@type": "type.googleapis.com/"
                "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
            },
        }
    ip = _is_ip(host)
    context: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": {
            "validation_context": {
                "trusted_ca": {"filename": SYSTEM_CA_FILE},
                "match_typed_subject_alt_names": [
                    {"san_type": "IP_ADDRESS" if ip else "DNS", "matcher": {"exact": host}}
                ],
            }
        },
    }
    if not ip:  # SNI names a host, never an address (RFC 6066)
        context["sni"] = host
    return {"name": "envoy.transport_sockets.tls", "typed_config": context}


def jwks_cache_duration(seconds: float) -> str:
    """`cache_duration` of the issuer's keys: whole seconds, at least 1 (Envoy reads whole
    seconds: 1.5 would silently be 1, 0.5 no duration at all)."""
    if seconds != int(seconds) or seconds < 1:
        raise ValueError(f"jwks_cache_seconds must be whole seconds, at least 1, not {seconds!r}")
    return f"{int(seconds)}s"


def _split_target(name: str, target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"target of {name} must be host:port, not {target!r}")
    return host.strip("[]"), int(port)


def placeholders(
    listen_port: int,
    targets: Mapping[str, str],
    descriptor_path: Path = DESCRIPTOR,
    admin_port: int = 0,
    opts: GatewayOptions | None = None,
) -> dict[str, str]:
    """Placeholder name -> the YAML text that replaces it."""
    opts = opts or GatewayOptions()
    if set(targets) != set(SERVICES):
        raise ValueError(f"targets must name exactly {sorted(SERVICES)}, not {sorted(targets)}")
    jwks_uri = jwks_uri_of(opts)
    identity_host, identity_port, tls = identity_endpoint(jwks_uri)
    values = {
        "LISTEN_HOST": _q(opts.listen_host),
        "LISTEN_PORT": str(int(listen_port)),
        "ADMIN_PORT": str(int(admin_port)),
        "DESCRIPTOR_PATH": _q(str(descriptor_path)),
        "JWT_ISSUER": _q(opts.issuer),
        "JWT_AUDIENCE": _q(opts.audience),
        "JWKS_URI": _q(jwks_uri),
        "JWKS_CACHE_DURATION": _q(jwks_cache_duration(opts.jwks_cache_seconds)),
        "IDENTITY_HOST": _q(identity_host),
        "IDENTITY_PORT": str(identity_port),
        # One line of JSON: a YAML flow mapping.
        "IDENTITY_TRANSPORT_SOCKET": json.dumps(transport_socket(identity_host, tls)),
        "MAX_REQUEST_BYTES": str(int(opts.max_request_bytes)),
        "MAX_RESPONSE_BYTES": str(int(opts.max_response_bytes)),
        "ROUTE_TIMEOUT": _q(_seconds(opts.timeout_seconds)),
        "CORS_ORIGINS_REGEX": _q(opts.cors_origins_regex),
        "ACCESS_LOG_PERCENT": "100" if opts.access_log else "0",
    }
    for name in SERVICES:
        host, port = _split_target(name, targets[name])
        values[host_placeholder(name)] = _q(host)
        values[port_placeholder(name)] = str(port)
    web_host, web_port = _split_target("web", opts.web_target)
    values["WEB_HOST"] = _q(web_host)
    values["WEB_PORT"] = str(web_port)
    return values


def template_text() -> str:
    return TEMPLATE.read_text()


def render_config(
    listen_port: int,
    targets: Mapping[str, str],
    descriptor_path: Path = DESCRIPTOR,
    admin_port: int = 0,
    opts: GatewayOptions | None = None,
) -> str:
    """The configuration as text Envoy reads (YAML). `targets`: service name (`yogaclass`,
    `reservation`, `notification`, `mypage`) -> `host:port` of its gRPC server."""
    values = placeholders(listen_port, targets, descriptor_path, admin_port, opts)
    template = string.Template(template_text())
    wanted = set(template.get_identifiers())
    if wanted != set(values):
        # A placeholder added to the template without a value here (or the reverse) would
        # otherwise surface as a KeyError, or not at all.
        raise ValueError(
            f"{TEMPLATE.name} and gateway_config disagree on placeholders: "
            f"only in the template {sorted(wanted - set(values))}, "
            f"only here {sorted(set(values) - wanted)}"
        )
    return template.substitute(values)


def build_config(
    listen_port: int,
    targets: Mapping[str, str],
    descriptor_path: Path = DESCRIPTOR,
    admin_port: int = 0,
    opts: GatewayOptions | None = None,
) -> dict[str, Any]:
    """The rendered configuration, parsed (for tests and checks that look inside it)."""
    text = render_config(listen_port, targets, descriptor_path, admin_port, opts)
    config: dict[str, Any] = yaml.safe_load(text)
    return config


# -- the generated blocks -------------------------------------------------------------------------

NO_BUFFER = (
    '{envoy.filters.http.buffer: {"@type": '
    "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute, disabled: true}}"
)


def _routes_block() -> list[str]:
    lines: list[str] = []
    for path in internal_methods():
        lines += [
            f"- name: {_q(f'refuse {path}')}",
            f"  match: {{prefix: {_q(path)}}}",
            "  direct_response: {status: 404, body: {inline_string: "
            f"{_q(f'{path[1:]} is not served by the gateway')}}}}}",
            f"  typed_per_filter_config: {NO_BUFFER}",
        ]
    for name, service in SERVICES.items():
        lines += [
            f"- name: {name}",
            f"  match: {{prefix: {_q(f'/{service.full_name}/')}}}",
            f"  route: {{cluster: {name}, timeout: ${{ROUTE_TIMEOUT}}, "
            "max_stream_duration: {grpc_timeout_header_max: ${ROUTE_TIMEOUT}}}",
        ]
    return lines


def _services_block() -> list[str]:
    return [f"- {service.full_name}" for service in SERVICES.values()]


def _clusters_block() -> list[str]:
    lines: list[str] = []
    for name in SERVICES:
        host, port = host_placeholder(name), port_placeholder(name)
        lines += [
            f"- name: {name}",
            "  type: STRICT_DNS",
            "  connect_timeout: 1s",
            "  dns_lookup_family: V4_PREFERRED",
            "  load_assignment:",
            f"    cluster_name: {name}",
            "    endpoints:",
            "      - lb_endpoints:",
            "          - endpoint:",
            "              address:",
            f"                socket_address: {{address: ${{{host}}}, port_value: ${{{port}}}}}",
            "  typed_extension_protocol_options:",
            "    envoy.extensions.upstreams.http.v3.HttpProtocolOptions:",
            '      "@type": type.googleapis.com/'
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "      explicit_http_config: {http2_protocol_options: {}}",
        ]
    return lines


def generated_blocks() -> dict[str, list[str]]:
    """Block name -> its lines (indented relative to the block's markers)."""
    return {
        "services": _services_block(),
        "routes": _routes_block(),
        "clusters": _clusters_block(),
    }


BLOCK = re.compile(
    r"^(?P<indent>[ ]*)# BEGIN GENERATED (?P<name>\w+)\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)# END GENERATED (?P=name)$",
    re.DOTALL | re.MULTILINE,
)


def with_generated_blocks(text: str) -> str:
    """The template with each generated block rewritten from the protos."""
    blocks = generated_blocks()
    seen: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, indent = match["name"], match["indent"]
        if name not in blocks:
            raise ValueError(f"{TEMPLATE.name}: no generator for block {name!r}")
        seen.append(name)
        body = "".join(f"{indent}{line}\n" for line in blocks[name])
        return f"{indent}# BEGIN GENERATED {name}\n{body}{indent}# END GENERATED {name}"

    result = BLOCK.sub(fill, text)
    if sorted(seen) != sorted(blocks):
        raise ValueError(
            f"{TEMPLATE.name} must hold each generated block once: {sorted(blocks)}, "
            f"found {sorted(seen)}"
        )
    return result


def template_problems(path: Path = TEMPLATE) -> list[str]:
    """What `--check-template` reports: generated blocks that differ from the protos, and an
    HTTP rule outside API_PREFIX (the gateway would send it to the web app, not the transcoder)."""
    text = path.read_text()
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    outside = [p for p in http_rule_paths() if not p.startswith(API_PREFIX)]
    if outside:
        return [
            f"{where}: the gateway transcodes only paths under {API_PREFIX}; "
            f"these HTTP rules are not: {outside}"
        ]
    try:
        expected = with_generated_blocks(text)
    except ValueError as err:
        return [f"{where}: {err}"]
    if expected != text:
        return [
            f"{where} is out of date with protos/: "
            "run .venv/bin/python -m devtools.gateway_config --write-template"
        ]
    return []


# -- command line ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Prints the configuration `make run` uses (or another), e.g. to read it or to run Envoy
    by hand: `python -m devtools.gateway_config > /tmp/envoy.yaml`. `--write-template` and
    `--check-template` keep the template's generated blocks in step with the protos."""
    parser = argparse.ArgumentParser(prog="python -m devtools.gateway_config")
    parser.add_argument("--port", type=int, default=LISTEN_PORT)
    parser.add_argument("--admin-port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1", help="address the listener binds")
    for name, service in system.SERVICES.items():
        parser.add_argument(f"--{name}", default=service.default_target, help="host:port")
    auth = AuthSettings()
    parser.add_argument("--issuer", default=auth.issuer, help="the token issuer (YOGA_JWT_ISSUER)")
    parser.add_argument("--audience", default=auth.audience, help="(YOGA_JWT_AUDIENCE)")
    parser.add_argument(
        "--jwks-uri",
        default=auth.jwks_uri,
        help="the issuer's keys (YOGA_JWT_JWKS_URI; empty: <issuer>" + KEYCLOAK_JWKS_PATH + ")",
    )
    parser.add_argument(
        "--jwks-cache-seconds", type=float, default=60.0, help="how long Envoy keeps the keys"
    )
    parser.add_argument(
        "--web",
        default=f"127.0.0.1:{system.WEB_PORT}",
        help="host:port of the web app's static server (nginx)",
    )
    parser.add_argument("--descriptor", type=Path, default=DESCRIPTOR)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--write-template", action="store_true", help=f"rewrite the generated blocks of {TEMPLATE}"
    )
    mode.add_argument(
        "--check-template",
        action="store_true",
        help="fail when the generated blocks differ from the protos",
    )
    args = parser.parse_args(argv)
    if args.write_template:
        TEMPLATE.write_text(with_generated_blocks(TEMPLATE.read_text()))
        print(f"wrote {TEMPLATE.relative_to(ROOT)}")
        return 0
    if args.check_template:
        problems = template_problems()
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{TEMPLATE.relative_to(ROOT)} matches protos/")
        return 1 if problems else 0
    targets = {name: str(getattr(args, name)) for name in SERVICES}
    opts = GatewayOptions(
        listen_host=args.host,
        issuer=args.issuer,
        audience=args.audience,
        jwks_uri=args.jwks_uri,
        jwks_cache_seconds=args.jwks_cache_seconds,
        web_target=args.web,
    )
    sys.stdout.write(render_config(args.port, targets, args.descriptor, args.admin_port, opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
