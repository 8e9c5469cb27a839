# Builds a Go program from its module release through a wrapper module (sourced by build.sh and
# scripts/kube-proxy/build.sh). Reference tooling only: never part of the product or `npm test`.
# Needs versions.sh sourced first (APISERVER_CACHE holds the wrapper modules).

# One core stays free for everyone else on a 2-core machine.
export GOFLAGS="${GOFLAGS:-} -p=1 -buildvcs=false -mod=mod"
export CGO_ENABLED=0

# Writes a wrapper module that requires $1@$2 and, when $1 is k8s.io/kubernetes, replaces every
# staging module (kubernetes' own go.mod points them at local folders) with the matching v0.Y.Z.
write_wrapper() {
  local module="$1" version="$2" dir="$3"
  mkdir -p "$dir"
  local upstream_mod
  upstream_mod="$(cd "$dir" && GOFLAGS= go mod download -json "$module@$version" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
  local go_line
  go_line="$(grep -m1 '^go ' "$upstream_mod")"
  {
    echo "module kplane.local/reference-build"
    echo
    echo "$go_line"
    echo
    echo "require $module $version"
    if [[ "$module" == k8s.io/kubernetes ]]; then
      local staging="v0.${version#v1.}"
      echo
      echo "replace ("
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$upstream_mod"
      echo ")"
    fi
  } > "$dir/go.mod"
  # Keeps the program's packages in the module graph for go mod tidy; never compiled.
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$4" > "$dir/tools.go"
}

# build MODULE VERSION PACKAGE OUTPUT: builds PACKAGE of MODULE@VERSION into OUTPUT, unless it exists.
build() {
  local module="$1" version="$2" package="$3" output="$4"
  if [[ -x "$output" ]]; then
    echo "cached: $output" >&2
    return
  fi
  local dir="$APISERVER_CACHE/src/${module//\//_}-$version"
  write_wrapper "$module" "$version" "$dir" "$package"
  echo "building $package@$version (first run: several minutes, ~1 GB of modules)" >&2
  mkdir -p "$(dirname "$output")"
  (cd "$dir" && go mod tidy && go build -trimpath -ldflags "$(ldflags "$module" "$version")" -o "$output.partial" "$package")
  mv "$output.partial" "$output"
}

# Kubernetes binaries report their version from these variables; without them they say v0.0.0
# (kube-apiserver then refuses nothing, and recordedWith would lie).
ldflags() {
  if [[ "$1" == k8s.io/kubernetes ]]; then
    local pkg="k8s.io/component-base/version"
    echo "-s -w -X $pkg.gitVersion=$2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$2" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  else
    echo "-s -w"
  fi
}
