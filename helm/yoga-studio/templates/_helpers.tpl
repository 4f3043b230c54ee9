{{/*
Helpers shared by every template. A workload is named by its key in .Values.services
(yogaclass, reservation, notification, mypage, gateway) with .Values.namePrefix before it.
*/}}

{{/* The name of a workload: (list $ "yogaclass") -> "yogaclass" or "<prefix>yogaclass". */}}
{{- define "yoga.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s%s" $root.Values.namePrefix (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The cluster-local DNS name of a workload's Service. */}}
{{- define "yoga.host" -}}
{{- $root := index . 0 -}}
{{- printf "%s.%s.svc.cluster.local" (include "yoga.name" .) $root.Release.Namespace -}}
{{- end -}}

{{/* The Istio principal of a workload's service account. */}}
{{- define "yoga.principal" -}}
{{- $root := index . 0 -}}
{{- printf "%s/ns/%s/sa/%s" $root.Values.istio.trustDomain $root.Release.Namespace (include "yoga.name" .) -}}
{{- end -}}

{{- define "yoga.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "yoga.baseLabels" -}}
helm.sh/chart: {{ include "yoga.chart" . }}
app.kubernetes.io/part-of: yoga-studio
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Labels of the objects that belong to no one workload. */}}
{{- define "yoga.commonLabels" -}}
{{ include "yoga.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of a workload: (list $ "yogaclass"). */}}
{{- define "yoga.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "yoga.name" . }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/* All labels of a workload's objects: (list $ "yogaclass"). `app` and `version` are the
labels Istio's telemetry reads. */}}
{{- define "yoga.labels" -}}
{{- $root := index . 0 -}}
{{ include "yoga.baseLabels" $root }}
{{ include "yoga.selectorLabels" . }}
app.kubernetes.io/component: {{ index . 1 }}
app: {{ include "yoga.name" . }}
version: {{ $root.Chart.AppVersion | quote }}
{{- end -}}

{{/* The services' image. */}}
{{- define "yoga.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Python services (every entry but the gateway and the web app), as a list of keys in a
stable order. */}}
{{- define "yoga.grpcServices" -}}
{{- $names := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if not (has $name (list "gateway" "web")) -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* A Python service's metrics ports, one per worker process: worker i serves its own at
monitoring.port + i (yoga_common/workers.py), named metrics, metrics-1, ... As JSON: a list of
{name, port}. Call with (list $ $svc). */}}
{{- define "yoga.metricsPorts" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $ports := list -}}
{{- range $i := until (int $svc.workers) -}}
{{- $ports = append $ports (dict "name" (include "yoga.metricsPortName" $i) "port" (add $root.Values.monitoring.port $i)) -}}
{{- end -}}
{{- toJson $ports -}}
{{- end -}}

{{/* The name of worker i's metrics port: metrics, metrics-1, ... */}}
{{- define "yoga.metricsPortName" -}}
{{- ternary "metrics" (printf "metrics-%d" .) (eq . 0) -}}
{{- end -}}

{{/* The most workers any Python service runs: the ServiceMonitor's endpoints. */}}
{{- define "yoga.mostWorkers" -}}
{{- $most := 1 -}}
{{- range $name := include "yoga.grpcServices" . | fromJsonArray -}}
{{- $most = max $most (int (index $.Values.services $name).workers) -}}
{{- end -}}
{{- $most -}}
{{- end -}}

{{/* The web app's image (the Dockerfile's `web` target). */}}
{{- define "yoga.webImage" -}}
{{- $image := .Values.services.web.image -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Where the web app's pod mounts its ConfigMap (nginx.conf, config.json), and serves from. */}}
{{- define "yoga.webConfigDir" -}}/etc/yoga-web{{- end -}}
{{- define "yoga.webRoot" -}}/usr/share/nginx/html{{- end -}}

{{/* The web app's nginx configuration: nginx/nginx.conf.tmpl (files/web/nginx.conf.tmpl is a
symlink to it) with its @NAME@ placeholders filled as devtools/nginx.py fills them: the pod's
port, paths and /tmp, and the identity provider's origin (scheme://host[:port] of auth.issuer),
which the Content-Security-Policy allows. A value nginx would misread, or a placeholder the chart
does not fill, fails the render. */}}
{{- define "yoga.nginxConfig" -}}
{{- $issuer := urlParse .Values.auth.issuer -}}
{{- $fill := dict
  "LISTEN" (.Values.services.web.port | int | toString)
  "WEB_ROOT" (include "yoga.webRoot" .)
  "CONFIG_JSON" (printf "%s/config.json" (include "yoga.webConfigDir" .))
  "TEMP_DIR" "/tmp"
  "IDP_ORIGIN" (printf "%s://%s" $issuer.scheme $issuer.host) -}}
{{- $text := .Files.Get "files/web/nginx.conf.tmpl" -}}
{{- if not $text -}}
{{- fail "files/web/nginx.conf.tmpl is missing: it is a symlink to nginx/nginx.conf.tmpl" -}}
{{- end -}}
{{- range $key, $value := $fill -}}
{{- if or (not $value) (regexMatch "[\\s;{}'\"\\\\$#]" $value) -}}
{{- fail (printf "nginx/nginx.conf.tmpl: %s %q is empty or holds a character nginx would misread" $key $value) -}}
{{- end -}}
{{- $text = replace (printf "@%s@" $key) $value $text -}}
{{- end -}}
{{- $left := regexFindAll "@[A-Z][A-Z0-9_]*@" $text -1 | uniq -}}
{{- if $left -}}
{{- fail (printf "nginx/nginx.conf.tmpl has placeholders the chart does not fill: %s" (join ", " $left)) -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{/* True when a Python service keeps its database in a SQLite file on a PVC. */}}
{{- define "yoga.sqlite" -}}
{{- if eq .Values.database.driver "sqlite" -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the client secret of auth.clientId (key client-secret). */}}
{{- define "yoga.authSecret" -}}
{{- .Values.auth.existingSecret | default (include "yoga.name" (list . "yoga-studio-secrets")) -}}
{{- end -}}

{{/* Where the issuer's keys are: auth.jwksUri, else Keycloak's place under the issuer (as
devtools/gateway_config.py derives it: trailing slashes off, /protocol/openid-connect/certs). */}}
{{- define "yoga.jwksUri" -}}
{{- .Values.auth.jwksUri | default (printf "%s/protocol/openid-connect/certs" (regexReplaceAll "/+$" .Values.auth.issuer "")) -}}
{{- end -}}

{{/* The JWKS URI's endpoint, as JSON {"host", "port", "tls", "ip"}: the gateway's `identity`
cluster (devtools/gateway_config.py `identity_endpoint`). */}}
{{- define "yoga.identityEndpoint" -}}
{{- $uri := include "yoga.jwksUri" . -}}
{{- $url := urlParse $uri -}}
{{- if not (has $url.scheme (list "http" "https")) -}}
{{- fail (printf "auth.jwksUri (or auth.issuer) must be an http or https URL, not %q" $uri) -}}
{{- end -}}
{{- $tls := eq $url.scheme "https" -}}
{{- $host := regexReplaceAll "^\\[?([^\\]]*?)\\]?(:[0-9]+)?$" $url.host "${1}" -}}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" -}}
{{- if not $host -}}
{{- fail (printf "auth.jwksUri (or auth.issuer) %q names no host" $uri) -}}
{{- end -}}
{{- $ip := or (regexMatch "^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$" $host) (contains ":" $host) -}}
{{- dict "host" $host "port" (ternary ($port | int) (ternary 443 80 $tls) (ne $port "")) "tls" $tls "ip" $ip | toJson -}}
{{- end -}}

{{/* The `identity` cluster's transport socket, as JSON: plaintext for http; for https TLS with
the host as SNI (never an address), the certificate checked against the system's CAs and the
host (devtools/gateway_config.py `transport_socket`). */}}
{{- define "yoga.identityTransportSocket" -}}
{{- $e := include "yoga.identityEndpoint" . | fromJson -}}
{{- if not $e.tls -}}
{{- dict "name" "envoy.transport_sockets.raw_buffer" "typed_config" (dict "@type" "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer") | toJson -}}
{{- else -}}
{{- $san := dict "san_type" (ternary "IP_ADDRESS" "DNS" $e.ip) "matcher" (dict "exact" $e.host) -}}
{{- $validation := dict "trusted_ca" (dict "filename" "/etc/ssl/certs/ca-certificates.crt") "match_typed_subject_alt_names" (list $san) -}}
{{- $context := dict "@type" "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" "common_tls_context" (dict "validation_context" $validation) -}}
{{- if not $e.ip -}}
{{- $_ := set $context "sni" $e.host -}}
{{- end -}}
{{- dict "name" "envoy.transport_sockets.tls" "typed_config" $context | toJson -}}
{{- end -}}
{{- end -}}

{{/* The services that call others with their own token (services.<name>.callsServices): they
get the client id and secret. */}}
{{- define "yoga.callers" -}}
{{- $names := list -}}
{{- range $name := include "yoga.grpcServices" . | fromJsonArray -}}
{{- if (index $.Values.services $name).callsServices -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* The Secret holding the database URLs. */}}
{{- define "yoga.databaseSecret" -}}
{{- .Values.database.existingSecret | default (include "yoga.name" (list . "yoga-studio-secrets")) -}}
{{- end -}}

{{/* terminationGracePeriodSeconds of a workload: preStop sleep + drain + grace + 10 s. */}}
{{- define "yoga.terminationGrace" -}}
{{- $s := .shutdown -}}
{{- add (ceil $s.preStopSeconds | int) (ceil $s.drainSeconds | int) (ceil $s.graceSeconds | int) 10 -}}
{{- end -}}

{{/* The Kafka topics of yoga_common/topics.py (all_topics), without the prefix: deploy-check
compares this list with the code's. */}}
{{- define "yoga.kafkaTopics" -}}
["yoga.yogaclass.events", "yoga.reservation.events", "yoga.yogaclass.dlt", "yoga.reservation.dlt", "yoga.notification.dlt", "yoga.mypage.dlt"]
{{- end -}}

{{/* Checks across values that the schema cannot express; fails the render with a message. */}}
{{- define "yoga.validate" -}}
{{- if not .Values.auth.issuer -}}
{{- fail "auth.issuer is required: the token issuer's URL as tokens name it (iss), e.g. --set auth.issuer=https://id.example.com/realms/studio (README: Deploying to Kubernetes)" -}}
{{- end -}}
{{- if and (include "yoga.callers" . | fromJsonArray) (not .Values.auth.existingSecret) (not .Values.auth.clientSecret) -}}
{{- fail (printf "%s call other services with tokens of the client %s: give its secret, auth.existingSecret (a Secret with the key client-secret) or auth.clientSecret (development only)" (include "yoga.callers" . | fromJsonArray | join ", ") .Values.auth.clientId) -}}
{{- end -}}
{{- $_ := include "yoga.identityEndpoint" . -}}
{{- if include "yoga.sqlite" . -}}
{{- range $name := include "yoga.grpcServices" . | fromJsonArray -}}
{{- $svc := index $.Values.services $name -}}
{{- if $svc.autoscaling.enabled -}}
{{- fail (printf "database.driver=sqlite keeps one SQLite file per service: set services.%s.autoscaling.enabled=false" $name) -}}
{{- end -}}
{{- if ne (int $svc.replicas) 1 -}}
{{- fail (printf "database.driver=sqlite keeps one SQLite file per service: set services.%s.replicas=1" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name := include "yoga.grpcServices" . | fromJsonArray -}}
{{- $svc := index $.Values.services $name -}}
{{- if hasKey ($svc.env | default dict) (printf "%s_WORKERS" $svc.envPrefix) -}}
{{- fail (printf "services.%s: set workers, not %s_WORKERS in env (the ports follow workers)" $name $svc.envPrefix) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.topics.strimzi.enabled .Values.kafka.topics.job.enabled -}}
{{- fail "kafka.topics: enable either strimzi or job, not both" -}}
{{- end -}}
{{- end -}}
