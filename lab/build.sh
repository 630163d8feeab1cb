#!/usr/bin/env bash
# Builds the lab's kube-apiserver and etcd from the Go module proxy into .lab/bin.
# A binary is rebuilt only when its wrapper module's go.mod/go.sum change (stamp = their hash),
# so a warm `make lab-up` costs nothing here. Go's own caches (GOMODCACHE, GOCACHE) make a
# forced rebuild mostly a link.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${LAB_BIN_DIR:-$here/../.lab/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
k8s_version=$(awk '$1=="k8s.io/kubernetes" {print $2; exit}' "$here/go/kube-apiserver/go.mod")

stamp_of() { cat "$here/go/$1/go.mod" "$here/go/$1/go.sum" | sha256sum | cut -c1-16; }

build() {  # name, package, extra ldflags
  local name=$1 pkg=$2 ldflags=$3 stamp
  stamp=$(stamp_of "$name")
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "lab-build: $name is up to date ($bin/$name)"
    return
  fi
  echo "lab-build: building $name ($pkg) — the first build takes several minutes"
  local t0=$SECONDS
  (cd "$here/go/$name" && CGO_ENABLED=0 go build -p "${LAB_BUILD_JOBS:-2}" -trimpath \
      -ldflags "-s -w $ldflags" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$stamp" > "$bin/$name.stamp"
  echo "lab-build: built $name in $((SECONDS - t0)) s"
}

command -v go >/dev/null || { echo "lab-build: the go command is required (Go >= 1.24)" >&2; exit 2; }

minor=$(echo "$k8s_version" | cut -d. -f2)
stamp_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp_flags="$stamp_flags -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done

build etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$stamp_flags"
