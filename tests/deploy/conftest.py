"""What the deploy-check tests share: the chart rendered once with the values every install
gives (an issuer, a client secret: devtools/deploy_check/required-values.yaml), the schemas, and
a fresh copy of the rendering for each test to break."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devtools.deploy_check import helm, schemas

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    objs: list[Obj] = helm.helm_template(helm.Case("defaults", (helm.REQUIRED_VALUES,)))
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
