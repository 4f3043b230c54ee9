"""nginx serving the web app as a child process of the development stack (`make run`, the tests):
`nginx/nginx.conf.tmpl` (read it: what is served with which headers, and why) with its
placeholders filled, the runtime `/config.json` beside it, temporary files under the stack's
folder. Debian's nginx-light (`scripts/web.sh deps` installs it); no root needed. The Helm chart
fills the same template for the nginxinc/nginx-unprivileged image."""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from devtools.processes import Child, Listening, log_to

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "nginx" / "nginx.conf.tmpl"
NGINX = Path("/usr/sbin/nginx")
# The web app's OpenID Connect client at the provider (keycloak/studio-realm.json): public,
# authorization code with PKCE.
CLIENT_ID = "yoga-web"
# The studio's zone when a deployment names none (the chart: services.web.timeZone).
STUDIO_TIME_ZONE = "Asia/Seoul"
PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
# A placeholder is filled as it is: nothing that could end a directive or open a new one.
UNSAFE = re.compile(r"[\s;{}'\"\\$#]")


def idp_origin(issuer: str) -> str:
    """The identity provider's origin, from the token issuer's URL (`scheme://host[:port]`):
    what the Content-Security-Policy lets the app fetch from and frame."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the issuer must be an http or https URL, not {issuer!r}")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def site_config(
    issuer: str, client_id: str = CLIENT_ID, time_zone: str = STUDIO_TIME_ZONE
) -> dict[str, str]:
    """What the app reads at boot from `/config.json`: where to sign in, as which client, and
    the studio's time zone (the timetable's weeks and the staff's wall-clock inputs are in it)."""
    return {"issuer": issuer, "clientId": client_id, "timeZone": time_zone}


def placeholders(
    listen: str, web_root: Path, config_json: Path, temp_dir: Path, issuer: str
) -> dict[str, str]:
    """Placeholder name -> its text. `listen` as nginx's `listen` takes it (`127.0.0.1:8087`)."""
    values = {
        "LISTEN": listen,
        "WEB_ROOT": str(web_root),
        "CONFIG_JSON": str(config_json),
        "TEMP_DIR": str(temp_dir),
        "IDP_ORIGIN": idp_origin(issuer),
    }
    for name, value in values.items():
        if not value or UNSAFE.search(value):
            raise ValueError(f"{name} {value!r}: empty, or a character nginx would misread")
    return values


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with every `@NAME@` replaced; a placeholder without a value, or a value
    the template does not use, is an error (as in devtools/gateway_config.py)."""
    wanted = set(PLACEHOLDER.findall(template))
    if wanted != set(values):
        raise ValueError(
            f"{TEMPLATE.name} and devtools/nginx.py disagree on placeholders: "
            f"only in the template {sorted(wanted - set(values))}, "
            f"only here {sorted(set(values) - wanted)}"
        )
    return PLACEHOLDER.sub(lambda match: values[match[1]], template)


def render_config(
    listen: str, web_root: Path, config_json: Path, temp_dir: Path, issuer: str
) -> str:
    """The configuration as nginx reads it."""
    values = placeholders(listen, web_root, config_json, temp_dir, issuer)
    return fill(TEMPLATE.read_text(), values)


def build_app() -> Path:
    """The built web app: `scripts/web.sh build` (npm ci when the lockfile changed, the build
    when the sources did; otherwise nothing) and the folder it prints."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "web.sh"), "build"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/web.sh build failed:\n{done.stderr.strip()}")
    printed = done.stdout.strip().splitlines()
    if not printed:
        raise RuntimeError(f"scripts/web.sh build built nothing:\n{done.stderr.strip()}")
    return Path(printed[-1])


def _command(config_path: Path, binary: Path) -> list[str]:
    """nginx with `config_path`: -e, errors before the configuration is read go to stderr too,
    not to the package's /var/log/nginx (unwritable without root); -p, relative paths (none
    planned) stay in the configuration's folder."""
    return [
        str(binary),
        *("-e", "stderr", "-p", str(config_path.parent), "-c", str(config_path)),
        *_user_directive(),
    ]


def _user_directive() -> list[str]:
    """Run as root, nginx hands requests to workers of the user `nobody`, which cannot read a
    stack's folder (pytest's are 0700): the workers stay the caller. Not root: nothing to say
    (the directive would only be warned about)."""
    if os.geteuid() != 0:
        return []
    return ["-g", f"user {pwd.getpwuid(os.geteuid()).pw_name};"]


def validate(config_path: Path, binary: Path = NGINX) -> None:
    """`nginx -t`: parses the configuration and opens what it names. Raises with nginx's words."""
    done = subprocess.run(
        [*_command(config_path, binary), "-t", "-q"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nginx rejects {config_path}:\n{done.stdout}{done.stderr}")


@dataclass
class NginxProcess(Child, Listening):
    """nginx as a child process (master and one worker, in the foreground), its error and
    access logs in `log_path`, ready when `/healthz` answers."""

    config_path: Path
    log_path: Path
    listen_port: int
    binary: Path = NGINX
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} is missing: run scripts/web.sh deps (nginx-light)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            _command(self.config_path, self.binary),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log_to(self.log_path, self.process.stdout)

    def stop(self, sig: int = 15, timeout: float = 15.0) -> int | None:
        """SIGTERM is nginx's fast shutdown; SIGQUIT would wait for idle keep-alive
        connections (the gateway's)."""
        return super().stop(sig, timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited():
                raise RuntimeError(f"nginx exited; see {self.log_path}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx not ready after {timeout}s:\n{self.tail()}")


def start_web(
    folder: Path,
    listen_port: int,
    web_root: Path,
    issuer: str,
    client_id: str = CLIENT_ID,
    log_path: Path | None = None,
) -> NginxProcess:
    """Writes `/config.json` and the configuration into `folder` (temporary files under
    `folder/tmp`), starts nginx on 127.0.0.1:`listen_port` serving `web_root` and waits until
    it answers. The log goes to `log_path` (default `folder/nginx.log`)."""
    if not (web_root / "index.html").is_file():
        raise RuntimeError(f"{web_root} holds no index.html: build the app (scripts/web.sh build)")
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / "tmp"
    temp.mkdir(exist_ok=True)
    config_json = folder / "config.json"
    config_json.write_text(json.dumps(site_config(issuer, client_id)) + "\n")
    config_path = folder / "nginx.conf"
    config_path.write_text(
        render_config(f"127.0.0.1:{listen_port}", web_root.resolve(), config_json, temp, issuer)
    )
    web = NginxProcess(config_path, log_path or folder / "nginx.log", listen_port)
    web.start()
    try:
        web.wait_ready()
    except Exception:
        web.stop()
        raise
    return web
