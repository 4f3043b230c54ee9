"""Toxiproxy (github.com/Shopify/toxiproxy/v2, built by scripts/tools.sh): a TCP proxy on each
link the nemesis may cut (reservation_svc -> yogaclass_svc, every client -> the broker), driven
through its HTTP API. Latency and reset_peer are toxics; a partition is the proxy disabled
(connections closed, new ones refused)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools import servers
from devtools.processes import free_port, tail, wait_for_port


@dataclass
class Link:
    """One proxied link: clients connect to `listen`, the proxy to `upstream`."""

    name: str
    listen_port: int
    upstream_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listen_port}"


@dataclass
class Toxiproxy:
    folder: Path
    api_port: int = field(default_factory=free_port)
    links: dict[str, Link] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "toxiproxy.log"

    def start(self) -> None:
        tools = Path(servers.script("tools.sh", "toxiproxy-server"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(tools / "toxiproxy-server"), "-host", "127.0.0.1", "-port", str(self.api_port)],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.api_port, 15)
        except RuntimeError:
            raise RuntimeError(f"toxiproxy did not start:\n{tail(self.log_path)}") from None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def _call(self, method: str, path: str, body: object | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def link(self, name: str, upstream_port: int, listen_port: int = 0) -> Link:
        """A new proxy for `name` to 127.0.0.1:`upstream_port` (which need not be up yet)."""
        made = Link(name, listen_port or free_port(), upstream_port)
        self._call(
            "POST",
            "/proxies",
            {
                "name": name,
                "listen": made.address,
                "upstream": f"127.0.0.1:{upstream_port}",
                "enabled": True,
            },
        )
        self.links[name] = made
        return made

    def group(self, name: str) -> list[str]:
        """The proxies of link `name`: itself, or one per replica (`name-1`, `name-2`, ...)."""
        found = [n for n in self.links if n == name or n.startswith(f"{name}-")]
        if not found:
            raise KeyError(f"no proxy for {name}")
        return found

    def latency(self, name: str, ms: int, jitter_ms: int) -> None:
        """Every byte each way waits `ms` (± `jitter_ms`)."""
        for proxy in self.group(name):
            for stream in ("upstream", "downstream"):
                self._toxic(
                    proxy, f"latency_{stream}", "latency", stream, latency=ms, jitter=jitter_ms
                )

    def reset_peer(self, name: str) -> None:
        """Connections are reset (TCP RST) as soon as data flows: every call in flight fails."""
        for proxy in self.group(name):
            self._toxic(proxy, "reset_upstream", "reset_peer", "upstream", timeout=0)

    def partition(self, name: str) -> None:
        """The link is down: open connections closed, new ones refused."""
        for proxy in self.group(name):
            self._call("POST", f"/proxies/{proxy}", {"enabled": False})

    def heal(self) -> None:
        """Every proxy enabled again, every toxic removed."""
        self._call("POST", "/reset")

    def _toxic(self, name: str, toxic: str, kind: str, stream: str, **attributes: int) -> None:
        self._call(
            "POST",
            f"/proxies/{name}/toxics",
            {"name": toxic, "type": kind, "stream": stream, "attributes": attributes},
        )
