{{/* The chart's name, or nameOverride. */}}
{{- define "upline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, or <release>-<name> (just
<release> when it already contains the name), cut to the 63 characters of a DNS label.
*/}}
{{- define "upline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's resources: <fullname>-operator. */}}
{{- define "upline.operator.fullname" -}}
{{- printf "%s-operator" (include "upline.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Service of the operator's /metrics (also the `job` label Prometheus gives its series). */}}
{{- define "upline.operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "upline.operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "upline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "upline.labels" -}}
helm.sh/chart: {{ include "upline.chart" . }}
app.kubernetes.io/name: {{ include "upline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: upline
{{- end }}

{{/* Labels of the operator's resources. */}}
{{- define "upline.operator.labels" -}}
{{ include "upline.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The selector of the operator's pods: stable across upgrades, so never the version. */}}
{{- define "upline.operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "upline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "upline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "upline.operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "upline.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* True when the cluster serves the Prometheus operator's API (ServiceMonitor, PrometheusRule). */}}
{{- define "upline.monitoringApiAvailable" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}
