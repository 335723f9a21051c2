{{/*
A Deployment of one of the assistant's images, its Service (and, with "headless", a headless
Service whose DNS name has every pod's address, for the action gateway) and its
PodDisruptionBudget:
(dict "root" $ "component" "actions" "port" 5055 "path" "/health" "start" 60 "headless" true)
*/}}
{{- define "trialbot.deployment" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .component -}}
{{- $c := dict "root" $root "component" .component -}}
{{- $autoscaling := and $values.autoscaling $values.autoscaling.enabled -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "trialbot.fullname" $root }}-{{ .component }}
  labels:
    {{- include "trialbot.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not $autoscaling }}
  replicas: {{ $values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "trialbot.selector" $c | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        {{- include "trialbot.selector" $c | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # tini (PID 1) forwards SIGTERM; the server finishes what it is answering.
      terminationGracePeriodSeconds: 20
      containers:
        - name: {{ .component }}
          image: {{ include "trialbot.image" $c }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["python", "/app/deploy/docker/entry.py", {{ .component | quote }}]
          ports:
            - {name: http, containerPort: {{ .port }}, protocol: TCP}
          env:
            {{- include "trialbot.env" $root | nindent 12 }}
          envFrom:
            {{- include "trialbot.envFrom" $root | nindent 12 }}
          {{- include "trialbot.probes" . | nindent 10 }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        {{- include "trialbot.tmpVolume" $root | nindent 8 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $values.affinity }}
      affinity:
        {{- toYaml $values.affinity | nindent 8 }}
      {{- else }}
      # Replicas on different nodes where there are several (as under Swarm).
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "trialbot.selector" $c | nindent 14 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "trialbot.fullname" $root }}-{{ .component }}
  labels:
    {{- include "trialbot.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  type: ClusterIP
  selector:
    {{- include "trialbot.selector" $c | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http, protocol: TCP}
{{- if .headless }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "trialbot.fullname" $root }}-{{ .component }}-pods
  labels:
    {{- include "trialbot.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  clusterIP: None
  selector:
    {{- include "trialbot.selector" $c | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http, protocol: TCP}
{{- end }}
{{- if and $values.podDisruptionBudget $values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "trialbot.fullname" $root }}-{{ .component }}
  labels:
    {{- include "trialbot.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  minAvailable: {{ $values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "trialbot.selector" $c | nindent 6 }}
{{- end }}
{{- end -}}
