#!/usr/bin/env bash
# Fetches and builds what the arm64 VM tests boot: Debian 12's arm64 kernel with the modules of a
# virtio disk, ext4 and a virtio network card, gpio-sim built out of tree against its headers
# (Debian's kernel does not enable it), busybox, glibc, and mosquitto and
# openssl for arm64 with every library they load. Everything comes from Debian's archive through a
# private APT config (no `dpkg --add-architecture`), and is cached: a second run prints the cache
# directory and does nothing else.
# usage: scripts/vm/fetch-assets.sh        prints the assets directory on stdout
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
CACHE=${REALER_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/realer-edge/vm}
ASSETS=$CACHE/assets
say() { printf 'vm-assets: %s\n' "$*" >&2; }
STAMP=$ASSETS/COMPLETE-3   # bumped when the set of assets changes
if [ -f "$STAMP" ]; then echo "$ASSETS"; exit 0; fi

WORK=$CACHE/work
rm -rf "$WORK" "$ASSETS"
mkdir -p "$WORK"/{apt/lists/partial,apt/cache/archives/partial,debs,root} "$ASSETS"
cat > "$WORK/apt/sources.list" <<'LIST'
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
cat > "$WORK/apt/apt.conf" <<CONF
Dir::Etc::sourcelist "$WORK/apt/sources.list";
Dir::Etc::sourceparts "/nonexistent";
Dir::State::Lists "$WORK/apt/lists";
Dir::Cache "$WORK/apt/cache";
Dir::State::status "/dev/null";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Sandbox::User "root";
CONF
export APT_CONFIG=$WORK/apt/apt.conf
say "reading Debian's arm64 package lists"
apt-get update -qq
KPKG=$(apt-cache depends linux-image-arm64 | awk '/Depends: linux-image-/{print $2; exit}')   # linux-image-6.1.0-NN-arm64
ABI=${KPKG#linux-image-}
KVER=$(apt-cache show "$KPKG" | awk '/^Version:/{print $2; exit}')
say "kernel $KPKG ($KVER)"
# mosquitto and openssl with the libraries they need (closure of Depends; only ELF libraries are used)
USERLAND=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  mosquitto openssl | grep -E '^[a-z0-9]' | grep -vE '^(debconf|adduser|perl-base|dpkg|lsb-base|sysvinit-utils|init-system-helpers|tar|coreutils|debianutils|passwd|libc-bin|gcc-12-base|util-linux|mount|base-files|sensible-utils)$' | sort -u)
cd "$WORK/debs"
apt-get download -q "$KPKG" "linux-headers-$ABI" "linux-headers-${ABI%-arm64}-common" busybox-static libc6 $USERLAND >/dev/null
unset APT_CONFIG
# native kbuild tools and the kernel source of the same version
apt-get -o APT::Sandbox::User=root download -q "linux-kbuild-6.1=$KVER" "linux-source-6.1=$KVER" >/dev/null
cd "$WORK"
for deb in debs/*.deb; do case $deb in *linux-source*) ;; *) dpkg-deb -x "$deb" root ;; esac; done
HDR=$WORK/root/usr/src/linux-headers-$ABI
sed -i "s|^include /usr/src/|include $WORK/root/usr/src/|" "$HDR/Makefile"

say "building gpio-sim.ko out of tree"
mkdir -p src gpio-sim
dpkg-deb --fsys-tarfile debs/linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz \
  | tar -xJ -C src linux-source-6.1/drivers/gpio/gpio-sim.c linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c
cp src/linux-source-6.1/drivers/gpio/gpio-sim.c gpio-sim/gpio-sim-core.c
cp src/linux-source-6.1/drivers/gpio/gpiolib.h src/linux-source-6.1/kernel/irq/irq_sim.c gpio-sim/
# irq_to_desc() is not exported to modules: dispatch through the irq domain instead
python3 "$HERE/patch-irq-sim.py" gpio-sim/irq_sim.c
printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-core.o irq_sim.o\n' > gpio-sim/Kbuild
make -s -C "$HDR" M="$WORK/gpio-sim" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules
aarch64-linux-gnu-strip --strip-debug gpio-sim/gpio-sim.ko

say "collecting assets"
cp "root/boot/vmlinuz-$ABI" "$ASSETS/vmlinuz"
mkdir -p "$ASSETS/modules" "$ASSETS/bin" "$ASSETS/lib"
cp "root/lib/modules/$ABI/kernel/fs/configfs/configfs.ko" gpio-sim/gpio-sim.ko "$ASSETS/modules/"
# a disk (virtio-blk with ext4) and a network card (virtio-net) for the power-cut tests, in the
# order they load (each after what it depends on); the guest init loads the ones listed in ORDER
KMOD=root/lib/modules/$ABI/kernel
DISK_AND_NET="drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci
  drivers/block/virtio_blk lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4
  net/core/failover drivers/net/net_failover drivers/net/virtio_net"
for module in $DISK_AND_NET; do
  cp "$KMOD/$module.ko" "$ASSETS/modules/"
  echo "$(basename "$module").ko" >> "$ASSETS/modules/ORDER"
done
cp root/bin/busybox root/usr/sbin/mosquitto root/usr/bin/openssl "$ASSETS/bin/"
cp root/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so "$ASSETS/lib/"
cp -L root/lib/ld-linux-aarch64.so.1 "$ASSETS/lib/"
mkdir -p "$ASSETS/etc"; cp -L root/etc/ssl/openssl.cnf "$ASSETS/etc/"   # `openssl req` reads it
# every shared library the ELF files load, found by walking DT_NEEDED
# (plus the glibc parts a Bun binary loads)
for lib in libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1; do cp -L "root/lib/aarch64-linux-gnu/$lib" "$ASSETS/lib/"; done
queue=("$ASSETS/bin/mosquitto" "$ASSETS/bin/openssl" "$ASSETS/lib/mosquitto_dynamic_security.so")
while [ ${#queue[@]} -gt 0 ]; do
  file=${queue[0]}; queue=("${queue[@]:1}")
  for lib in $(aarch64-linux-gnu-readelf -d "$file" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    [ -f "$ASSETS/lib/$lib" ] && continue
    found=$(find root/lib/aarch64-linux-gnu root/usr/lib/aarch64-linux-gnu -maxdepth 1 -name "$lib" 2>/dev/null | head -1)
    [ -n "$found" ] || { say "missing library $lib needed by $file"; exit 1; }
    cp -L "$found" "$ASSETS/lib/$lib"; queue+=("$ASSETS/lib/$lib")
  done
done
echo "$ABI" > "$ASSETS/KERNEL_ABI"
rm -rf "$WORK"
touch "$STAMP"
say "assets ready in $ASSETS ($(du -sh "$ASSETS" | cut -f1))"
echo "$ASSETS"
