"""The Envoy edge gateway: one listener serving every public API of the four services both as
JSON (gRPC-JSON transcoding, routes from the protos' `google.api.http` rules) and as native gRPC.
`render_config` writes the Envoy configuration; `EnvoyProcess` runs Envoy as a child process the
way `devstack.ServiceProcess` runs a service. Used by `make run`, the tests and the benchmark.

What the configuration does, in filter order:
- CORS for localhost origins (a web page under development);
- `jwt_authn`: every request needs a valid bearer token (RS256, the development JWKS, issuer and
  audience from `AuthSettings`); the Authorization header is forwarded, the services verify it
  again and check roles;
- `grpc_json_transcoder`: JSON <-> gRPC, unknown methods and query parameters rejected, gRPC
  errors turned into JSON `google.rpc.Status` bodies (details included: the descriptor set
  holds google.rpc.*);
- the router: routes on the gRPC path (the transcoder rewrites JSON paths to it), so JSON and gRPC
  callers reach a service through the same routes. Methods without an HTTP rule (`ReserveSeat`,
  `ReleaseSeat`: service to service only) are refused by routes placed before the service
  routes, for JSON and gRPC callers alike.
Identity headers a caller sends are removed; Envoy's own error replies are JSON
`{"code", "message", "details"}` for JSON callers and a proper grpc-status for gRPC callers."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

from yoga.mypage.v1 import mypage_pb2
from yoga.notification.v1 import notification_pb2
from yoga.reservation.v1 import reservation_pb2
from yoga.yogaclass.v1 import yogaclass_pb2
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = ROOT / "envoy" / "yoga.pb"
LISTEN_PORT = 8088

# Target name (as in `make run` and the tests) -> the gRPC service it serves.
SERVICES: dict[str, ServiceDescriptor] = {
    "yogaclass": yogaclass_pb2.DESCRIPTOR.services_by_name["YogaClassService"],
    "reservation": reservation_pb2.DESCRIPTOR.services_by_name["ReservationService"],
    "notification": notification_pb2.DESCRIPTOR.services_by_name["NotificationService"],
    "mypage": mypage_pb2.DESCRIPTOR.services_by_name["MyPageService"],
}

# Headers that could pass for an identity. Nothing of ours reads them (identity comes from the
# verified token only), and the gateway removes them so nothing behind it ever can.
IDENTITY_HEADERS = (
    "x-user-id",
    "x-user-role",
    "x-user-email",
    "x-jwt-payload",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-auth-request-user",
    "x-remote-user",
)

JSON_SINK = "json-sink"
CORS_ORIGINS = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$"

# HTTP status of an Envoy local reply -> the gRPC code its JSON body carries (google.rpc.Code).
JSON_CODES = {
    400: 3,  # INVALID_ARGUMENT: bad JSON, unknown query parameter, binding collision
    401: 16,  # UNAUTHENTICATED: missing or invalid token
    403: 7,  # PERMISSION_DENIED: e.g. a token for another audience
    404: 5,  # NOT_FOUND: no such route or method
    405: 12,  # UNIMPLEMENTED
    408: 4,  # DEADLINE_EXCEEDED
    413: 8,  # RESOURCE_EXHAUSTED: body too large
    429: 8,  # RESOURCE_EXHAUSTED
    431: 8,  # RESOURCE_EXHAUSTED: headers too large
    500: 13,  # INTERNAL
    501: 12,  # UNIMPLEMENTED
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE: service down, no healthy upstream
    504: 4,  # DEADLINE_EXCEEDED: route timeout
}
UNKNOWN = 2
# Where Envoy's own HTTP -> gRPC mapping of a local reply to a gRPC caller is wrong for us
# (it maps 400 to INTERNAL, 413 to UNKNOWN and 504 to UNAVAILABLE).
GRPC_CODES = {400: 3, 413: 8, 504: 4}


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


def jwks_file(auth: AuthSettings) -> Path:
    """The JWKS that `auth.ensure_dev_keys` writes next to the public key."""
    return auth.public_key_file.with_name("jwks.json")


@dataclass(frozen=True)
class GatewayOptions:
    listen_host: str = "127.0.0.1"
    issuer: str = "yoga-dev"
    audience: str = "yoga"
    # Largest request body (JSON or gRPC) the gateway accepts; larger ones get 413.
    max_request_bytes: int = 64 * 1024
    max_response_bytes: int = 4 * 1024 * 1024
    # Route timeout; a gRPC caller's own deadline (grpc-timeout) applies when shorter.
    timeout_seconds: float = 15.0
    cors_origins_regex: str = CORS_ORIGINS
    access_log: bool = True


def _type(name: str) -> str:
    """The `@type` of a typed config: the full name of its message."""
    return f"type.googleapis.com/envoy.{name}"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _cluster(name: str, target: str) -> dict[str, Any]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"target of {name} must be host:port, not {target!r}")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        kind = "STATIC"
    except ValueError:
        kind = "STRICT_DNS"  # a name (Kubernetes Service): resolved and re-resolved by Envoy
    endpoint = {"address": {"socket_address": {"address": host, "port_value": int(port)}}}
    return {
        "name": name,
        "type": kind,
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_PREFERRED",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _type("extensions.upstreams.http.v3.HttpProtocolOptions"),
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
    }


# Routes that answer at once need no whole body first: without this, a streaming call (grpcurl's
# reflection, say) would wait in the buffer filter until the stream idles out.
NO_BUFFER = {
    "envoy.filters.http.buffer": {
        "@type": _type("extensions.filters.http.buffer.v3.BufferPerRoute"),
        "disabled": True,
    }
}


def _refusal(name: str, match: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "name": name,
        "match": match,
        "direct_response": {"status": 404, "body": {"inline_string": message}},
        "typed_per_filter_config": NO_BUFFER,
    }


def _routes(opts: GatewayOptions) -> list[dict[str, Any]]:
    timeout = _seconds(opts.timeout_seconds)
    refused = [
        _refusal(f"refuse {path}", {"prefix": path}, f"{path[1:]} is not served by the gateway")
        for path in internal_methods()
    ]
    services = [
        {
            "name": name,
            "match": {"prefix": f"/{service.full_name}/"},
            "route": {
                "cluster": name,
                "timeout": timeout,
                "max_stream_duration": {"grpc_timeout_header_max": timeout},
            },
        }
        for name, service in SERVICES.items()
    ]
    # A gRPC call to any other path: UNIMPLEMENTED at once.
    unknown = _refusal("unknown gRPC method", {"prefix": "/", "grpc": {}}, "no such method")
    # Before transcoding, a JSON request's path (/v1/...) matches only this route. The filters
    # before the transcoder need a route that forwards somewhere: the CORS filter takes its
    # policy from it (a direct response has none). The transcoder then rewrites the path to the
    # gRPC one and routing starts again; what it cannot map it refuses (reject_unknown_method),
    # so nothing is ever forwarded to JSON_SINK, a cluster without endpoints. No buffer filter
    # here: JSON bodies are limited by the transcoder's own limit.
    json = {
        "name": "json before transcoding",
        "match": {"prefix": "/"},
        "route": {"cluster": JSON_SINK, "timeout": "1s"},
        "typed_per_filter_config": NO_BUFFER,
    }
    return [*refused, *services, unknown, json]


def _status_is(code: int) -> dict[str, Any]:
    return {
        "status_code_filter": {
            "comparison": {
                "op": "EQ",
                "value": {"default_value": code, "runtime_key": f"yoga.local_reply.{code}"},
            }
        }
    }


# A native gRPC request. The transcoder turns a JSON request into a gRPC one (content-type
# included) before some of Envoy's replies (bad JSON, body too large) and marks it with the
# original path: such a request still wants a JSON answer.
GRPC_REQUEST = {
    "and_filter": {
        "filters": [
            {
                "header_filter": {
                    "header": {
                        "name": "content-type",
                        "string_match": {"prefix": "application/grpc"},
                    }
                }
            },
            {
                "header_filter": {
                    "header": {
                        "name": "x-envoy-original-path",
                        "present_match": True,
                        "invert_match": True,
                    }
                }
            },
        ]
    }
}


def _json_status(code: int) -> dict[str, Any]:
    return {
        "json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%", "details": []},
        "content_type": "application/json",
    }


def _local_replies() -> dict[str, Any]:
    """Envoy's own replies (token refused, no route, bad JSON, body too large, ...). A gRPC
    caller gets a trailers-only reply whose grpc-status Envoy derives from the HTTP status
    (corrected where Envoy's choice is wrong) and whose grpc-message is the text; the first
    matching mapper wins, so gRPC requests never reach the JSON mappers below them."""
    grpc = [
        {
            "filter": {"and_filter": {"filters": [GRPC_REQUEST, _status_is(status)]}},
            "headers_to_add": [
                {
                    "header": {"key": "grpc-status", "value": str(code)},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
        }
        for status, code in GRPC_CODES.items()
    ]
    grpc.append({"filter": GRPC_REQUEST})
    json_mappers = [
        {"filter": _status_is(status), "body_format_override": _json_status(code)}
        for status, code in JSON_CODES.items()
    ]
    other_errors = {
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "GE",
                    "value": {"default_value": 400, "runtime_key": "yoga.local_reply.other"},
                }
            }
        },
        "body_format_override": _json_status(UNKNOWN),
    }
    return {"mappers": [*grpc, *json_mappers, other_errors]}


ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "grpc_method": "%REQ(:PATH)%",
    "protocol": "%PROTOCOL%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS_NUMBER%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "flags": "%RESPONSE_FLAGS%",
    "user": "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%",
    "role": "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:role)%",
    "upstream": "%UPSTREAM_HOST%",
    "duration_ms": "%DURATION%",
    "upstream_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "bytes_in": "%BYTES_RECEIVED%",
    "bytes_out": "%BYTES_SENT%",
    "user_agent": "%REQ(USER-AGENT)%",
}


def _http_filters(
    jwks_path: Path, descriptor_path: Path, opts: GatewayOptions
) -> list[dict[str, Any]]:
    cors = {"@type": _type("extensions.filters.http.cors.v3.Cors")}
    jwt = {
        "@type": _type("extensions.filters.http.jwt_authn.v3.JwtAuthentication"),
        "providers": {
            "yoga": {
                "issuer": opts.issuer,
                "audiences": [opts.audience],
                "local_jwks": {"filename": str(jwks_path)},
                # Only the Authorization header (not the `access_token` query parameter).
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                # Keep the header: the services verify the token again and check roles.
                "forward": True,
                "require_expiration": True,
                "clock_skew_seconds": 10,
                "payload_in_metadata": "jwt_payload",
                "jwt_cache_config": {"jwt_cache_size": 1000},
            }
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "yoga"}}],
        "bypass_cors_preflight": True,
    }
    buffer = {
        "@type": _type("extensions.filters.http.buffer.v3.Buffer"),
        "max_request_bytes": opts.max_request_bytes,
    }
    transcoder = {
        "@type": _type("extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"),
        "proto_descriptor": str(descriptor_path),
        "services": [service.full_name for service in SERVICES.values()],
        "print_options": {
            "add_whitespace": False,
            "always_print_primitive_fields": True,
            "always_print_enums_as_ints": False,
            "preserve_proto_field_names": False,
        },
        "auto_mapping": False,
        "convert_grpc_status": True,
        "request_validation_options": {
            "reject_unknown_method": True,
            "reject_unknown_query_parameters": True,
            # `POST /v1/reservations/A:cancel` with {"reservationId": "B"} is refused, not B.
            "reject_binding_body_field_collisions": True,
        },
        "max_request_body_size": opts.max_request_bytes,
        "max_response_body_size": opts.max_response_bytes,
    }
    router = {"@type": _type("extensions.filters.http.router.v3.Router")}
    return [
        {"name": "envoy.filters.http.cors", "typed_config": cors},
        {"name": "envoy.filters.http.jwt_authn", "typed_config": jwt},
        {"name": "envoy.filters.http.buffer", "typed_config": buffer},
        {"name": "envoy.filters.http.grpc_json_transcoder", "typed_config": transcoder},
        {"name": "envoy.filters.http.router", "typed_config": router},
    ]


def build_config(
    listen_port: int,
    targets: Mapping[str, str],
    jwks_path: Path,
    descriptor_path: Path = DESCRIPTOR,
    admin_port: int = 0,
    opts: GatewayOptions | None = None,
) -> dict[str, Any]:
    """The bootstrap configuration as a dict. `targets`: service name (`yogaclass`,
    `reservation`, `notification`, `mypage`) -> `host:port` of its gRPC server."""
    opts = opts or GatewayOptions()
    if set(targets) != set(SERVICES):
        raise ValueError(f"targets must name exactly {sorted(SERVICES)}, not {sorted(targets)}")
    cors_policy = {
        "@type": _type("extensions.filters.http.cors.v3.CorsPolicy"),
        "allow_origin_string_match": [{"safe_regex": {"regex": opts.cors_origins_regex}}],
        "allow_methods": "GET, POST, PATCH, DELETE, OPTIONS",
        "allow_headers": "authorization, content-type, x-request-id",
        "expose_headers": "x-request-id, grpc-status, grpc-message",
        "max_age": "600",
    }
    hcm: dict[str, Any] = {
        "@type": _type(
            "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
        ),
        "stat_prefix": "gateway",
        "codec_type": "AUTO",  # HTTP/1.1 for JSON, HTTP/2 (prior knowledge) for gRPC
        "use_remote_address": True,
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "common_http_protocol_options": {
            "idle_timeout": "300s",
            # `x_user_id` must not slip past the removal of `x-user-id`.
            "headers_with_underscores_action": "DROP_HEADER",
        },
        "stream_idle_timeout": "60s",
        "request_headers_timeout": "10s",
        "local_reply_config": _local_replies(),
        "route_config": {
            "name": "api",
            "request_headers_to_remove": list(IDENTITY_HEADERS),
            "virtual_hosts": [
                {
                    "name": "api",
                    "domains": ["*"],
                    "routes": _routes(opts),
                    "typed_per_filter_config": {"envoy.filters.http.cors": cors_policy},
                }
            ],
        },
        "http_filters": _http_filters(jwks_path, descriptor_path, opts),
    }
    if opts.access_log:
        hcm["access_log"] = [
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": {
                    "@type": _type("extensions.access_loggers.stream.v3.StdoutAccessLog"),
                    "log_format": {"json_format": ACCESS_LOG_FORMAT},
                },
            }
        ]
    listener = {
        "name": "gateway",
        "address": {"socket_address": {"address": opts.listen_host, "port_value": listen_port}},
        "per_connection_buffer_limit_bytes": 1024 * 1024,
        "filter_chains": [
            {
                "filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]
            }
        ],
    }
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {
            "listeners": [listener],
            "clusters": [
                *(_cluster(name, targets[name]) for name in SERVICES),
                {"name": JSON_SINK, "type": "STATIC", "connect_timeout": "1s"},
            ],
        },
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _type(
                            "extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
                        ),
                        "max_active_downstream_connections": 10000,
                    },
                }
            ]
        },
    }


def render_config(
    listen_port: int,
    targets: Mapping[str, str],
    jwks_path: Path,
    descriptor_path: Path = DESCRIPTOR,
    admin_port: int = 0,
    opts: GatewayOptions | None = None,
) -> str:
    """The configuration as text Envoy reads (JSON, which is YAML too: name the file .yaml)."""
    config = build_config(listen_port, targets, jwks_path, descriptor_path, admin_port, opts)
    return json.dumps(config, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Prints the configuration `make run` uses (or another), e.g. to read it or to run Envoy
    by hand: `python -m devtools.gateway_config > /tmp/envoy.yaml`."""
    parser = argparse.ArgumentParser(prog="python -m devtools.gateway_config")
    parser.add_argument("--port", type=int, default=LISTEN_PORT)
    parser.add_argument("--admin-port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1", help="address the listener binds")
    for name, port in zip(SERVICES, range(50051, 50055), strict=True):
        parser.add_argument(f"--{name}", default=f"127.0.0.1:{port}", help="host:port")
    parser.add_argument("--jwks", type=Path, default=jwks_file(AuthSettings()).resolve())
    parser.add_argument("--descriptor", type=Path, default=DESCRIPTOR)
    args = parser.parse_args(argv)
    targets = {name: str(getattr(args, name)) for name in SERVICES}
    auth = AuthSettings()
    opts = GatewayOptions(listen_host=args.host, issuer=auth.issuer, audience=auth.audience)
    sys.stdout.write(
        render_config(args.port, targets, args.jwks, args.descriptor, args.admin_port, opts)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
