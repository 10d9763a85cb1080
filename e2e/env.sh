# shellcheck shell=bash
# Source me:  source e2e/env.sh   (after e2e/build-tools.sh)
# Puts the locally built e2e tools on PATH and makes the Pulumi CLI work
# offline with a local (file://) backend. Exports KUBECONFIG when a cluster
# from e2e/cluster.sh is up.
#
# Knobs (set before sourcing):
#   E2E_CACHE                 cache dir (default ~/.cache/bluegreen-e2e)
#   E2E_AMBIENT_K8S_PROVIDER  1 (default): also put pulumi-resource-kubernetes on
#                             PATH. The Pulumi engine then uses it for ANY requested
#                             kubernetes provider version (an "ambient" plugin),
#                             which is how the @pulumi/kubernetes 4.34.2 SDK can run
#                             against the provider built here, whose real version is
#                             $PULUMI_K8S_MODVERSION (4.34.2 is not on the Go proxy).
#                             0: only the plugin cache is used; 4.34.2 is then missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export E2E_CACHE PULUMI_VERSION K8S_VERSION ETCD_VERSION KWOK_VERSION ISTIO_VERSION \
  PULUMI_K8S_MODVERSION PULUMI_K8S_PLUGIN_VERSION
case ":$PATH:" in *":$E2E_PATH_DIR:"*) ;; *) export PATH="$E2E_PATH_DIR:$PATH" ;; esac

if [[ "${E2E_AMBIENT_K8S_PROVIDER:-1}" == 1 && -x "$E2E_PULUMI_K8S" ]]; then
  ln -sfn "$E2E_PULUMI_K8S" "$E2E_PATH_DIR/pulumi-resource-kubernetes"
else
  rm -f "$E2E_PATH_DIR/pulumi-resource-kubernetes"
fi

export PULUMI_HOME="$PULUMI_E2E_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true                   # no version check against the service
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true # never download a missing plugin
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=false   # CLI == SDK version, keep the check
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-e2e}"
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PULUMI_SKIP_CONFIRMATIONS=true
# Local backend: set PULUMI_BACKEND_URL=file://<dir> yourself, or `pulumi login file://<dir>`.

_e2e_kubeconfig="$(bash "$E2E_DIR/cluster.sh" kubeconfig-path 2>/dev/null || true)"
if [[ -n "$_e2e_kubeconfig" && -f "$_e2e_kubeconfig" ]]; then
  export KUBECONFIG="$_e2e_kubeconfig"
fi
unset _e2e_kubeconfig
