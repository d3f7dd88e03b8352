#!/usr/bin/env bash
# tests/services/kube-build.sh [etcd|kube-apiserver|kubectl|helm|kubeconform|all]
#
# Builds the Kubernetes tools the operator's tests and the chart checks use, through the Go
# module proxy (no release downloads here, ../shared/REAL_SERVICES.md), once per version, into
# ${UPLINE_CACHE:-~/.cache/upline}/kube/<tool>-<version>/<tool>. Prints nothing on stdout; the
# path of a tool is `$(tests/services/kube-build.sh path TOOL)`.
#
# Versions go together: kube-apiserver and kubectl match the Kubernetes version k8s-openapi's
# feature targets in operator/Cargo.toml (v1_36), etcd is the 3.6 line envtest pairs with it.
set -euo pipefail

kubernetes=${UPLINE_KUBERNETES_VERSION:-v1.36.3}
etcd_version=${UPLINE_ETCD_VERSION:-v3.6.16}
helm_version=${UPLINE_HELM_VERSION:-v4.3.2}
kubeconform_version=${UPLINE_KUBECONFORM_VERSION:-v0.7.0}
cache=${UPLINE_CACHE:-$HOME/.cache/upline}/kube
export GOPATH=${UPLINE_CACHE:-$HOME/.cache/upline}/gopath GOFLAGS=-modcacherw CGO_ENABLED=0
log() { echo "kube-build.sh: $*" >&2; }

version_of() {
  case $1 in
    etcd) echo "$etcd_version" ;;
    kube-apiserver | kubectl) echo "$kubernetes" ;;
    helm) echo "$helm_version" ;;
    kubeconform) echo "$kubeconform_version" ;;
    *) log "unknown tool $1"; exit 2 ;;
  esac
}
path_of() { echo "$cache/$1-$(version_of "$1")/$1"; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  for candidate in /usr/local/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    if [[ -x $candidate ]]; then echo "$candidate"; return; fi
  done
  log "Go is missing: the Kubernetes test servers are built through the Go module proxy."
  log "Install Go 1.26 or newer (https://go.dev/dl/, or /usr/local/go) and run again."
  exit 1
}

# Moves a finished binary into place in one step, so an interrupted build leaves nothing usable.
install_binary() {
  local built=$1 tool=$2 target; target=$(path_of "$tool")
  mkdir -p "$(dirname "$target")"
  mv "$built" "$target.partial"
  mv "$target.partial" "$target"
  log "built $tool $(version_of "$tool") into $target"
}

# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces every staging module with
# ./staging/src/... and requires them at v0.0.0. A wrapper module replaces each with the
# published k8s.io/X v0.<minor>.<patch> instead, then builds the command from the module cache.
build_kubernetes_command() {
  local tool=$1 go; go=$(find_go)
  [[ -x $(path_of "$tool") ]] && return
  log "building $tool $kubernetes through the Go module proxy (once; a long build on 2 cores)"
  local work=$cache/work-kubernetes-$kubernetes
  mkdir -p "$work"
  (
    cd "$work"
    local gomod staging=${kubernetes/v1./v0.}
    gomod=$("$go" mod download -json "k8s.io/kubernetes@$kubernetes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    if [[ ! -f go.mod ]]; then
      printf 'module upline.local/kubernetes-build\n\ngo 1.26.0\n' >go.mod
      local module
      for module in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
        "$go" mod edit "-replace=$module=$module@$staging"
      done
      "$go" get "k8s.io/kubernetes/cmd/kube-apiserver@$kubernetes" "k8s.io/kubernetes/cmd/kubectl@$kubernetes" >&2
    fi
    local version_flags="-X k8s.io/component-base/version.gitVersion=$kubernetes"
    version_flags+=" -X k8s.io/client-go/pkg/version.gitVersion=$kubernetes"
    "$go" build -trimpath -ldflags "$version_flags" -o "$work/$tool.built" "k8s.io/kubernetes/cmd/$tool" >&2
  )
  install_binary "$work/$tool.built" "$tool"
}

# etcd's server module carries replaces too; a wrapper requiring it at the version wanted and
# tidied resolves its sibling modules to the published ones.
build_etcd() {
  local go; go=$(find_go)
  [[ -x $(path_of etcd) ]] && return
  log "building etcd $etcd_version through the Go module proxy (once)"
  local work=$cache/work-etcd-$etcd_version
  mkdir -p "$work"
  (
    cd "$work"
    if [[ ! -f go.mod ]]; then
      printf 'module upline.local/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$etcd_version" >go.mod
      printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' >tools.go
      "$go" mod tidy >&2
    fi
    "$go" build -trimpath -o "$work/etcd.built" go.etcd.io/etcd/server/v3 >&2
  )
  install_binary "$work/etcd.built" etcd
}

go_install() {
  local tool=$1 package=$2 go; go=$(find_go)
  [[ -x $(path_of "$tool") ]] && return
  log "building $tool $(version_of "$tool") through the Go module proxy (once)"
  local work; work=$(mktemp -d)
  GOBIN=$work "$go" install -trimpath "$package@$(version_of "$tool")" >&2
  install_binary "$work/$tool" "$tool"
  rm -rf "$work"
}

build() {
  case $1 in
    etcd) build_etcd ;;
    kube-apiserver | kubectl) build_kubernetes_command "$1" ;;
    helm) go_install helm helm.sh/helm/v4/cmd/helm ;;
    kubeconform) go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform ;;
  esac
}

case ${1:-all} in
  path) path_of "$2" ;;
  all) for tool in etcd kube-apiserver kubectl helm kubeconform; do build "$tool"; done ;;
  *) build "$1" ;;
esac
