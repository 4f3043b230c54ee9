"""The web app served for real: the development stack's nginx (Debian's nginx-light, configured by
nginx/nginx.conf.tmpl through devtools/nginx.py) behind the real Envoy gateway, in front of a real
service, with tokens from the test Keycloak. The app is a fixture built here (an index.html, a
hashed script and stylesheet, an image, the OpenAPI document), not the real one: what is tested
is how any build is served. Cache headers, the SPA fallback, 404 for a missing asset, gzip, the
Content-Security-Policy, /config.json, /v1/openapi.json without a token; the API keeps its
tokens, its JSON errors and gRPC."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from devtools import nginx
from devtools.browser import CHROMIUM, CHROMIUM_ARGS
from devtools.stack import WEB
from tests.integration.conftest import Stack, system_under_test
from tests.integration.gateway_support import JsonClient
from tests.integration.support import error_details
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "gen" / "openapi" / "yoga.openapi.json"
SCRIPT = "/assets/index-4f2a9c1b.js"
STYLE = "/assets/index-77d0e3aa.css"
IMAGE = "/assets/logo-0c9e11f2.svg"
YEAR = "public, max-age=31536000, immutable"
PROBE = "/assets/probe-1a2b3c4d.js"
# Runs in the browser: reads /config.json, then asks the identity provider and another origin
# (no-cors: only the Content-Security-Policy can refuse), each answer a data attribute of <html>.
PROBE_SCRIPT = """
const mark = (name, value) => { document.documentElement.dataset[name] = value; };
const reach = (url) => fetch(url, { mode: "no-cors" }).then(() => "allowed", () => "blocked");
fetch("/config.json")
  .then((answer) => answer.json())
  .then(async (config) => {
    mark("issuer", config.issuer);
    mark("provider", await reach(config.issuer + "/.well-known/openid-configuration"));
    mark("elsewhere", await reach(new URL(location.href).searchParams.get("elsewhere")));
  });
"""


def build_fixture_app(dist: Path) -> None:
    """What a Vite build leaves in dist/: index.html naming hashed assets, the assets, and the
    API's OpenAPI document (the real one when this checkout has it)."""
    (dist / "assets").mkdir(parents=True)
    (dist / "v1").mkdir()
    (dist / "index.html").write_text(
        '<!doctype html>\n<html lang="ko"><head><meta charset="utf-8"><title>Yoga</title>'
        f'<script type="module" crossorigin src="{SCRIPT}"></script>'
        f'<link rel="stylesheet" crossorigin href="{STYLE}"></head>'
        '<body><div id="app"></div></body></html>\n'
    )
    # Big enough to be worth compressing (nginx leaves bodies under 256 bytes alone).
    (dist / SCRIPT[1:]).write_text(
        "".join(f'export const label{n} = "수업 {n} — class {n}";\n' for n in range(400))
    )
    (dist / STYLE[1:]).write_text("".join(f".c{n} {{ margin: {n}px; }}\n" for n in range(200)))
    (dist / IMAGE[1:]).write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        + "".join(f'<circle cx="{n % 10}" cy="{n // 10}" r="1"/>' for n in range(60))
        + "</svg>\n"
    )
    fixture = {
        "openapi": "3.0.3",
        "info": {"title": "fixture", "version": "1"},
        "paths": {f"/v1/things/{n}": {"get": {"operationId": f"GetThing{n}"}} for n in range(20)},
    }
    document = OPENAPI.read_text() if OPENAPI.exists() else json.dumps(fixture)
    (dist / "v1" / "openapi.json").write_text(document)
    # A page for the browser: what its script may fetch, and an inline script that must not run.
    (dist / "probe.html").write_text(
        '<!doctype html>\n<html><head><script src="' + PROBE + '"></script></head><body>'
        '<script>document.body.dataset.inline = "ran";</script></body></html>\n'
    )
    (dist / PROBE[1:]).write_text(PROBE_SCRIPT)


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes  # as sent (compressed when Content-Encoding says so)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        raw = gzip.decompress(self.body) if self.header("content-encoding") == "gzip" else self.body
        return raw.decode()


@dataclass
class Site:
    stack: Stack
    dist: Path

    @property
    def port(self) -> int:
        assert self.stack.envoy is not None
        return self.stack.envoy.listen_port

    def fetch(self, path: str, method: str = "GET", **headers: str) -> Fetched:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
            response = conn.getresponse()
            body = response.read()
            found = {k.lower(): v for k, v in response.getheaders()}
            return Fetched(response.status, found, body)
        finally:
            conn.close()

    def json(self, token: str | None = None) -> JsonClient:
        return JsonClient("127.0.0.1", self.port, token)


@pytest.fixture(scope="module")
def site(auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    dist = folder / "dist"
    build_fixture_app(dist)
    with system_under_test(
        "sqlite", auth, folder, ("yogaclass",), gateway=True, web=True, web_root=dist
    ) as stack:
        yield Site(stack, dist)


# -- pages and assets -------------------------------------------------------------------------


def test_index_and_every_app_route_answer_the_page_revalidated(site: Site) -> None:
    page = (site.dist / "index.html").read_text()
    for path in ("/", "/index.html", "/timetable", "/classes/42/roster", "/ko/my-page?tab=past"):
        answer = site.fetch(path)
        assert answer.status == 200, (path, answer)
        assert answer.header("content-type").startswith("text/html"), path
        assert answer.text == page, path
        # Revalidated at each load: a new release is seen at once.
        assert answer.header("cache-control") == "no-cache", path
        assert answer.header("etag"), path


def test_hashed_assets_are_cached_for_a_year(site: Site) -> None:
    for path, kind in (
        (SCRIPT, "javascript"),
        (STYLE, "text/css"),
        (IMAGE, "image/svg+xml"),
    ):
        answer = site.fetch(path)
        assert answer.status == 200, (path, answer)
        assert kind in answer.header("content-type"), (path, answer.headers)
        assert answer.header("cache-control") == YEAR, path
        assert answer.body == (site.dist / path[1:]).read_bytes()


def test_a_missing_asset_is_404_not_the_page(site: Site) -> None:
    for path in ("/assets/index-00000000.js", "/assets/", "/assets/old/chunk-1.css"):
        answer = site.fetch(path)
        assert answer.status == 404, (path, answer)
        assert '<div id="app">' not in answer.text
        # Never cached for a year: the asset may come with the next release.
        assert "immutable" not in answer.header("cache-control"), path


def test_text_is_gzipped_for_clients_that_take_it(site: Site) -> None:
    for path in (SCRIPT, STYLE, IMAGE, "/", "/v1/openapi.json"):
        plain = site.fetch(path)
        zipped = site.fetch(path, Accept_Encoding="gzip, deflate, br")
        assert plain.header("content-encoding") == "", path
        assert zipped.header("content-encoding") == "gzip", (path, zipped.headers)
        assert "accept-encoding" in zipped.header("vary").lower(), path
        assert zipped.text == plain.body.decode(), path
    script = site.fetch(SCRIPT, Accept_Encoding="gzip")
    assert len(script.body) * 4 < (site.dist / SCRIPT[1:]).stat().st_size


def test_security_headers_name_only_the_app_and_the_identity_provider(site: Site) -> None:
    issuer = site.stack.auth.issuer
    origin = re.match(r"https?://[^/]+", issuer)
    assert origin is not None
    for path in ("/", SCRIPT, "/config.json", "/assets/missing.js"):
        answer = site.fetch(path)
        csp = {
            d.split()[0]: d.split()[1:]
            for d in answer.header("content-security-policy").split(";")
            if d.strip()
        }
        assert csp["default-src"] == ["'self'"], path
        assert csp["script-src"] == ["'self'"], path
        assert csp["style-src"] == ["'self'"], path
        assert csp["connect-src"] == ["'self'", origin[0]], path
        # oidc-client-ts renews the session in a hidden iframe: the provider, then back here.
        assert csp["frame-src"] == ["'self'", origin[0]], path
        assert csp["img-src"] == ["'self'", "data:"], path
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
        assert csp["base-uri"] == ["'self'"]
        everything = " ".join(word for words in csp.values() for word in words)
        assert "'unsafe-eval'" not in everything and "'unsafe-inline'" not in everything
        assert "*" not in everything
        assert answer.header("x-content-type-options") == "nosniff", path
        assert answer.header("referrer-policy") == "no-referrer", path
        assert answer.header("x-frame-options") == "DENY", path


def test_a_browser_keeps_to_the_policy(site: Site) -> None:
    """Debian's Chromium loads a page through the gateway: the page's own script runs and
    reaches /config.json and the identity provider; another origin (nginx's own port) and the
    inline script are refused."""
    assert site.stack.nginx is not None
    elsewhere = f"{site.stack.nginx.url}/healthz"
    done = subprocess.run(
        [
            str(CHROMIUM),
            *CHROMIUM_ARGS,
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--dump-dom",
            f"http://127.0.0.1:{site.port}/probe.html?elsewhere={elsewhere}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    html = done.stdout.split(">", 2)[1]  # <html ...> with the data attributes
    assert f'data-issuer="{site.stack.auth.issuer}"' in html, done.stdout
    assert 'data-provider="allowed"' in html, done.stdout
    assert 'data-elsewhere="blocked"' in html, done.stdout
    assert 'data-inline="ran"' not in done.stdout
    assert "violates the following Content Security Policy directive" in done.stderr


def test_config_json_names_the_issuer_and_the_web_client(site: Site) -> None:
    answer = site.fetch("/config.json")
    assert answer.status == 200, answer
    assert answer.header("content-type").startswith("application/json")
    assert answer.header("cache-control") == "no-cache"
    assert json.loads(answer.text) == {
        "issuer": site.stack.auth.issuer,
        "clientId": "yoga-web",
        "timeZone": "Asia/Seoul",
    }


def test_the_openapi_document_needs_no_token(site: Site) -> None:
    answer = site.fetch("/v1/openapi.json")
    assert answer.status == 200, answer
    assert answer.header("content-type").startswith("application/json")
    assert answer.header("cache-control") == "no-cache"
    assert json.loads(answer.text) == json.loads((site.dist / "v1" / "openapi.json").read_text())
    assert site.fetch("/v1/openapi.json", method="HEAD").status == 200
    # Any other method is an API call like the others: a token first.
    refused = site.json().post("/v1/openapi.json", {})
    assert refused.status == 401, refused
    assert refused.reason() == "UNAUTHENTICATED"


def test_static_paths_ignore_a_token_and_take_no_writes(site: Site) -> None:
    """jwt_authn is off on the app's routes: an expired or foreign token a browser still holds
    does not break the page. nginx answers GET and HEAD only."""
    assert site.fetch("/", Authorization="Bearer not.a.token").status == 200
    assert site.fetch("/timetable", method="HEAD").status == 200
    for method in ("POST", "PUT", "DELETE"):
        assert site.fetch("/timetable", method=method).status == 403, method


# -- the API is as it was -----------------------------------------------------------------------


def test_the_json_api_still_needs_a_token(site: Site) -> None:
    refused = site.json().get("/v1/classes")
    assert refused.status == 401, refused
    assert refused.error()[0] == 16 and refused.reason() == "UNAUTHENTICATED"
    member = site.json(site.stack.token("11"))
    assert member.get("/v1/classes").status == 200
    # An unknown API path is the API's 404, not the app's page.
    missing = member.get("/v1/studios")
    assert missing.status == 404, missing
    assert missing.reason() == "ROUTE_NOT_FOUND"
    assert member.get("/v1/classes/no-such-class").reason() == "CLASS_NOT_FOUND"


async def test_grpc_still_goes_to_the_services(site: Site) -> None:
    assert site.stack.envoy is not None
    async with grpc.aio.insecure_channel(site.stack.envoy.target) as channel:
        stub = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetClass(ypb.GetClassRequest(class_id="x"), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetClass(
                ypb.GetClassRequest(class_id="no-such-class"),
                metadata=site.stack.as_user("11"),
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(err.value)[0] == "CLASS_NOT_FOUND"
        listed = await stub.ListClasses(
            ypb.ListClassesRequest(), metadata=site.stack.as_user("11"), timeout=10
        )
        assert listed.next_page_token == "" or listed.yoga_classes
        # A gRPC call to a path no service has is refused at once, never the app's page.
        nowhere = channel.unary_unary(
            "/timetable",
            request_serializer=ypb.GetClassRequest.SerializeToString,
            response_deserializer=ypb.GetClassResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await nowhere(ypb.GetClassRequest(), metadata=site.stack.as_user("11"), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


# -- the process ----------------------------------------------------------------------------------


def test_the_stack_names_its_nginx_web(site: Site) -> None:
    assert WEB in site.stack.pids()
    assert site.stack.nginx is not None
    assert site.stack.processes()[WEB] is site.stack.nginx
    assert site.stack.nginx.log_path == site.stack.log_folder / "web.log"
    # The access log of every request above, one JSON object a line.
    logged = [json.loads(line) for line in site.stack.tail(WEB, 400).splitlines() if "{" in line]
    assert any(entry["path"] == SCRIPT and entry["status"] == 200 for entry in logged)


def test_nginx_starts_validates_and_stops_cleanly(site: Site, tmp_path: Path) -> None:
    from devtools.processes import free_port

    server = nginx.start_web(tmp_path / "alone", free_port(), site.dist, site.stack.auth.issuer)
    try:
        nginx.validate(server.config_path)
        assert server.exited() is False
    finally:
        assert server.stop() == 0, server.tail()
    broken = tmp_path / "broken.conf"
    broken.write_text(server.config_path.read_text().replace("try_files", "try_filez", 1))
    with pytest.raises(RuntimeError, match="nginx rejects"):
        nginx.validate(broken)
    with pytest.raises(RuntimeError, match=r"holds no index\.html"):
        nginx.start_web(tmp_path / "empty", free_port(), tmp_path, site.stack.auth.issuer)
