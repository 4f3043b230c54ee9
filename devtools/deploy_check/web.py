"""The web app in the chart: nginx/nginx.conf.tmpl (read through the symlink files/web/
nginx.conf.tmpl) filled by Helm exactly as devtools/nginx.py fills it for `make run`, with the
pod's port and paths, and a /config.json naming the issuer and the web client."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devtools import nginx
from devtools.deploy_check.objects import Obj, of_kind

# Where the chart's pod keeps what nginx reads (templates/_helpers.tpl: yoga.webConfigDir,
# yoga.webRoot), and its writable folder.
MOUNT = Path("/etc/yoga-web")
WEB_ROOT = Path("/usr/share/nginx/html")
TEMP_DIR = Path("/tmp")


def web_config_map(objs: Sequence[Obj]) -> Obj | None:
    """The ConfigMap holding the web app's nginx.conf and config.json."""
    return next((m for m in of_kind(objs, "ConfigMap") if "nginx.conf" in m.get("data", {})), None)


def python_config(values: dict[str, Any]) -> str:
    """What devtools/nginx.py renders for the chart's values and the pod's paths."""
    return nginx.render_config(
        str(values["services"]["web"]["port"]),
        WEB_ROOT,
        MOUNT / "config.json",
        TEMP_DIR,
        values["auth"]["issuer"],
    )


def parity_problems(objs: Sequence[Obj], values: dict[str, Any]) -> list[str]:
    """The chart's nginx.conf is the Python one for the same values, line for line, and its
    config.json says what `devtools.nginx.site_config` says."""
    config_map = web_config_map(objs)
    if config_map is None:
        return ["web: no ConfigMap with nginx.conf is rendered"]
    problems: list[str] = []
    chart = config_map["data"]["nginx.conf"]
    python = python_config(values)
    if chart != python:
        diff = difflib.unified_diff(
            python.splitlines(), chart.splitlines(), "python", "chart", n=0, lineterm=""
        )
        problems.append(
            "web nginx.conf differs from devtools/nginx.py:\n" + "\n".join(list(diff)[:20])
        )
    expected = nginx.site_config(values["auth"]["issuer"], values["services"]["web"]["clientId"])
    try:
        found = json.loads(config_map["data"].get("config.json", ""))
    except json.JSONDecodeError as err:
        return [*problems, f"web config.json is no JSON: {err}"]
    if found != expected:
        problems.append(f"web config.json is {found}, devtools/nginx.py says {expected}")
    return problems
