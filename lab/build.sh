#!/usr/bin/env bash
# Builds the lab's kube-apiserver, etcd and toxiproxy-server (for `make reliability`) from the Go
# module proxy into .lab/bin.
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

build() {  # wrapper module (lab/go/<name>), package, extra ldflags[, binary name, default <name>]
  local name=$1 pkg=$2 ldflags=$3 out=${4:-$1} stamp
  stamp=$(stamp_of "$name")
  if [ -x "$bin/$out" ] && [ "$(cat "$bin/$out.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "lab-build: $out is up to date ($bin/$out)"
    return
  fi
  echo "lab-build: building $out ($pkg) — the first build takes several minutes"
  local t0=$SECONDS
  (cd "$here/go/$name" && CGO_ENABLED=0 go build -p "${LAB_BUILD_JOBS:-2}" -trimpath \
      -ldflags "-s -w $ldflags" -o "$bin/$out.tmp" "$pkg")
  mv "$bin/$out.tmp" "$bin/$out"
  echo "$stamp" > "$bin/$out.stamp"
  echo "lab-build: built $out in $((SECONDS - t0)) s"
}

command -v go >/dev/null || { echo "lab-build: the go command is required (Go >= 1.24)" >&2; exit 2; }

minor=$(echo "$k8s_version" | cut -d. -f2)
stamp_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp_flags="$stamp_flags -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done

build etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$stamp_flags"
build toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server "" toxiproxy-server
