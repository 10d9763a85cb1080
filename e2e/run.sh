#!/usr/bin/env bash
# npm run e2e: the users' workflow on the real Pulumi engine against a real API server.
#   default:          build the toolchain from Go modules (cached), start a control plane on
#                     127.0.0.1 with kwok nodes and Istio's CRDs, run the scenario, tear down.
#   E2E_EXISTING=1:   use the `pulumi` on PATH and the cluster in $KUBECONFIG (kind on a laptop,
#                     say; it needs Istio's CRDs), and run only the scenario.
#   e2e/run.sh <file.ts>...: run those scripts instead, in order, with the same toolchain and
#                     cluster (npm run bench:e2e runs e2e/bench.ts and e2e/bench-gate.ts).
set -euo pipefail
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$E2E_DIR/.."

# The scripts to run: the ones given, or the users' workflow, the production traps (Pod Security,
# preview policies, clusterIdentifier, the first preview with Istio, the policy pack, token
# aliases), a second program consuming the packed package, the README's first steps on the stack
# files, the PR preview's least privilege with the deploy's drift warning, the health gate against a
# real Prometheus, and a revision-based Istio upgrade with installIstio (last: its base chart takes
# over the cluster's Istio CRDs). All of them run; any failure fails the whole.
if [[ $# -gt 0 ]]; then
  SCRIPTS=()
  for script in "$@"; do SCRIPTS+=("$(realpath "$script")"); done
else
  SCRIPTS=("$E2E_DIR/scenario.ts" "$E2E_DIR/production.ts" "$E2E_DIR/consumer.ts" "$E2E_DIR/stack-files.ts" "$E2E_DIR/pr-preview.ts" "$E2E_DIR/health-gate.ts" "$E2E_DIR/istio-upgrade.ts")
fi
run_scripts() {
  local script rc=0
  for script in "${SCRIPTS[@]}"; do node -r ts-node/register/transpile-only "$script" || rc=1; done
  return "$rc"
}

if [[ "${E2E_EXISTING:-0}" == 1 ]]; then
  command -v pulumi >/dev/null || { echo "E2E_EXISTING=1 needs pulumi on PATH" >&2; exit 2; }
  [[ -n "${KUBECONFIG:-}" ]] || { echo "E2E_EXISTING=1 needs KUBECONFIG" >&2; exit 2; }
  run_scripts
  exit
fi

start=$(date +%s)
bash "$E2E_DIR/build-tools.sh"
echo "[e2e] toolchain ready in $(( $(date +%s) - start ))s"

# A cluster of our own, whatever the caller's environment says.
export E2E_CLUSTER_NAME="${E2E_CLUSTER_NAME:-bluegreen-e2e-$$}"
source "$E2E_DIR/env.sh"
teardown() {
  local rc=$?
  bash "$E2E_DIR/cluster.sh" down || true
  exit "$rc"
}
trap teardown EXIT
bash "$E2E_DIR/cluster.sh" up
eval "$(bash "$E2E_DIR/cluster.sh" env)"
run_scripts
