#!/usr/bin/env bash
# One idempotent setup for `npm start`, `npm test` and `npm run bench`: the Debian packages the
# engine drives (as root), npm dependencies and the build. Instant when everything is present.
#   scripts/setup.sh          what the service needs
#   scripts/setup.sh --test   also what the tests and benchmarks use
set -euo pipefail
cd "$(dirname "$0")/.."

# What the engine runs: OCI runtime, monitor, networking (netavark, ip, unshare), init, layer tools,
# CRIU for checkpoint/restore.
runtime_pkgs=(runc conmon netavark aardvark-dns catatonit iptables iproute2 util-linux zstd attr criu)
# What tests and benchmarks use: real peers (registry, podman for comparison, compose),
# busybox for test images, systemd-socket-activate, openssl for test CAs, script(1) for TTYs.
test_pkgs=(busybox-static docker-registry podman docker-compose systemd openssl bsdutils util-linux procps iproute2)

pkgs=("${runtime_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && pkgs+=("${test_pkgs[@]}")

missing=()
if command -v dpkg-query >/dev/null; then
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null | awk '$2 ~ /^ii/ {print $1}' || true)
  for p in "${pkgs[@]}"; do grep -qx "$p" <<<"$installed" || missing+=("$p"); done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "setup: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

# npm dependencies: again whenever the lock file changed. Not when node_modules is a symlink to
# another checkout's: `npm ci` there empties the shared directory (for every checkout using it)
# and installs a private copy here instead.
if [[ -L node_modules ]]; then
  [[ -f node_modules/.package-lock.json ]] || echo "setup: node_modules links to $(readlink node_modules), which has no installed packages" >&2
elif [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# Build when a source is newer than the last build, or node changed: the bundle's V8 code cache
# (dist/bundle/pipeline.cache) holds only for the node that made it. The stamp records its
# version.
stamp=dist/.build-stamp
node_version=$(node --version)
if [[ ! -f $stamp || $(<"$stamp") != "$node_version" ]] || [[ -n $(find bin cli server handlers engine scripts test generated tsconfig.json package.json -newer "$stamp" -type f -print -quit 2>/dev/null) ]]; then
  echo "setup: build" >&2
  npx tsc -p tsconfig.json >&2
  node scripts/bundle.mjs >&2
  echo "$node_version" >"$stamp"
fi
