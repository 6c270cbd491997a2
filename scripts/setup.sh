#!/usr/bin/env bash
# Installs what realer-edge needs on a Debian machine that has only Node.js and npm:
# npm packages (which bring Bun and Deno), and from Debian when absent: mosquitto and openssl
# (the emulator), qemu-user-static and libc6-arm64-cross (running the arm64 binary in tests),
# and lintian (checking the Debian package).
# Idempotent: a second run changes nothing and takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# npm packages: install when missing, or when package.json / the lock file changed since.
stamp=node_modules/.realer-setup
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -x node_modules/.bin/bun ] || [ ! -x node_modules/.bin/deno ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  echo "$want" > "$stamp"
fi

# Debian packages.
need=()
has_dynsec() { for f in /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so; do [ -f "$f" ] && return 0; done; return 1; }
{ [ -x /usr/sbin/mosquitto ] && has_dynsec; } || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The arm64 binary is tested under qemu-user, with Debian's arm64 glibc as its sysroot.
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
[ -f /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
# The Debian package is built with dpkg-deb and checked with lintian.
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
[ -x /usr/bin/lintian ] || need+=(lintian)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else say "please install as root: apt-get install ${need[*]}"; exit 1; fi
  fi
  say "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts a system mosquitto on port 1883 after install; the emulator runs its own and needs none.
