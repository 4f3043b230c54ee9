"""devtools.deploy_check catches what it exists for: each test breaks one thing on purpose (an
unknown value key, a missing probe, an Istio resource its CRD does not allow, ...) and expects a
named problem. The chart is rendered once with helm from scripts/helm.sh; if helm cannot be
installed these tests fail (CheckError), they never skip."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.deploy_check import gateway, helm, rules, schemas
from devtools.deploy_check.objects import load_yaml_documents
from devtools.deploy_check.tools import CheckError, hadolint_problems

Obj = dict[str, Any]


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def container(objs: list[Obj], deployment: str) -> Obj:
    spec: Obj = find(objs, "Deployment", deployment)["spec"]["template"]["spec"]
    first: Obj = spec["containers"][0]
    return first


def matching(problems: list[str], *parts: str) -> list[str]:
    return [p for p in problems if all(part in p for part in parts)]


# -- the unbroken chart passes ---------------------------------------------------------------------


def test_default_rendering_passes_every_check(rendered: list[Obj], kube: Any, crds: Any) -> None:
    assert schemas.schema_problems(rendered, kube, crds) == []
    assert rules.project_problems(rendered) == []
    assert gateway.envoy_problems(rendered, "defaults") == []
    kinds = {o["kind"] for o in rendered}
    for kind in ("Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "ConfigMap", "Secret", "PersistentVolumeClaim",
                 "PeerAuthentication", "DestinationRule", "VirtualService", "AuthorizationPolicy",
                 "RequestAuthentication", "KafkaTopic", "ServiceMonitor"):  # fmt: skip
        assert kind in kinds


def test_values_schema_and_dockerfile_pass() -> None:
    assert helm.values_schema_problems() == []
    assert hadolint_problems() == []


# -- values ----------------------------------------------------------------------------------------


def test_unknown_value_key_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  yogaclass:\n    replica: 3\n")
    case = helm.Case("typo", (bad,))
    with pytest.raises(CheckError, match="additional properties 'replica' not allowed"):
        helm.helm_template(case)
    assert helm.helm_lint(case) != []


def test_unknown_top_level_key_and_wrong_type_are_rejected() -> None:
    with pytest.raises(CheckError, match="additional properties 'isito' not allowed"):
        helm.helm_template(helm.Case("typo", sets=("isito.enabled=false",)))
    with pytest.raises(CheckError, match="/services/yogaclass/port"):
        helm.helm_template(helm.Case("type", sets=("services.yogaclass.port=grpc",)))


def test_writable_root_filesystem_is_rejected_by_the_schema() -> None:
    with pytest.raises(CheckError, match="readOnlyRootFilesystem"):
        helm.helm_template(
            helm.Case("rw", sets=("containerSecurityContext.readOnlyRootFilesystem=false",))
        )


def test_sqlite_with_autoscaling_is_refused() -> None:
    with pytest.raises(CheckError, match=r"autoscaling.enabled=false"):
        helm.helm_template(
            helm.Case("sqlite", (helm.REQUIRED_VALUES,), sets=("database.driver=sqlite",))
        )


def test_an_open_object_in_the_values_schema_is_found(tmp_path: Path) -> None:
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"image": {"type": "object", "properties": {"tag": {}}}}}  # fmt: skip
    path = tmp_path / "values.schema.json"
    path.write_text(json.dumps(schema))
    assert matching(helm.values_schema_problems(path), "/properties/image", "additionalProperties")


def test_every_worker_process_of_a_pod_is_scraped() -> None:
    """ci/monitoring.yaml runs notification_svc as two processes a pod: worker i serves its
    metrics on monitoring.port + i, and the pod, its Service, the ServiceMonitor and the Istio
    policies all open and name both ports; the other services keep the one."""
    case = next(c for c in helm.cases() if c.name == "ci/monitoring.yaml")
    objs = helm.helm_template(case)
    assert find(objs, "ConfigMap", "notification-env")["data"]["NOTIFICATION_WORKERS"] == "2"
    assert find(objs, "ConfigMap", "mypage-env")["data"]["MYPAGE_WORKERS"] == "1"
    ports = {p["name"]: p["containerPort"] for p in container(objs, "notification")["ports"]}
    assert (ports["metrics"], ports["metrics-1"]) == (9500, 9501)
    assert "metrics-1" not in {p["name"] for p in container(objs, "mypage")["ports"]}
    service = {p["name"]: p for p in find(objs, "Service", "notification")["spec"]["ports"]}
    assert (service["metrics-1"]["port"], service["metrics-1"]["targetPort"]) == (9501, "metrics-1")
    monitor = find(objs, "ServiceMonitor", "yoga-studio")["spec"]["endpoints"]
    assert [e["port"] for e in monitor] == ["metrics", "metrics-1"]
    mtls = find(objs, "PeerAuthentication", "notification")["spec"]["portLevelMtls"]
    assert {port: m["mode"] for port, m in mtls.items()} == {9500: "PERMISSIVE", 9501: "PERMISSIVE"}
    scraped = [
        rule["to"][0]["operation"]["ports"]
        for rule in find(objs, "AuthorizationPolicy", "notification")["spec"]["rules"]
        if rule["to"][0]["operation"].get("methods") == ["GET"]
    ]
    assert scraped == [["9500", "9501"]]


def test_workers_go_through_their_value_not_the_env() -> None:
    with pytest.raises(CheckError, match=r"set workers, not NOTIFICATION_WORKERS"):
        helm.helm_template(
            helm.Case(
                "workers in env",
                (helm.REQUIRED_VALUES,),
                sets=("services.notification.env.NOTIFICATION_WORKERS=2",),
            )
        )


# -- the token issuer and the client secret ------------------------------------------------------


def test_the_chart_will_not_render_without_an_issuer_or_a_client_secret() -> None:
    assert helm.required_value_problems() == []
    with pytest.raises(CheckError, match=r"auth.issuer is required"):
        helm.helm_template(helm.Case("bare"))
    issuer = "auth.issuer=https://id.example.com/realms/studio"
    with pytest.raises(CheckError, match=r"reservation call other services .* auth.clientSecret"):
        helm.helm_template(helm.Case("no secret", sets=(issuer,)))
    # A Secret of one's own is enough.
    helm.helm_template(helm.Case("own", sets=(issuer, "auth.existingSecret=yoga-client")))


def test_tokens_are_checked_with_the_issuers_published_keys(rendered: list[Obj]) -> None:
    jwks_uri = "https://id.example.com/realms/studio/protocol/openid-connect/certs"
    [rule] = find(rendered, "RequestAuthentication", "gateway")["spec"]["jwtRules"]
    assert rule["issuer"] == "https://id.example.com/realms/studio"
    assert rule["jwksUri"] == jwks_uri
    assert rule["audiences"] == ["yoga"]
    assert rule["forwardOriginalToken"] is True
    assert "jwks" not in rule
    for name in ("yogaclass", "reservation", "notification", "mypage"):
        env = find(rendered, "ConfigMap", f"{name}-env")["data"]
        assert env["YOGA_JWT_ISSUER"] == "https://id.example.com/realms/studio"
        assert env["YOGA_JWT_AUDIENCE"] == "yoga"
        assert env["YOGA_JWT_JWKS_URI"] == jwks_uri
        assert not [k for k in env if "KEY" in k]
        assert ("YOGA_JWT_CLIENT_ID" in env) == (name == "reservation")


def test_only_services_that_call_others_get_the_client_secret(rendered: list[Obj]) -> None:
    secret = find(rendered, "Secret", "yoga-studio-secrets")
    assert secret["stringData"]["client-secret"] == "deploy-check-placeholder"
    for name in ("yogaclass", "reservation", "notification", "mypage", "gateway"):
        spec = find(rendered, "Deployment", name)["spec"]["template"]["spec"]
        env = {e["name"]: e for e in spec["containers"][0].get("env", [])}
        if name == "reservation":
            ref = env["YOGA_JWT_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "yoga-studio-secrets", "key": "client-secret"}
        else:
            assert "YOGA_JWT_CLIENT_SECRET" not in env
        assert all("secret" not in v for v in spec["volumes"])  # no key files mounted


def test_existing_secret_names_the_secret_and_the_chart_renders_none() -> None:
    case = helm.Case("own", (helm.REQUIRED_VALUES, helm.CI_VALUES / "existing-secrets.yaml"))
    objs = helm.helm_template(case)
    assert not [o for o in objs if o["kind"] == "Secret"]
    spec = find(objs, "Deployment", "reservation")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    ref = env["YOGA_JWT_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "yoga-client", "key": "client-secret"}
    # The issuer's trailing slash is the issuer's; Keycloak's key URI is derived without it.
    [rule] = find(objs, "RequestAuthentication", "gateway")["spec"]["jwtRules"]
    assert rule["issuer"] == "https://auth.example.com/realms/studio/"
    assert rule["jwksUri"] == "https://auth.example.com/realms/studio/protocol/openid-connect/certs"


def test_a_private_key_anywhere_is_found(objs: list[Obj]) -> None:
    assert rules.private_key_problems(objs) == []
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n"
    find(objs, "Secret", "yoga-studio-secrets")["stringData"]["jwt-private.pem"] = pem
    find(objs, "ConfigMap", "yogaclass-env")["data"]["YOGA_JWT_PRIVATE_KEY_FILE"] = "/etc/k.pem"
    config_map = find(objs, "ConfigMap", "mypage-env")
    config_map["binaryData"] = {"k": base64.b64encode(pem.encode()).decode()}
    problems = rules.project_problems(objs)
    assert matching(problems, "Secret yoga-studio-secrets /stringData/jwt-private.pem", "PRIVATE")
    assert matching(problems, "ConfigMap yogaclass-env", "YOGA_JWT_PRIVATE_KEY_FILE")
    assert matching(problems, "ConfigMap mypage-env /binaryData/k", "holds a private key")


# -- Kubernetes schemas ----------------------------------------------------------------------------


def test_kubernetes_schema_errors_are_found(objs: list[Obj], kube: Any, crds: Any) -> None:
    find(objs, "Service", "yogaclass")["spec"]["ports"][0]["port"] = "fifty"
    # Strict schemas: a misspelt field is an error, not something the API server drops.
    find(objs, "Deployment", "mypage")["spec"]["replica"] = 2
    problems = schemas.schema_problems(objs, kube, crds)
    assert matching(problems, "Service yogaclass", "spec.ports.0.port")
    assert matching(problems, "Deployment mypage", "'replica' was unexpected")


def test_unknown_kind_is_an_error(kube: Any) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    assert matching(kube.problems(obj), "no Kubernetes", "Deploymnet")


# -- custom resources against their CRDs -----------------------------------------------------------


def test_istio_resources_that_do_not_match_their_crds_fail(
    objs: list[Obj], kube: Any, crds: Any
) -> None:
    find(objs, "DestinationRule", "yogaclass")["spec"]["trafficPolicy"]["tls"]["mode"] = "MTLS"
    find(objs, "VirtualService", "reservation")["spec"]["http"][0]["retry"] = {"attempts": 0}
    find(objs, "AuthorizationPolicy", "mypage")["spec"]["action"] = "PERMIT"
    find(objs, "PeerAuthentication", "default")["metadata"]["labelz"] = {}
    problems = schemas.schema_problems(objs, kube, crds)
    assert matching(problems, "DestinationRule yogaclass", "trafficPolicy.tls.mode", "MTLS")
    assert matching(problems, "VirtualService reservation", "'retry' was unexpected")
    assert matching(problems, "AuthorizationPolicy mypage", "PERMIT")
    assert matching(problems, "PeerAuthentication default metadata", "labelz")


def test_kafkatopic_and_servicemonitor_are_checked_too(
    objs: list[Obj], kube: Any, crds: Any
) -> None:
    topic = next(o for o in objs if o["kind"] == "KafkaTopic")
    topic["spec"]["partitions"] = 0
    find(objs, "ServiceMonitor", "yoga-studio")["spec"]["endpoints"][0]["portName"] = "metrics"
    problems = schemas.schema_problems(objs, kube, crds)
    assert matching(problems, "KafkaTopic", "spec.partitions", "less than the minimum")
    assert matching(problems, "ServiceMonitor yoga-studio", "'portName' was unexpected")


def test_a_custom_resource_version_without_a_crd_fails(
    objs: list[Obj], kube: Any, crds: Any
) -> None:
    find(objs, "VirtualService", "mypage")["apiVersion"] = "networking.istio.io/v2"
    assert matching(schemas.schema_problems(objs, kube, crds), "VirtualService mypage", "no CRD")


# -- the project's rules ---------------------------------------------------------------------------


def test_deployment_without_probes_fails(objs: list[Obj]) -> None:
    del container(objs, "yogaclass")["readinessProbe"]
    del container(objs, "gateway")["livenessProbe"]
    problems = rules.project_problems(objs)
    assert matching(problems, "Deployment yogaclass", "no readinessProbe")
    assert matching(problems, "Deployment gateway", "no livenessProbe")


def test_grpc_service_needs_grpc_probes_naming_the_service(objs: list[Obj]) -> None:
    reservation = container(objs, "reservation")
    reservation["livenessProbe"] = {"tcpSocket": {"port": 50052}}
    reservation["readinessProbe"]["grpc"].pop("service")
    problems = rules.project_problems(objs)
    assert matching(problems, "Deployment reservation", "livenessProbe must be a gRPC probe")
    assert matching(problems, "Deployment reservation", "readinessProbe must name")


def test_resources_service_account_and_security_are_required(objs: list[Obj]) -> None:
    del container(objs, "mypage")["resources"]["limits"]
    find(objs, "Deployment", "notification")["spec"]["template"]["spec"]["serviceAccountName"] = (
        "nobody"
    )
    container(objs, "yogaclass")["securityContext"]["readOnlyRootFilesystem"] = False
    problems = rules.project_problems(objs)
    assert matching(problems, "Deployment mypage", "no resources.limits.cpu")
    assert matching(problems, "Deployment notification", "ServiceAccount nobody is not rendered")
    assert matching(problems, "Deployment yogaclass", "readOnlyRootFilesystem")


def test_rollout_autoscaling_and_shutdown_rules(objs: list[Obj]) -> None:
    yogaclass = find(objs, "Deployment", "yogaclass")
    yogaclass["spec"]["replicas"] = 3
    yogaclass["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1
    find(objs, "Deployment", "mypage")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 10
    problems = rules.project_problems(objs)
    assert matching(problems, "Deployment yogaclass", "`replicas` although an HPA")
    assert matching(problems, "Deployment yogaclass", "maxUnavailable 0")
    assert matching(problems, "Deployment mypage", "terminationGracePeriodSeconds 10")


def test_grpc_port_must_be_named_grpc(objs: list[Obj]) -> None:
    port = find(objs, "Service", "notification")["spec"]["ports"][0]
    port["name"] = "rpc"
    assert matching(rules.project_problems(objs), "Deployment notification", "named grpc")


def test_every_workload_needs_an_authorization_policy(objs: list[Obj]) -> None:
    objs.remove(find(objs, "AuthorizationPolicy", "reservation"))
    assert matching(
        rules.project_problems(objs), "Deployment reservation", "no AuthorizationPolicy"
    )


def test_authorization_policy_paths_must_be_real_methods(objs: list[Obj]) -> None:
    rule = find(objs, "AuthorizationPolicy", "yogaclass")["spec"]["rules"][1]
    rule["to"][0]["operation"]["paths"][0] = "/yoga.yogaclass.v1.YogaClassService/TakeSeat"
    assert matching(rules.project_problems(objs), "TakeSeat is no gRPC method")


def test_istio_retries_and_mtls_rules(objs: list[Obj]) -> None:
    find(objs, "VirtualService", "yogaclass")["spec"]["http"][0]["retries"]["attempts"] = 2
    find(objs, "DestinationRule", "mypage")["spec"]["trafficPolicy"]["tls"]["mode"] = "DISABLE"
    problems = rules.project_problems(objs)
    assert matching(problems, "VirtualService yogaclass", "retries.attempts must be 0")
    assert matching(problems, "DestinationRule mypage", "not ISTIO_MUTUAL")


def test_kafka_topics_must_be_the_codes(objs: list[Obj]) -> None:
    topic = next(o for o in objs if o["kind"] == "KafkaTopic")
    topic["spec"]["topicName"] = "yoga.somewhere.events"
    assert matching(rules.project_problems(objs), "KafkaTopics", "yoga_common/topics.py")


def test_gateway_must_point_at_rendered_services(objs: list[Obj]) -> None:
    config_map = find(objs, "ConfigMap", "gateway-config")
    config = yaml.safe_load(config_map["data"]["envoy.yaml"])
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "mypage")
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
        "socket_address"
    ]["port_value"] = 50099
    config_map["data"]["envoy.yaml"] = json.dumps(config)
    assert matching(rules.project_problems(objs), "gateway cluster mypage", ":50099")


def test_envoy_rejects_a_broken_gateway_config(objs: list[Obj]) -> None:
    config_map = find(objs, "ConfigMap", "gateway-config")
    config = yaml.safe_load(config_map["data"]["envoy.yaml"])
    identity = next(c for c in config["static_resources"]["clusters"] if c["name"] == "identity")
    tls = identity["transport_socket"]["typed_config"]["common_tls_context"]
    tls["validation_context"]["trusted_ca"]["filename"] = "/no/such/ca.crt"
    config_map["data"]["envoy.yaml"] = json.dumps(config)
    assert matching(gateway.envoy_problems(objs, "broken"), "envoy rejects", "/no/such/ca.crt")


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(yaml.YAMLError, match="appears twice"):
        load_yaml_documents("metadata:\n  labels:\n    app: a\n    app: b\n")


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python\nRUN apt-get install curl\n")
    problems = hadolint_problems(dockerfile)
    assert matching(problems, "DL3006")  # untagged base image
    assert matching(problems, "DL3008")  # unpinned apt package
