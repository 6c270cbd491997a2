#!/usr/bin/env bash
# Installs what realer-edge needs on a Debian machine that has only Node.js and npm:
# npm packages (which bring Bun and Deno), and from Debian when absent: mosquitto and openssl
# (the emulator), qemu-user-static and libc6-arm64-cross (running the arm64 binary in tests),
# lintian (checking the Debian package), and for the GPIO tests on a real arm64 kernel:
# qemu-system-arm, gcc-aarch64-linux-gnu (builds gpio-sim out of tree), cpio, xz-utils,
# e2fsprogs (the power-cut VM's disk), debootstrap (the systemd board image) and systemd
# (systemd-analyze scores the unit), minisign and zstd (signed releases and their patches);
# and chromium for the console tests in a real browser.
# Idempotent: a second run changes nothing and takes a second.
#
#   bash scripts/setup.sh        everything the tests need
#   bash scripts/setup.sh demo   only what the demo needs: the npm packages, mosquitto and openssl
#                                (a first look costs seconds, not minutes)
#   bash scripts/setup.sh bench  the demo's, and strace (the benchmark's slow disk)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

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
# The benchmark slows the device's fsyncs down with strace, as a slow SD card would be.
if [ "$mode" = bench ]; then command -v strace >/dev/null 2>&1 || need+=(strace); fi
if [ "$mode" != demo ] && [ "$mode" != bench ]; then
# The arm64 binary is tested under qemu-user, with Debian's arm64 glibc as its sysroot.
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
[ -f /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
# Field updates: releases are signed and checked with minisign, and patched with zstd.
command -v minisign >/dev/null 2>&1 || need+=(minisign)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
# The Debian package is built with dpkg-deb and checked with lintian.
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
[ -x /usr/bin/lintian ] || need+=(lintian)
# GPIO on a real kernel: Debian's arm64 kernel under qemu-system-aarch64, with gpio-sim built
# against its headers (scripts/vm/fetch-assets.sh downloads and caches the rest).
command -v qemu-system-aarch64 >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v make >/dev/null 2>&1 || need+=(make)
# The power-cut campaign's disk image is an ext4 file system made on the host; the systemd board
# image is Debian's, made by debootstrap; the unit's hardening is scored by systemd-analyze.
[ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || need+=(e2fsprogs)
[ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# The durable path's fsyncs per event are counted with strace.
command -v strace >/dev/null 2>&1 || need+=(strace)
# The consoles are tested in a real browser: Debian's Chromium, driven by playwright-core.
[ -x /usr/bin/chromium ] || need+=(chromium)
fi
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

[ "$mode" = demo ] || [ "$mode" = bench ] && exit 0

# Bun's arm64 runtime for cross-compiling: `bun build --compile --target=bun-linux-arm64` fetches it
# from the npm registry the first time, which a test's build step must not have to wait for.
bun_version=$(node_modules/.bin/bun --version)
bun_cache="${BUN_INSTALL_CACHE_DIR:-${HOME}/.bun/install/cache}"
if [ ! -f "${bun_cache}/bun-linux-aarch64-v${bun_version}" ]; then
  say "fetching Bun ${bun_version}'s linux-arm64 runtime for cross-compiling"
  tmp=$(mktemp -d)
  echo 'console.log("ok")' > "${tmp}/probe.ts"
  node_modules/.bin/bun build --compile --target=bun-linux-arm64 "${tmp}/probe.ts" --outfile "${tmp}/probe" >/dev/null
  rm -rf "${tmp}"
fi

# The arm64 VM's kernel, gpio-sim module and userland: fetched and built once, then cached.
if command -v qemu-system-aarch64 >/dev/null 2>&1 && command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
  bash scripts/vm/fetch-assets.sh >/dev/null
fi
