{{- define "trialbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trialbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "trialbot.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "trialbot.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trialbot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "trialbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "rasa") */}}
{{- define "trialbot.selector" -}}
app.kubernetes.io/name: {{ include "trialbot.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "trialbot.image" -}}
{{- printf "%s%s:%s" .root.Values.image.registry (index .root.Values.image .component) .root.Values.image.tag -}}
{{- end -}}

{{- define "trialbot.appSecret" -}}
{{- .Values.secrets.existingSecret | default (include "trialbot.fullname" .) -}}
{{- end -}}

{{- define "trialbot.databaseSecret" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "trialbot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "trialbot.redisSecret" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret -}}
{{- .Values.externalRedis.existingSecret -}}
{{- else -}}
{{- printf "%s-database" (include "trialbot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "trialbot.actionEndpoint" -}}
{{- if .Values.actionGateway.enabled -}}
{{- printf "http://%s-action-gateway:5055/webhook" (include "trialbot.fullname" .) -}}
{{- else -}}
{{- printf "http://%s-actions:5055/webhook" (include "trialbot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "trialbot.publicUrl" -}}
{{- if .Values.ingress.tls -}}https{{- else -}}http{{- end -}}://{{ .Values.ingress.host }}
{{- end -}}

{{/*
The environment of every assistant container, as deploy/compose.yaml's x-app gives it: the
databases, Redis, the action endpoint, the images' ports and addresses, then the ConfigMap and
the Secret (envFrom).
*/}}
{{- define "trialbot.env" -}}
- name: TRIAL_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "trialbot.databaseSecret" . }}, key: TRIAL_DATABASE_URL}}
- name: TRACKER_STORE_URL
  valueFrom: {secretKeyRef: {name: {{ include "trialbot.databaseSecret" . }}, key: TRACKER_STORE_URL}}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "trialbot.redisSecret" . }}, key: REDIS_URL}}
- name: ACTION_ENDPOINT_URL
  value: {{ include "trialbot.actionEndpoint" . | quote }}
- name: RASA_URL
  value: {{ include "trialbot.publicUrl" . | quote }}
- name: RASA_PORT
  value: "5005"
- name: ACTION_PORT
  value: "5055"
- name: WEB_PORT
  value: "8000"
- name: RASA_INTERFACE
  value: 0.0.0.0
- name: SANIC_HOST
  value: 0.0.0.0
- name: BOT_VAR_DIR
  value: /tmp/trialbot
- name: HOME
  value: /tmp
{{- end -}}

{{- define "trialbot.envFrom" -}}
- configMapRef:
    name: {{ include "trialbot.fullname" . }}
- secretRef:
    name: {{ include "trialbot.appSecret" . }}
{{- end -}}

{{/*
Probes of one port and path, with deploy/compose.yaml's healthcheck timings: every 5 s, 3 s
timeout, 3 failures; the startup probe allows `start` seconds (compose's start_period).
(dict "port" 5005 "path" "/" "start" 180)
*/}}
{{- define "trialbot.probes" -}}
startupProbe:
  httpGet: {path: {{ .path }}, port: {{ .port }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: {{ div .start 5 }}
readinessProbe:
  httpGet: {path: {{ .path }}, port: {{ .port }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
livenessProbe:
  httpGet: {path: {{ .path }}, port: {{ .port }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{- define "trialbot.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}
