#!/usr/bin/env bash
# Smoke test of the e2e toolchain, against a cluster from `e2e/cluster.sh up`
# (started and stopped here unless E2E_SMOKE_KEEP_CLUSTER=1 and one is up):
#   1. a 2-replica nginx Deployment becomes Available on the kwok node(s);
#   2. the Istio CRD schema is enforced: a valid networking.istio.io/v1
#      VirtualService is accepted, invalid ones are rejected;
#   3. the Pulumi CLI works offline with a local file:// backend and sees the
#      kubernetes provider plugin;
#   4. a small Pulumi Node.js program (Namespace, Deployment, VirtualService)
#      goes up and is destroyed through the whole toolchain.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$E2E_DIR/env.sh"

PASS=0; FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

STARTED=0
if ! bash "$E2E_DIR/cluster.sh" status 2>/dev/null || [[ "${E2E_SMOKE_KEEP_CLUSTER:-0}" != 1 ]]; then
  bash "$E2E_DIR/cluster.sh" up >/dev/null
  STARTED=1
fi
cleanup() {
  local rc=$?
  [[ -n "${TMP:-}" ]] && rm -rf "$TMP"
  if (( STARTED )); then bash "$E2E_DIR/cluster.sh" down; fi
  exit "$rc"
}
TMP="$(mktemp -d)"
trap cleanup EXIT
eval "$(bash "$E2E_DIR/cluster.sh" env)"
kc() { kubectl "$@"; }  # env.sh put the kubectl matching the server first on PATH

# --- 1. Deployment on a simulated node ------------------------------------------
kc apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: smoke-nginx, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: smoke-nginx}}
  template:
    metadata: {labels: {app: smoke-nginx}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: 80}}
EOF
if kc rollout status deployment/smoke-nginx --timeout=90s; then
  ok "deployment smoke-nginx Available: $(kc get deploy smoke-nginx -o jsonpath='{.status.availableReplicas}/{.spec.replicas}') on $(kc get pods -l app=smoke-nginx -o jsonpath='{.items[*].spec.nodeName}')"
else
  bad "deployment smoke-nginx did not become Available"; kc get pods -o wide || true
fi
kc delete deployment smoke-nginx --wait=false >/dev/null

# --- 2. Istio CRD schema enforcement --------------------------------------------
vs() {  # vs NAME WEIGHT EXTRA_ROUTE_FIELD
  cat <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: $1, namespace: default}
spec:
  hosts: [app.default.svc.cluster.local]
  http:
  - route:
    - destination: {host: app-blue.default.svc.cluster.local}
      weight: $2
$3
    - destination: {host: app-green.default.svc.cluster.local}
      weight: 10
EOF
}
if out="$(vs smoke-valid 90 '' | kc apply -f - 2>&1)"; then
  ok "valid VirtualService accepted: $out"
else
  bad "valid VirtualService rejected: $out"
fi
if out="$(vs smoke-bad-weight '"abc"' '' | kc apply -f - 2>&1)"; then
  bad "VirtualService with weight \"abc\" was accepted: $out"
else
  ok "weight \"abc\" rejected: $(grep -m1 'must be of type' <<<"$out" | sed 's/^[* ]*//')"
fi
if out="$(vs smoke-bad-field 90 '      bogusField: 1' | kc apply -f - 2>&1)"; then
  bad "VirtualService with unknown field was accepted: $out"
else
  ok "unknown field rejected: $(echo "$out" | tail -n 1)"
fi
kc delete virtualservice smoke-valid --ignore-not-found >/dev/null

# --- 3. Pulumi CLI offline ------------------------------------------------------
if v="$(pulumi version 2>&1)" && [[ "$v" == "$PULUMI_VERSION" ]]; then
  ok "pulumi version: $v"
else
  bad "pulumi version printed '$v', expected $PULUMI_VERSION"
fi
if out="$(pulumi login "file://$TMP" 2>&1)"; then ok "pulumi login: $out"; else bad "pulumi login: $out"; fi
plugins="$(pulumi plugin ls 2>&1 || true)"
if grep -Eq "^kubernetes +resource +$PULUMI_K8S_PLUGIN_VERSION " <<<"$plugins"; then
  ok "pulumi plugin ls: $(grep -E '^kubernetes ' <<<"$plugins" | tr -s ' ')"
else
  bad "pulumi plugin ls lacks kubernetes $PULUMI_K8S_PLUGIN_VERSION: $plugins"
fi

# --- 4. A Pulumi Node.js program through the whole toolchain ---------------------
# CLI -> language host -> @pulumi/pulumi + @pulumi/kubernetes from the repo's
# node_modules -> provider plugin -> this cluster; then destroy.
if [[ -d "$E2E_REPO_ROOT/node_modules/@pulumi/kubernetes" ]]; then
  proj="$TMP/proj"; mkdir -p "$proj"
  ln -s "$E2E_REPO_ROOT/node_modules" "$proj/node_modules"
  printf 'name: e2e-smoke\nruntime: nodejs\n' >"$proj/Pulumi.yaml"
  printf '{"name":"e2e-smoke","main":"index.js"}\n' >"$proj/package.json"
  cat >"$proj/index.js" <<'JS'
const k8s = require("@pulumi/kubernetes");
const ns = new k8s.core.v1.Namespace("smoke", { metadata: { name: "pulumi-smoke" } });
const dep = new k8s.apps.v1.Deployment("web", {
  metadata: { namespace: ns.metadata.name },
  spec: { replicas: 2, selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "nginx", image: "nginx:1.27" }] } } },
});
const vs = new k8s.apiextensions.CustomResource("vs", {
  apiVersion: "networking.istio.io/v1", kind: "VirtualService",
  metadata: { namespace: ns.metadata.name },
  spec: { hosts: ["web"], http: [{ route: [
    { destination: { host: "web-blue" }, weight: 90 },
    { destination: { host: "web-green" }, weight: 10 }] }] },
});
exports.ready = dep.status.readyReplicas;
exports.vs = vs.metadata.name;
JS
  if (cd "$proj" && pulumi stack init smoke >/dev/null 2>&1 &&
      pulumi up --yes --skip-preview >"$TMP/up.log" 2>&1) &&
     [[ "$(cd "$proj" && pulumi stack output ready 2>/dev/null)" == 2 ]]; then
    ok "pulumi up: $(grep -E '^ +\+ [0-9]+ created' "$TMP/up.log" | tr -s ' '), deployment ready=2, VirtualService $(cd "$proj" && pulumi stack output vs)"
  else
    bad "pulumi up failed:"; tail -n 30 "$TMP/up.log" || true
  fi
  if (cd "$proj" && pulumi destroy --yes --skip-preview >"$TMP/destroy.log" 2>&1); then
    ok "pulumi destroy: $(grep -E '^ +- [0-9]+ deleted' "$TMP/destroy.log" | tr -s ' ')"
  else
    bad "pulumi destroy failed:"; tail -n 30 "$TMP/destroy.log" || true
  fi
else
  echo "skip - pulumi program: no node_modules in $E2E_REPO_ROOT (run npm ci)"
fi
pulumi logout >/dev/null 2>&1 || true

echo "$PASS passed, $FAIL failed"
(( FAIL == 0 ))
