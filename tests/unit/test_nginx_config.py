"""devtools/nginx.py fills nginx/nginx.conf.tmpl: every placeholder, nothing else, no value nginx
would misread; the Content-Security-Policy's other origin is the issuer's; /config.json names
the issuer and the web client. (nginx runs the result in tests/integration/test_web_serving.py;
the chart's render is held equal to this one by deploy-check, tests/deploy/test_web_chart.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import nginx


@pytest.mark.parametrize(
    ("issuer", "origin"),
    [
        ("http://127.0.0.1:8180/realms/studio", "http://127.0.0.1:8180"),
        ("https://id.example.com/realms/studio/", "https://id.example.com"),
        ("https://user@login.example.org:8443/realms/x", "https://login.example.org:8443"),
        ("http://[fd00::5]:8180/realms/studio", "http://[fd00::5]:8180"),
    ],
)
def test_the_identity_providers_origin_comes_from_the_issuer(issuer: str, origin: str) -> None:
    assert nginx.idp_origin(issuer) == origin


@pytest.mark.parametrize("issuer", ["yoga-dev", "ftp://id.example.com/r", "https:///realms/x"])
def test_an_issuer_that_is_no_http_url_is_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match="http or https URL"):
        nginx.idp_origin(issuer)


def test_every_placeholder_is_filled() -> None:
    text = nginx.render_config(
        "127.0.0.1:8087",
        Path("/srv/web/dist"),
        Path("/run/yoga/config.json"),
        Path("/run/yoga/tmp"),
        "http://127.0.0.1:8180/realms/studio",
    )
    assert not nginx.PLACEHOLDER.search(text)
    assert "listen 127.0.0.1:8087;" in text
    assert "root /srv/web/dist;" in text
    assert "alias /run/yoga/config.json;" in text
    assert "pid /run/yoga/tmp/nginx.pid;" in text
    assert "connect-src 'self' http://127.0.0.1:8180;" in text
    assert "frame-src 'self' http://127.0.0.1:8180;" in text
    [csp] = [line for line in text.splitlines() if "add_header Content-Security-Policy" in line]
    assert "unsafe-" not in csp


def test_a_placeholder_without_a_value_or_a_value_without_a_placeholder_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"only in the template \['NEW'\]"):
        nginx.fill("listen @LISTEN@; x @NEW@;", {"LISTEN": "1"})
    with pytest.raises(ValueError, match=r"only here \['EXTRA'\]"):
        nginx.fill("listen @LISTEN@;", {"LISTEN": "1", "EXTRA": "2"})
    assert nginx.fill("a @A@ b @A@ @B@", {"A": "1", "B": "x"}) == "a 1 b 1 x"


@pytest.mark.parametrize("root", ["/srv/a b", "/srv/a;b", "/srv/$uri", "/srv/{x}", "/srv/'x'"])
def test_a_value_nginx_would_misread_is_refused(root: str) -> None:
    with pytest.raises(ValueError, match="WEB_ROOT"):
        nginx.placeholders(
            "8080", Path(root), Path("/c.json"), Path("/tmp"), "http://127.0.0.1:8180/realms/x"
        )


def test_the_site_config_names_the_issuer_and_the_web_client() -> None:
    assert nginx.site_config("https://id.example.com/realms/studio") == {
        "issuer": "https://id.example.com/realms/studio",
        "clientId": "yoga-web",
    }
