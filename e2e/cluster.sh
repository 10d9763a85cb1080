#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 with kwok-simulated nodes and
# the Istio CRDs applied, for the end-to-end test. Uses only the binaries that
# e2e/build-tools.sh built (kwokctl's binary runtime is pointed at local files,
# so it downloads nothing).
#
#   e2e/cluster.sh up      start etcd, kube-apiserver, kube-controller-manager,
#                          kube-scheduler and kwok; create kwok node(s); apply and
#                          wait for the Istio CRDs. Replaces a running one.
#   e2e/cluster.sh down    stop everything and remove the cluster's files
#                          (component logs are first copied to the log dir)
#   e2e/cluster.sh env     print `export KUBECONFIG=...` etc. (eval-able)
#   e2e/cluster.sh status  exit 0 if the cluster answers /readyz
#
# Knobs: E2E_CLUSTER_NAME (bluegreen-e2e), E2E_NODES (1), ISTIO_VERSION (1.31.4),
#        E2E_POD_READY_DELAY_MS (3000; 0 for benchmarks), E2E_NEVER_READY_IMAGE (see lib.sh),
#        E2E_RUN_DIR ($E2E_CACHE/run), E2E_LOG_DIR ($E2E_CACHE/logs/<name>),
#        E2E_UP_TIMEOUT (180s), E2E_KEEP_ON_FAILURE (0: a failed `up` tears down).
set -Eeuo pipefail
exec 3>&2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME="${E2E_CLUSTER_NAME:-bluegreen-e2e}"
RUN_DIR="${E2E_RUN_DIR:-$E2E_CACHE/run}"
export KWOK_WORKDIR="$RUN_DIR/kwok"
CLUSTER_DIR="$KWOK_WORKDIR/clusters/$NAME"
KUBECONFIG_PATH="$RUN_DIR/$NAME.kubeconfig"
LOG_DIR="${E2E_LOG_DIR:-$E2E_CACHE/logs/$NAME}"
NODES="${E2E_NODES:-1}"
UP_TIMEOUT="${E2E_UP_TIMEOUT:-180s}"
# kubectl matching the server (built by build-tools.sh), else the one on PATH.
if [[ -z "${KUBECTL:-}" ]]; then
  if [[ -x "$E2E_KUBECTL" ]]; then KUBECTL="$E2E_KUBECTL"; else KUBECTL="$(command -v kubectl || echo /usr/bin/kubectl)"; fi
fi

log() { printf '[cluster] %s\n' "$*" >&2; }
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kwokctl() { "$E2E_KWOKCTL" --name "$NAME" "$@"; }

save_logs() {
  mkdir -p "$LOG_DIR"
  if [[ -d "$CLUSTER_DIR/logs" ]]; then cp -f "$CLUSTER_DIR"/logs/* "$LOG_DIR/" 2>/dev/null || true; fi
  if [[ -f "$CLUSTER_DIR/kwok.yaml" ]]; then cp -f "$CLUSTER_DIR/kwok.yaml" "$LOG_DIR/kwokctl-cluster.yaml" 2>/dev/null || true; fi
}

alive() {  # alive PID: running and not a zombie
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z ]]
}

cmd_down() {
  if [[ -d "$CLUSTER_DIR" ]]; then
    local f pid i pids=()
    for f in "$CLUSTER_DIR"/pids/*.pid; do
      [[ -f "$f" ]] && pid="$(cat "$f")" && [[ "$pid" =~ ^[0-9]+$ ]] && pids+=("$pid")
    done
    save_logs
    log "stopping cluster $NAME (pids ${pids[*]:-none})"
    kwokctl delete cluster >>"$LOG_DIR/kwokctl.log" 2>&1 || log "kwokctl delete failed; killing the components"
    for pid in "${pids[@]}"; do
      for i in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
      if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; sleep 1; fi
      if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; log "killed pid $pid"; fi
    done
    rm -rf "$CLUSTER_DIR"
  fi
  rm -f "$KUBECONFIG_PATH" "$RUN_DIR/$NAME.kwokctl.yaml"
  log "down; logs kept in $LOG_DIR"
}

on_up_failure() {
  local rc=$?
  trap - ERR
  exec >&3 2>&3  # the failing command may have had its output redirected to a log
  save_logs
  local f
  for f in "$LOG_DIR"/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- tail $f" >&2; tail -n 15 "$f" >&2
  done
  if [[ "${E2E_KEEP_ON_FAILURE:-0}" != 1 ]]; then cmd_down || true; fi
  log "FAILED (exit $rc). Logs: $LOG_DIR"
  exit "$rc"
}

kwok_node() {  # kwok_node NAME -> a Node that kwok's default stages keep Ready
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $1
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/zone: e2e-a
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 100Gi}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake
    kubeProxyVersion: fake
EOF
}

# kwok_stages: kwok's own default stages (a kwokctl config that names any Stage replaces all of
# them), with pod-ready changed: pods turn Ready E2E_POD_READY_DELAY_MS after they are scheduled,
# and never when their first container runs E2E_NEVER_READY_IMAGE.
kwok_stages() {
  local f
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$(e2e_kwok_stage "$f")"
  done
  echo "---"
  sed -e "/^    matchExpressions:\$/a\\
    - key: '.spec.containers.[0].image'\\
      operator: 'NotIn'\\
      values:\\
      - '$E2E_NEVER_READY_IMAGE'" \
    -e "/^  next:\$/i\\
  delay:\\
    durationMilliseconds: $E2E_POD_READY_DELAY_MS" \
    "$(e2e_kwok_stage pod/fast/pod-ready.yaml)"
}

cmd_up() {
  local b
  for b in "$E2E_ETCD" "$E2E_KUBE_APISERVER" "$E2E_KUBE_CONTROLLER_MANAGER" "$E2E_KUBE_SCHEDULER" \
    "$E2E_KWOK" "$E2E_KWOKCTL"; do
    [[ -x "$b" ]] || { log "missing $b: run e2e/build-tools.sh first"; exit 1; }
  done
  local crds; crds="$(e2e_istio_crds)"

  [[ -d "$CLUSTER_DIR" ]] && { log "cluster $NAME exists: replacing it"; cmd_down; }
  rm -rf "$LOG_DIR"; mkdir -p "$LOG_DIR" "$RUN_DIR"
  trap on_up_failure ERR

  # Everything binds to 127.0.0.1; ports are left at 0 so kwokctl picks free
  # ones at run time; every binary is a local file (no download).
  local cfg="$RUN_DIR/$NAME.kwokctl.yaml"
  cat >"$cfg" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: ${K8S_VERSION#v}
  securePort: true
  kubeAuthorization: true   # RBAC, as on GKE
  kubeAdmission: true       # default admission plugins (ServiceAccount, webhooks, ...)
  quietPull: true
  etcdBinary: $E2E_ETCD
  kubeApiserverBinary: $E2E_KUBE_APISERVER
  kubeControllerManagerBinary: $E2E_KUBE_CONTROLLER_MANAGER
  kubeSchedulerBinary: $E2E_KUBE_SCHEDULER
  kwokControllerBinary: $E2E_KWOK
  kubectlBinary: $KUBECTL
  etcdBinaryPrefix: file:///nonexistent-no-download
  kubeBinaryPrefix: file:///nonexistent-no-download
  kwokBinaryPrefix: file:///nonexistent-no-download
EOF
  kwok_stages >>"$cfg"
  local start; start=$(date +%s)
  log "creating cluster $NAME (kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  kwokctl --config "$cfg" create cluster --kubeconfig "$KUBECONFIG_PATH" \
    --timeout "$UP_TIMEOUT" --wait "$UP_TIMEOUT" >"$LOG_DIR/kwokctl.log" 2>&1

  log "waiting for /readyz"
  local i
  for i in $(seq 1 120); do
    kc get --raw /readyz >/dev/null 2>&1 && break
    sleep 0.5
  done
  kc get --raw /readyz >/dev/null

  log "creating $NODES kwok node(s)"
  for i in $(seq 0 $((NODES - 1))); do kwok_node "kwok-node-$i"; echo "---"; done | kc apply -f - >/dev/null
  kc wait --for=condition=Ready node -l type=kwok --timeout=60s >/dev/null

  log "applying Istio $ISTIO_VERSION CRDs from $crds"
  kc apply --server-side --force-conflicts -f "$crds" >/dev/null
  kc wait --for=condition=Established --timeout=60s -f "$crds" >/dev/null
  # The namespace of the mesh that `installIstio: false` stacks use: its ingress gateway (and the
  # gateway-level preview AuthorizationPolicy) live there.
  kc create namespace istio-system >/dev/null

  # The default ServiceAccount must exist before pods can be created.
  for i in $(seq 1 60); do kc -n default get serviceaccount default >/dev/null 2>&1 && break; sleep 0.5; done
  kc -n default get serviceaccount default >/dev/null

  trap - ERR
  log "up in $(( $(date +%s) - start ))s: $(kc get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p') at $(kc config view -o jsonpath='{.clusters[0].cluster.server}')"
  cmd_env
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
  echo "export E2E_NEVER_READY_IMAGE=$E2E_NEVER_READY_IMAGE"
  echo "export E2E_CLUSTER_NAME=$NAME"
  echo "export E2E_LOG_DIR=$LOG_DIR"
}

cmd_status() {
  [[ -f "$KUBECONFIG_PATH" ]] && kc get --raw /readyz >/dev/null 2>&1
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  kubeconfig-path) echo "$KUBECONFIG_PATH" ;;
  *) echo "usage: $0 up|down|env|status|kubeconfig-path" >&2; exit 2 ;;
esac
