# shellcheck shell=bash
# Shared settings for e2e/build-tools.sh, e2e/cluster.sh and e2e/env.sh.
# Sourced, never executed. Every version comes from a file in the repo:
#   e2e/tools/*/go.mod        Go-built tools (Kubernetes, etcd, kwok, Pulumi)
#   package-lock.json         @pulumi/pulumi and @pulumi/kubernetes (npm SDKs)
#   ISTIO_VERSION (env)       Istio CRDs, default below

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_REPO_ROOT="$(cd "$E2E_DIR/.." && pwd)"

# Cache outside the work tree so a fresh clone on the same machine reuses it.
E2E_CACHE="${E2E_CACHE:-${HOME}/.cache/bluegreen-e2e}"
E2E_BIN="$E2E_CACHE/bin"
E2E_PATH_DIR="$E2E_CACHE/path"          # symlinks with plain names, put on PATH by env.sh
PULUMI_E2E_HOME="$E2E_CACHE/pulumi-home" # PULUMI_HOME used by the e2e tests

ISTIO_VERSION="${ISTIO_VERSION:-1.31.4}"

# kwok pod stages (see cluster.sh): a pod turns Ready this long after it is scheduled, so the order
# of a rollout is observable (server timestamps have 1 s resolution); pods whose first container
# runs this image never turn Ready (a rollout that fails).
E2E_POD_READY_DELAY_MS="${E2E_POD_READY_DELAY_MS:-3000}"
E2E_NEVER_READY_IMAGE="${E2E_NEVER_READY_IMAGE:-nginx:0.0.0-never-ready}"

# e2e_modver DIR MODULE -> version that e2e/tools/DIR/go.mod requires for MODULE.
e2e_modver() {
  local f="$E2E_DIR/tools/$1/go.mod" v
  v="$(awk -v m="$2" '(($1 == m && $2 != "=>") || ($1 == "require" && $2 == m)) {
          for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$f")"
  [[ -n "$v" ]] || { echo "e2e: cannot read version of $2 from $f" >&2; return 1; }
  printf '%s\n' "$v"
}

# e2e_npmver PACKAGE -> version of node_modules/PACKAGE in package-lock.json.
e2e_npmver() {
  node -e '
    const lock = require(process.argv[1]);
    const p = (lock.packages || {})["node_modules/" + process.argv[2]];
    if (!p || !p.version) { console.error("not in package-lock.json: " + process.argv[2]); process.exit(1); }
    console.log(p.version);' "$E2E_REPO_ROOT/package-lock.json" "$1"
}

K8S_VERSION="$(e2e_modver kubernetes k8s.io/kubernetes)"               # v1.35.4
ETCD_VERSION="$(e2e_modver etcd go.etcd.io/etcd/server/v3)"            # v3.6.16
KWOK_VERSION="$(e2e_modver kwok sigs.k8s.io/kwok)"                     # v0.8.0
PULUMI_VERSION="$(e2e_modver pulumi github.com/pulumi/pulumi/pkg/v3)"  # v3.248.0
PULUMI_K8S_MODVERSION="$(e2e_modver pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)"
PULUMI_K8S_PLUGIN_VERSION="${PULUMI_K8S_MODVERSION#v}"  # semver the plugin is installed under
# Upstream sources the Go proxy does not serve at the CLI's version (the Node.js language host),
# kept in the shared folder beside the repository with a go.mod that builds from the proxy.
E2E_SHARED_UPSTREAM="${E2E_SHARED_UPSTREAM:-$(cd "$E2E_REPO_ROOT/.." && pwd)/shared/upstream}"
E2E_LANG_NODEJS_SRC="$E2E_SHARED_UPSTREAM/pulumi-language-nodejs-$PULUMI_VERSION"
E2E_NODEJS_DIST_SRC="$E2E_SHARED_UPSTREAM/pulumi-nodejs-dist-$PULUMI_VERSION"

# Final binary locations (name-version, rebuilt only when missing).
E2E_KUBE_APISERVER="$E2E_BIN/kube-apiserver-$K8S_VERSION"
E2E_KUBE_CONTROLLER_MANAGER="$E2E_BIN/kube-controller-manager-$K8S_VERSION"
E2E_KUBE_SCHEDULER="$E2E_BIN/kube-scheduler-$K8S_VERSION"
E2E_KUBECTL="$E2E_BIN/kubectl-$K8S_VERSION"  # /usr/bin/kubectl (gcloud's) stops at 1.33
E2E_ETCD="$E2E_BIN/etcd-$ETCD_VERSION"
E2E_KWOK="$E2E_BIN/kwok-$KWOK_VERSION"
E2E_KWOKCTL="$E2E_BIN/kwokctl-$KWOK_VERSION"
# The CLI looks for its bundled language host next to its own (resolved)
# executable, so both live in one versioned directory.
E2E_PULUMI_DIR="$E2E_BIN/pulumi-$PULUMI_VERSION"
E2E_PULUMI="$E2E_PULUMI_DIR/pulumi"
E2E_PULUMI_LANG_NODEJS="$E2E_BIN/pulumi-language-nodejs-$PULUMI_VERSION"
E2E_PULUMI_K8S="$E2E_BIN/pulumi-resource-kubernetes-$PULUMI_K8S_MODVERSION"
# The workflow linter that test/workflows.test.ts runs when it is on PATH or in the cache.
ACTIONLINT_VERSION="v1.7.12"
E2E_ACTIONLINT="$E2E_BIN/actionlint-$ACTIONLINT_VERSION"
# Prometheus and promtool: Debian bookworm's `prometheus` package, unpacked (never installed), for
# the health gate's real PromQL engine (the e2e's scraper, the promtool rule tests). Building them
# from the Go proxy downloads ~1.8 GB and takes over 15 min on 2 cores.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-2.42.0}"
E2E_PROMETHEUS_DIR="$E2E_BIN/prometheus-v$PROMETHEUS_VERSION"
E2E_PROMETHEUS="$E2E_PROMETHEUS_DIR/prometheus"
E2E_PROMTOOL="$E2E_PROMETHEUS_DIR/promtool"

# Go build settings (exported by build-tools.sh only): at most 2 parallel compile jobs.
E2E_GO_P="${E2E_GO_P:-2}"

# e2e_kwok_stage FILE -> path of a stage definition shipped in the kwok module (kustomize/stage/FILE).
e2e_kwok_stage() {
  local dir
  dir="$(cd "$E2E_DIR/tools/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -f "$dir/kustomize/stage/$1" ]] || { echo "e2e: kwok $KWOK_VERSION has no kustomize/stage/$1" >&2; return 1; }
  printf '%s\n' "$dir/kustomize/stage/$1"
}

# Where the Istio CRDs come from: the published Go module istio.io/api.
e2e_istio_crds() {
  local dir
  dir="$(cd "$E2E_DIR/tools" && go mod download -json "istio.io/api@v${ISTIO_VERSION#v}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -f "$dir/kubernetes/customresourcedefinitions.gen.yaml" ]] || {
    echo "e2e: istio.io/api@v${ISTIO_VERSION#v} has no kubernetes/customresourcedefinitions.gen.yaml" >&2
    return 1
  }
  printf '%s\n' "$dir/kubernetes/customresourcedefinitions.gen.yaml"
}
