"""What the deploy-check tests share: the chart rendered once with throwaway keys, the schemas,
and a fresh copy of the rendering for each test to break."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from devtools.deploy_check import helm, schemas

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    result: dict[str, Path] = helm.throwaway_keys(tmp_path_factory.mktemp("keys"))
    return result


@pytest.fixture(scope="module")
def rendered(keys: dict[str, Path]) -> list[Obj]:
    objs: list[Obj] = helm.helm_template(helm.Case("defaults+keys", set_files=keys))
    return objs


@pytest.fixture(scope="module")
def kube() -> Any:
    return schemas.KubeSchemas()


@pytest.fixture(scope="module")
def crds(kube: Any) -> Any:
    return schemas.CrdSchemas(schemas.CRD_DIR, kube)


@pytest.fixture
def objs(rendered: list[Obj]) -> list[Obj]:
    """A copy of the default rendering, for a test to break."""
    return copy.deepcopy(rendered)
