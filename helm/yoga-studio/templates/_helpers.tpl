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

{{/* The Python services (every entry but the gateway), as a list of keys in a stable order. */}}
{{- define "yoga.grpcServices" -}}
{{- $names := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if ne $name "gateway" -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* True when a Python service keeps its database in a SQLite file on a PVC. */}}
{{- define "yoga.sqlite" -}}
{{- if eq .Values.database.driver "sqlite" -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the token keys. */}}
{{- define "yoga.authSecret" -}}
{{- .Values.auth.existingSecret | default (include "yoga.name" (list . "yoga-studio-secrets")) -}}
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
["yoga.yogaclass.events", "yoga.reservation.events", "yoga.reservation.dlt", "yoga.notification.dlt", "yoga.mypage.dlt"]
{{- end -}}

{{/* Checks across values that the schema cannot express; fails the render with a message. */}}
{{- define "yoga.validate" -}}
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
{{- if and .Values.kafka.topics.strimzi.enabled .Values.kafka.topics.job.enabled -}}
{{- fail "kafka.topics: enable either strimzi or job, not both" -}}
{{- end -}}
{{- end -}}
