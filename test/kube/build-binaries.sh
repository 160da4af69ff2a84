#!/usr/bin/env bash
# Builds the binaries the real-API-server suites need (etcd, kube-apiserver,
# kube-controller-manager, kwok)
# from the Go module proxy into a cache dir outside the repository. Idempotent:
# a second run only checks the cached binaries.
#
#   bash test/kube/build-binaries.sh        # prints the bin dir on its last line
#
# Measured on 2 shared cores: 7.5-12 minutes cold (fresh Go caches), well under a second
# once built.
#
# Env: KUBE_VERSION, ETCD_VERSION, KWOK_VERSION (defaults below, kept in step with
# test/kube/binaries.ts), KUBE_BUILD_PARALLELISM (go build -p, default 2),
# XDG_CACHE_HOME. Go's own caches (GOMODCACHE, GOCACHE) stay at their defaults so
# later runs reuse them.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
# The etcd release k8s.io/kubernetes ${KUBE_VERSION} itself requires (go.mod), already in
# the module graph. Debian bookworm's etcd-server is 3.4.23, below the 3.5 that recent
# kube-apiservers expect.
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
PARALLELISM="${KUBE_BUILD_PARALLELISM:-2}"

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/redis-runbook/kube/${KUBE_VERSION}"
BIN_DIR="${CACHE_DIR}/bin"
MOD_DIR="${CACHE_DIR}/module"

fail() {
  echo "build-binaries: $*" >&2
  exit 1
}
step() {
  echo "build-binaries: $*" >&2
}
elapsed() {
  local start=$1
  echo "$(($(date +%s) - start))s"
}

command -v go >/dev/null || fail "go is not on PATH (Go >= 1.26 is needed to build kube-apiserver ${KUBE_VERSION})"
command -v flock >/dev/null || fail "flock (util-linux) is not on PATH"

mkdir -p "${BIN_DIR}" "${MOD_DIR}"
# Two suites (or two CI steps) may call this at once: one builds, the other waits.
exec 9>"${CACHE_DIR}/.lock"
flock 9

total_start=$(date +%s)

# Offline toolchain: never let a go.mod's toolchain line trigger a download.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

build_apiserver_and_etcd() {
  local start
  start=$(date +%s)
  step "resolving k8s.io/kubernetes@${KUBE_VERSION}"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "${gomod}" ]] || fail "go mod download k8s.io/kubernetes@${KUBE_VERSION} gave no go.mod (is the module proxy reachable?)"

  # k8s.io/kubernetes points its staging modules at ./staging/src/...; published
  # modules are tagged v0.<minor>.<patch> for release v1.<minor>.<patch>.
  local staging_version="v0.${KUBE_VERSION#v1.}"
  local go_line
  go_line=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "${gomod}")
  {
    echo "module redis-runbook.local/kube-binaries"
    echo
    echo "go ${go_line}"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*$|\1|p' "${gomod}" | while read -r mod; do
      echo "	${mod} => ${mod} ${staging_version}"
    done
    echo ")"
  } >"${MOD_DIR}/go.mod"
  grep -q '=> k8s.io/api ' "${MOD_DIR}/go.mod" || fail "found no staging replace directives in ${gomod}"

  # etcd's server module has no main package of its own at this layout; this is
  # the body of etcd's main.go.
  mkdir -p "${MOD_DIR}/etcd"
  cat >"${MOD_DIR}/etcd/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  cat >"${MOD_DIR}/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
EOF
  (
    cd "${MOD_DIR}"
    step "go get (module graph for kube-apiserver ${KUBE_VERSION}, etcd ${ETCD_VERSION})"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@${KUBE_VERSION}" "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2
    go mod tidy >&2
  ) || fail "could not resolve the module graph in ${MOD_DIR}"
  step "modules resolved in $(elapsed "${start}")"

  local minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean"
  local cmd
  # The controller manager shares most packages with the API server: built second, it mostly reuses GOCACHE.
  for cmd in kube-apiserver kube-controller-manager; do
    [[ -x "${BIN_DIR}/${cmd}" ]] && continue
    start=$(date +%s)
    step "building ${cmd} ${KUBE_VERSION} (go build -p ${PARALLELISM}; the first build takes many minutes)"
    (cd "${MOD_DIR}" && go build -p "${PARALLELISM}" -trimpath -ldflags "${ldflags}" \
      -o "${BIN_DIR}/${cmd}.tmp" "k8s.io/kubernetes/cmd/${cmd}") || fail "go build ${cmd} failed"
    mv "${BIN_DIR}/${cmd}.tmp" "${BIN_DIR}/${cmd}"
    step "${cmd} built in $(elapsed "${start}")"
  done
  if [[ ! -x "${BIN_DIR}/etcd" ]]; then
    start=$(date +%s)
    step "building etcd ${ETCD_VERSION}"
    (cd "${MOD_DIR}" && go build -p "${PARALLELISM}" -trimpath -ldflags "-s -w" -o "${BIN_DIR}/etcd.tmp" ./etcd) ||
      fail "go build etcd failed"
    mv "${BIN_DIR}/etcd.tmp" "${BIN_DIR}/etcd"
    step "etcd built in $(elapsed "${start}")"
  fi
}

build_kwok() {
  local start
  start=$(date +%s)
  step "building kwok ${KWOK_VERSION} (go install)"
  GOBIN="${BIN_DIR}/kwok-install" go install -p "${PARALLELISM}" -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" || fail "go install sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION} failed"
  mv "${BIN_DIR}/kwok-install/kwok" "${BIN_DIR}/kwok"
  rmdir "${BIN_DIR}/kwok-install"
  step "kwok built in $(elapsed "${start}")"
}

if [[ ! -x "${BIN_DIR}/kube-apiserver" || ! -x "${BIN_DIR}/kube-controller-manager" || ! -x "${BIN_DIR}/etcd" ]]; then
  build_apiserver_and_etcd
fi
if [[ ! -x "${BIN_DIR}/kwok" ]]; then
  build_kwok
fi

# A cached binary that no longer runs (truncated, wrong arch) is worse than none.
for bin in kube-apiserver kube-controller-manager etcd kwok; do
  "${BIN_DIR}/${bin}" --version >&2 || fail "${BIN_DIR}/${bin} does not run; delete it and rerun"
done

step "all binaries ready in ${BIN_DIR} (total $(elapsed "${total_start}"))"
echo "${BIN_DIR}"
