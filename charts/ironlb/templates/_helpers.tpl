{{/* Chart name, cut to fit a DNS label. */}}
{{- define "ironlb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name. The release name alone when it already says
"ironlb", so `helm install ironlb` gives ironlb-controller, ironlb-speaker...
Service names add up to 19 characters and must fit 63, hence 40.
*/}}
{{- define "ironlb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else if contains (include "ironlb.name" .) .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "ironlb.name" .) | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "ironlb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ironlb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "controller"). */}}
{{- define "ironlb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ironlb.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ironlb.componentLabels" -}}
{{ include "ironlb.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ironlb.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (printf "%s-controller" (include "ironlb.fullname" .)) .Values.controller.serviceAccount.name }}
{{- else }}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ironlb.speaker.serviceAccountName" -}}
{{- if .Values.speaker.serviceAccount.create }}
{{- default (printf "%s-speaker" (include "ironlb.fullname" .)) .Values.speaker.serviceAccount.name }}
{{- else }}
{{- required "speaker.serviceAccount.name is required when speaker.serviceAccount.create is false" .Values.speaker.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: (dict "image" .Values.controller.image "ctx" $). */}}
{{- define "ironlb.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* Names shared by the controller's flags and the objects they point at. */}}
{{- define "ironlb.webhook.serviceName" -}}{{ include "ironlb.fullname" . }}-webhook{{- end }}
{{- define "ironlb.webhook.secretName" -}}{{ include "ironlb.fullname" . }}-webhook-cert{{- end }}
{{- define "ironlb.webhook.configurationName" -}}{{ include "ironlb.fullname" . }}-validating-webhook-configuration{{- end }}
{{- define "ironlb.memberlist.secretName" -}}
{{- default (printf "%s-memberlist" (include "ironlb.fullname" .)) .Values.speaker.memberlist.existingSecret }}
{{- end }}

{{/*
The speakers' memberlist keys, resolved once per render: the Secret and the
speakers' checksum annotation must see the same key, and a second random one
would not match. Sets .Values.speaker.memberlist._resolved to a dict:
  key, oldKeys  the Secret's data (plain text; oldKeys comma-separated)
  checksum      what the pod template's checksum/memberlist-key annotation
                holds, so that a new key restarts the speakers
The key is speaker.memberlist.key when set; else the one in the cluster's
Secret (lookup), kept across upgrades; else a new random one. oldKeys are
speaker.memberlist.oldKeys.

Without a cluster to look in (helm template, helm lint, GitOps tools that
render that way) lookup finds nothing and a new key is drawn at each render:
its checksum is then a constant, so rendering again does not restart the
speakers (a restarted speaker would hold a key the others do not, and stay
isolated). Set speaker.memberlist.key or existingSecret to render the same
Secret every time.
*/}}
{{- define "ironlb.memberlist.resolve" -}}
{{- $ml := .Values.speaker.memberlist -}}
{{- if not (hasKey $ml "_resolved") -}}
{{- $name := include "ironlb.memberlist.secretName" . -}}
{{- $live := (lookup "v1" "Secret" .Release.Namespace $name).data | default dict -}}
{{- /* kube-system exists in every cluster: found means lookup reaches one. */ -}}
{{- $cluster := not (empty (lookup "v1" "Namespace" "" "kube-system")) -}}
{{- /* compact: --set speaker.memberlist.oldKeys={} gives [""]. */ -}}
{{- $oldKeys := join "," (compact ($ml.oldKeys | default list)) -}}
{{- $r := dict "key" "" "oldKeys" $oldKeys -}}
{{- if $ml.existingSecret -}}
{{- /* The user's Secret: its content when it can be read, else its name. */ -}}
{{- $content := printf "%s\n%s" (get $live "key" | default "" | b64dec) (get $live "oldKeys" | default "" | b64dec) -}}
{{- if not $live -}}
{{- $content = printf "existingSecret %s" $name -}}
{{- end -}}
{{- $_ := set $r "checksum" ($content | sha256sum) -}}
{{- else -}}
{{- if $ml.key -}}
{{- $_ := set $r "key" $ml.key -}}
{{- else if get $live "key" -}}
{{- $_ := set $r "key" (get $live "key" | b64dec) -}}
{{- else -}}
{{- $_ := set $r "key" (randAlphaNum 32) -}}
{{- end -}}
{{- $content := printf "%s\n%s" $r.key $oldKeys -}}
{{- if and (not $ml.key) (not $cluster) -}}
{{- $content = printf "generated without a cluster\n%s" $oldKeys -}}
{{- end -}}
{{- $_ := set $r "checksum" ($content | sha256sum) -}}
{{- end -}}
{{- $_ := set $ml "_resolved" $r -}}
{{- end -}}
{{- end }}

{{/* One field of the resolved memberlist keys: (dict "ctx" $ "field" "key"). */}}
{{- define "ironlb.memberlist.field" -}}
{{- include "ironlb.memberlist.resolve" .ctx -}}
{{- get .ctx.Values.speaker.memberlist._resolved .field -}}
{{- end }}

{{/*
Pod and container security shared by both programs: no privilege escalation,
a read-only root filesystem, the runtime's default seccomp profile, and no
capability beyond those a container adds on purpose.
*/}}
{{- define "ironlb.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
A host:port the speaker listens on, from a bindAddress value and a port:
(dict "address" .Values.speaker.metrics.bindAddress "port" 7472). "" is the
node's IP, which the kubelet puts in HOST_IP (status.hostIP); its family is
unknown here, so it is bracketed, which Go accepts for IPv4 too.
*/}}
{{- define "ironlb.speaker.bindAddress" -}}
{{- if not .address -}}
[$(HOST_IP)]:{{ .port }}
{{- else if contains ":" .address -}}
[{{ .address }}]:{{ .port }}
{{- else -}}
{{ .address }}:{{ .port }}
{{- end -}}
{{- end }}

{{/*
The namespace the speakers read BGP password Secrets from, and the only one
they may read Secrets in. Never the release namespace: that one holds the
webhook's private keys.
*/}}
{{- define "ironlb.bgp.secretsNamespace" -}}
{{- $name := .Values.speaker.bgp.secretsNamespace.name | default (printf "%s-bgp-secrets" .Release.Namespace | trunc 63 | trimSuffix "-") -}}
{{- if eq $name .Release.Namespace -}}
{{- fail (printf "speaker.bgp.secretsNamespace.name must not be the release namespace (%s): the speakers may read every Secret of it, and it holds the webhook's private keys" .Release.Namespace) -}}
{{- end -}}
{{- $name -}}
{{- end }}

{{/*
The host the kubelet probes the speaker on: none (the pod's IP, which is the
node's) unless speaker.healthBindAddress names one address.
*/}}
{{- define "ironlb.speaker.probeHost" -}}
{{- $a := .Values.speaker.healthBindAddress -}}
{{- if not (has $a (list "" "0.0.0.0" "::")) -}}
{{ $a }}
{{- end -}}
{{- end }}
