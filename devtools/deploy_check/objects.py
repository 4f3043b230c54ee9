"""Rendered Kubernetes objects: loading them strictly, and finding things in them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

Obj = dict[str, Any]


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML would keep the last silently;
    the API server's decoder refuses it)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml_documents(text: str) -> list[Obj]:
    return [doc for doc in yaml.load_all(text, Loader=UniqueKeyLoader) if doc]


def describe(obj: Obj) -> str:
    name = obj.get("metadata", {}).get("name", "?")
    return f"{obj.get('kind', '?')} {name}"


def of_kind(objs: Iterable[Obj], kind: str) -> Iterator[Obj]:
    return (o for o in objs if o.get("kind") == kind)


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def component_of(obj: Obj) -> str:
    """The workload an object belongs to (`yogaclass`, `gateway`, ...; the chart's label)."""
    return str(obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component", ""))


def pod_spec(deployment: Obj) -> Obj:
    spec: Obj = deployment.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = (
        deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    return labels


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
