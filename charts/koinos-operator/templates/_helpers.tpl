{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "koinos-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of every object: the release name, unless it already contains the chart name. */}}
{{- define "koinos-operator.fullname" -}}
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

{{- define "koinos-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "koinos-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "koinos-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "koinos-operator.labels" -}}
helm.sh/chart: {{ include "koinos-operator.chart" . }}
{{ include "koinos-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: koinos
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "koinos-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "koinos-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: a digest pins it, otherwise the tag, by default "v" + the chart's appVersion
(images are tagged like the services image, e.g. v0.1.0).
*/}}
{{- define "koinos-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's own permissions: exactly what it reads, applies (server-side apply needs
create + patch), and deletes (children no longer desired, found by label). It never uses
update on children, never reads Pods, and needs no cluster-scoped kind.
*/}}
{{- define "koinos-operator.managerRules" -}}
- apiGroups: ["koinos.io"]
  resources: ["koinosclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["koinos.io"]
  resources: ["koinosclusters/status"]
  verbs: ["get", "patch"]
# Owner references with blockOwnerDeletion need update on the owner's finalizers subresource
# (OwnerReferencesPermissionEnforcement admission).
- apiGroups: ["koinos.io"]
  resources: ["koinosclusters/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["configmaps", "secrets", "services", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# KEDA objects of clusters with autoscaling.provider: keda (KEDA itself is optional; without
# its CRDs these rules match nothing).
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects", "triggerauthentications"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The PodMonitor of clusters with spec.monitoring.podMonitor (the Prometheus Operator itself is
# optional; without its CRDs these rules match nothing and the cluster says so in a condition).
- apiGroups: ["monitoring.coreos.com"]
  resources: ["podmonitors"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The Gateway API routes of services with a route (the Gateway API itself is optional; without
# its CRDs these rules match nothing and the cluster says so in a condition). Read (get), applied
# (create, patch), and found by label and deleted once unset; never watched.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["get", "list", "create", "patch", "delete"]
# The VolumeSnapshot a storage.dataSource names, read to say when it is missing or not ready
# (the CSI snapshot CRDs are optional; without them this rule matches nothing).
- apiGroups: ["snapshot.storage.k8s.io"]
  resources: ["volumesnapshots"]
  verbs: ["get"]
# kube-runtime's event Recorder creates an Event, then patches its series on repeats.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
