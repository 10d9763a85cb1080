#!/usr/bin/env bash
# Builds (once) every binary the e2e test needs, from the Go module proxy, into
# ${E2E_CACHE:-$HOME/.cache/bluegreen-e2e}/bin, outside the work tree, so fresh
# clones on the same machine reuse them. A binary is rebuilt only when missing;
# delete it (or the whole cache dir) to force a rebuild. Idempotent.
#
# Usage: e2e/build-tools.sh [--check]   (--check: only report what is missing)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Small static binaries; never fetch another Go toolchain.
export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1

mkdir -p "$E2E_BIN" "$E2E_PATH_DIR"
TOTAL_START=$(date +%s.%N)
MISSING=0
declare -a FAILED=()

log() { printf '[build-tools] %s\n' "$*" >&2; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }

# --- version agreement with package-lock.json --------------------------------
npm_pulumi="$(e2e_npmver @pulumi/pulumi)"
if [[ "v$npm_pulumi" != "$PULUMI_VERSION" ]]; then
  log "ERROR: @pulumi/pulumi in package-lock.json is $npm_pulumi but e2e/tools/pulumi/go.mod pins $PULUMI_VERSION"
  log "       edit e2e/tools/pulumi/go.mod (require + replace) to v$npm_pulumi and run 'go mod tidy' there"
  exit 1
fi
npm_k8s="$(e2e_npmver @pulumi/kubernetes)"
log "versions: kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, pulumi $PULUMI_VERSION (= @pulumi/pulumi $npm_pulumi)"
log "          pulumi-resource-kubernetes $PULUMI_K8S_MODVERSION (@pulumi/kubernetes is $npm_k8s: v$npm_k8s is not served by the Go proxy)"
log "          pulumi-language-nodejs $PULUMI_VERSION from $E2E_LANG_NODEJS_SRC (its module is not served by the Go proxy)"
log "cache: $E2E_CACHE"

# step NAME OUTPUT CMD... : run CMD (which must create OUTPUT) unless OUTPUT exists.
step() {
  local name="$1" out="$2"; shift 2
  local start; start=$(date +%s.%N)
  if [[ -x "$out" ]]; then
    log "$name: cached ($(elapsed "$start")) $out"
    return 0
  fi
  if (( CHECK_ONLY )); then
    log "$name: MISSING $out"; MISSING=$((MISSING + 1)); return 0
  fi
  log "$name: building -> $out"
  if "$@"; then
    log "$name: built in $(elapsed "$start")"
  else
    log "$name: FAILED after $(elapsed "$start")"
    FAILED+=("$name")
  fi
}

# gobuild MODDIR OUT PKG [LDFLAGS]: build PKG in wrapper module e2e/tools/MODDIR.
gobuild() {
  local moddir="$1" out="$2" pkg="$3" ldflags="${4:-}"
  mkdir -p "$(dirname "$out")"
  if (cd "$E2E_DIR/tools/$moddir" &&
    go build -p "$E2E_GO_P" -mod=readonly -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp.$$" "$pkg"); then
    mv -f "$out.tmp.$$" "$out"
  else
    rm -f "$out.tmp.$$"; return 1
  fi
}

# --- Kubernetes control plane -------------------------------------------------
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor
  -X k8s.io/component-base/version.gitTreeState=clean
  -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION
  -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
K8S_LDFLAGS="$(echo $K8S_LDFLAGS)"
step "kube-apiserver $K8S_VERSION" "$E2E_KUBE_APISERVER" \
  gobuild kubernetes "$E2E_KUBE_APISERVER" k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS"
step "kube-controller-manager $K8S_VERSION" "$E2E_KUBE_CONTROLLER_MANAGER" \
  gobuild kubernetes "$E2E_KUBE_CONTROLLER_MANAGER" k8s.io/kubernetes/cmd/kube-controller-manager "$K8S_LDFLAGS"
step "kube-scheduler $K8S_VERSION" "$E2E_KUBE_SCHEDULER" \
  gobuild kubernetes "$E2E_KUBE_SCHEDULER" k8s.io/kubernetes/cmd/kube-scheduler "$K8S_LDFLAGS"
step "kubectl $K8S_VERSION" "$E2E_KUBECTL" \
  gobuild kubernetes "$E2E_KUBECTL" k8s.io/kubernetes/cmd/kubectl "$K8S_LDFLAGS"

# --- etcd (Debian bookworm's etcd-server is 3.4.23: too old for Kubernetes 1.35) ---
step "etcd $ETCD_VERSION" "$E2E_ETCD" \
  gobuild etcd "$E2E_ETCD" go.etcd.io/etcd/server/v3 \
  "-X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"

# --- kwok ----------------------------------------------------------------------
KWOK_LDFLAGS="-X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
step "kwok $KWOK_VERSION" "$E2E_KWOK" gobuild kwok "$E2E_KWOK" sigs.k8s.io/kwok/cmd/kwok "$KWOK_LDFLAGS"
step "kwokctl $KWOK_VERSION" "$E2E_KWOKCTL" gobuild kwok "$E2E_KWOKCTL" sigs.k8s.io/kwok/cmd/kwokctl "$KWOK_LDFLAGS"

# --- Pulumi CLI + Node.js language host ---------------------------------------
step "pulumi $PULUMI_VERSION" "$E2E_PULUMI" \
  gobuild pulumi "$E2E_PULUMI" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"

# scratch_build DIR OUT LDFLAGS: build the main package of the scratch module in DIR into OUT
# (atomically), then remove DIR.
scratch_build() {
  local dir="$1" out="$2" ldflags="$3"
  (cd "$dir" && go build -p "$E2E_GO_P" -mod=readonly -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp.$$" .) ||
    { rm -f "$out.tmp.$$"; return 1; }
  mv -f "$out.tmp.$$" "$out"
  rm -rf "$dir"
}

# The language host's module is not on the proxy: build the upstream source kept in the shared
# folder (its go.mod resolves everything else from the proxy) in a scratch copy, since that
# folder is read-only and shared by every checkout.
build_lang_nodejs() {
  local scratch="$E2E_CACHE/src/pulumi-language-nodejs-$PULUMI_VERSION"
  [[ -f "$E2E_LANG_NODEJS_SRC/main.go" ]] || {
    log "no language host source at $E2E_LANG_NODEJS_SRC (set E2E_SHARED_UPSTREAM)"; return 1; }
  rm -rf "$scratch"; mkdir -p "$scratch"
  cp "$E2E_LANG_NODEJS_SRC"/*.go "$E2E_LANG_NODEJS_SRC"/go.mod "$E2E_LANG_NODEJS_SRC"/go.sum "$scratch/"
  chmod -R u+w "$scratch"
  scratch_build "$scratch" "$E2E_PULUMI_LANG_NODEJS" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
}
step "pulumi-language-nodejs $PULUMI_VERSION" "$E2E_PULUMI_LANG_NODEJS" build_lang_nodejs
# The CLI finds "bundled" language hosts next to its own executable.
if [[ -x "$E2E_PULUMI_LANG_NODEJS" && -d "$E2E_PULUMI_DIR" ]]; then
  ln -sfn "$E2E_PULUMI_LANG_NODEJS" "$E2E_PULUMI_DIR/pulumi-language-nodejs"
fi
# The official CLI archive ships the dynamic-provider plugin script next to `pulumi`.
if [[ -d "$E2E_PULUMI_DIR" && -f "$E2E_NODEJS_DIST_SRC/pulumi-resource-pulumi-nodejs" ]]; then
  install -m 0755 "$E2E_NODEJS_DIST_SRC/pulumi-resource-pulumi-nodejs" "$E2E_PULUMI_DIR/"
fi

# --- Kubernetes resource provider plugin --------------------------------------
# Its cmd package //go:embeds schema-embed.json, generated by `go generate`
# (generate.go) and absent from the module zip: build it in a scratch copy.
build_pulumi_k8s() {
  local moddir src scratch
  # `go list -m -f {{.Dir}}` prints nothing until the module is in the cache: download it first,
  # and refuse an empty answer rather than copying from /cmd/....
  moddir="$(cd "$E2E_DIR/tools/pulumi-kubernetes" && go mod download -json \
    "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_K8S_MODVERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$moddir" && -d "$moddir/cmd/pulumi-resource-kubernetes" ]] || {
    log "pulumi-kubernetes provider module $PULUMI_K8S_MODVERSION: not downloaded"; return 1; }
  src="$moddir/cmd/pulumi-resource-kubernetes"
  scratch="$E2E_CACHE/src/pulumi-resource-kubernetes-$PULUMI_K8S_MODVERSION"
  rm -rf "$scratch"; mkdir -p "$scratch"
  cp "$E2E_DIR/tools/pulumi-kubernetes/go.mod" "$E2E_DIR/tools/pulumi-kubernetes/go.sum" "$scratch/"
  cp "$src"/*.go "$src"/*.json "$scratch/"
  chmod -R u+w "$scratch"
  (cd "$scratch" && VERSION="$PULUMI_K8S_PLUGIN_VERSION" go run -mod=readonly ./generate.go) || return 1
  scratch_build "$scratch" "$E2E_PULUMI_K8S" "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_K8S_PLUGIN_VERSION"
}
step "pulumi-resource-kubernetes $PULUMI_K8S_MODVERSION" "$E2E_PULUMI_K8S" build_pulumi_k8s

# Install it into the e2e PULUMI_HOME plugin cache under its real version.
if (( ! CHECK_ONLY )) && [[ -x "$E2E_PULUMI" && -x "$E2E_PULUMI_K8S" ]]; then
  plugin_dir="$PULUMI_E2E_HOME/plugins/resource-kubernetes-v$PULUMI_K8S_PLUGIN_VERSION"
  start=$(date +%s.%N)
  if [[ -x "$plugin_dir/pulumi-resource-kubernetes" ]]; then
    log "plugin kubernetes $PULUMI_K8S_PLUGIN_VERSION: cached ($(elapsed "$start")) $plugin_dir"
  else
    PULUMI_HOME="$PULUMI_E2E_HOME" PULUMI_SKIP_UPDATE_CHECK=true \
      "$E2E_PULUMI" plugin install resource kubernetes "$PULUMI_K8S_PLUGIN_VERSION" --file "$E2E_PULUMI_K8S" >&2 &&
      log "plugin kubernetes $PULUMI_K8S_PLUGIN_VERSION: installed in $(elapsed "$start")" ||
      { log "plugin kubernetes: install FAILED"; FAILED+=("plugin install"); }
  fi
fi

# --- actionlint (lints .github/workflows; test/workflows.test.ts runs it) ---------
# A plain module install (it has no replace directives), into a scratch GOBIN, then moved.
build_actionlint() {
  local gobin="$E2E_CACHE/src/actionlint-$ACTIONLINT_VERSION"
  rm -rf "$gobin"; mkdir -p "$gobin"
  GOBIN="$gobin" go install -p "$E2E_GO_P" -trimpath -ldflags="-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" || return 1
  mv -f "$gobin/actionlint" "$E2E_ACTIONLINT"
  rm -rf "$gobin"
}
step "actionlint $ACTIONLINT_VERSION" "$E2E_ACTIONLINT" build_actionlint

# --- prometheus + promtool (Debian's package, unpacked into the cache) ------------
# `apt-get download` needs no root install and fetches only that package (its dependencies are
# for the packaged service: the two binaries are static Go programs). The package lists are
# refreshed only when the download fails with the ones at hand.
build_prometheus() {
  local scratch="$E2E_CACHE/src/prometheus-deb" deb got
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    log "prometheus: needs apt-get and dpkg-deb (Debian's prometheus package); or put prometheus and promtool $PROMETHEUS_VERSION in $E2E_PROMETHEUS_DIR"
    return 1; }
  rm -rf "$scratch"; mkdir -p "$scratch"
  (cd "$scratch" && { apt-get download -q prometheus || { apt-get update -q && apt-get download -q prometheus; }; }) >&2 || return 1
  deb="$(ls "$scratch"/prometheus_*.deb)" || return 1
  got="$(dpkg-deb -f "$deb" Version)"
  if [[ "$got" != "$PROMETHEUS_VERSION"+* && "$got" != "$PROMETHEUS_VERSION"-* ]]; then
    log "prometheus: apt offers $got, not $PROMETHEUS_VERSION (Debian bookworm's); set PROMETHEUS_VERSION=${got%%[+-]*} to use it"
    return 1
  fi
  dpkg-deb -x "$deb" "$scratch/x" || return 1
  mkdir -p "$E2E_PROMETHEUS_DIR"
  for tool in prometheus promtool; do
    install -m 0755 "$scratch/x/usr/bin/$tool" "$E2E_PROMETHEUS_DIR/$tool.tmp.$$" && mv -f "$E2E_PROMETHEUS_DIR/$tool.tmp.$$" "$E2E_PROMETHEUS_DIR/$tool" || return 1
  done
  log "prometheus: unpacked from $(basename "$deb")"
  rm -rf "$scratch"
}
step "prometheus $PROMETHEUS_VERSION" "$E2E_PROMETHEUS" build_prometheus
step "promtool $PROMETHEUS_VERSION" "$E2E_PROMTOOL" build_prometheus

# --- Istio CRDs (from the module cache; nothing is copied into the repo) -------
if (( ! CHECK_ONLY )); then
  start=$(date +%s.%N)
  if crds="$(e2e_istio_crds)"; then
    log "istio CRDs $ISTIO_VERSION: $(grep -c '^kind: CustomResourceDefinition' "$crds") CRDs ($(elapsed "$start")) $crds"
  else
    FAILED+=("istio CRDs $ISTIO_VERSION")
  fi
fi

# --- plain-named symlinks for PATH (see env.sh) --------------------------------
link() { [[ -x "$2" ]] && ln -sfn "$2" "$E2E_PATH_DIR/$1" || true; }
link kube-apiserver "$E2E_KUBE_APISERVER"
link kube-controller-manager "$E2E_KUBE_CONTROLLER_MANAGER"
link kube-scheduler "$E2E_KUBE_SCHEDULER"
link kubectl "$E2E_KUBECTL"
link etcd "$E2E_ETCD"
link kwok "$E2E_KWOK"
link kwokctl "$E2E_KWOKCTL"
link pulumi "$E2E_PULUMI"
link actionlint "$E2E_ACTIONLINT"
link prometheus "$E2E_PROMETHEUS"
link promtool "$E2E_PROMTOOL"
# Not on PATH by default: pulumi-resource-kubernetes (see env.sh, E2E_AMBIENT_K8S_PROVIDER)
# and pulumi-language-nodejs (found next to the pulumi binary).

log "total: $(elapsed "$TOTAL_START")"
if (( ${#FAILED[@]} )); then
  log "FAILED: ${FAILED[*]}"; exit 1
fi
if (( CHECK_ONLY && MISSING )); then exit 1; fi
