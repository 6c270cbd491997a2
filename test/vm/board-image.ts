// The board image: Debian 12 for arm64 with systemd as PID 1, on an ext4 disk image, for the tests
// that install the Debian package the way a user does. Built once and cached beside the VM assets:
// debootstrap's first stage on the host (downloads and unpacks, no arm64 code runs), its second
// stage inside the VM (the same kernel, from the busybox initramfs), then a little configuration.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runtimeName } from "../../src/platform/index.ts";
import { buildInitramfs, startVm, vmUnavailable } from "./qemu.ts";

/**
 * Whether a suite on the board image can run here: false, or why not (as `describe`'s skip). A
 * machine without the VM or debootstrap is told so loudly, naming `suite`; Deno leaves the board's
 * compiled arm64 binaries to the Bun run.
 */
export function boardSuiteSkip(suite: string): string | false {
  const debootstrap = spawnSync("sh", ["-c", "command -v debootstrap || test -x /usr/sbin/debootstrap"]).status === 0;
  const unavailable = vmUnavailable() || (debootstrap ? false : "debootstrap not installed (scripts/setup.sh installs it on Debian)");
  if (runtimeName === "deno") return "the board runs compiled arm64 binaries; bun test runs it once";
  if (unavailable) console.warn(`\n*** ${suite} is SKIPPED: ${unavailable} ***\n`);
  return unavailable ? `SKIPPED loudly: no board image here: ${unavailable}` : false;
}

/** Bumped when what goes into the image changes. */
const IMAGE = "board-1.img";
const PACKAGES = ["systemd", "systemd-sysv", "udev", "adduser", "iproute2"];

function sh(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  if (result.status !== 0) throw new Error(`${what} failed (${result.status}): ${(result.stderr || result.stdout).slice(-2000)}`);
}

// Runs in the VM on the image (mounted at /data by the guest init): the second stage, then the
// board's configuration: its root in fstab, a host name, no login prompt on the serial line (the
// tests print there), and the apt cache emptied.
const SECOND_STAGE = `#!/bin/sh
unset LD_LIBRARY_PATH
mount -t proc proc /data/proc && mount -t sysfs sys /data/sys && mount --bind /dev /data/dev
PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot /data /debootstrap/debootstrap --second-stage > /data/root/second-stage.log 2>&1
rc=$?
echo "=== BOARD second stage rc=$rc"
[ $rc = 0 ] || tail -20 /data/root/second-stage.log
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > /data/etc/fstab
echo board > /data/etc/hostname
PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot /data systemctl mask serial-getty@ttyAMA0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer > /dev/null 2>&1
rm -rf /data/var/cache/apt/archives/*.deb /data/var/lib/apt/lists/*
umount /data/dev /data/sys /data/proc
sync
[ $rc = 0 ] && echo "=== BOARD image ready"
umount /data
`;

/** The cached board image (building it first if needed, about 10 minutes); copy it before booting it. */
export async function boardImage(assets: string): Promise<string> {
  const dir = join(assets, "..", "board");
  const image = join(dir, IMAGE);
  if (existsSync(image)) return image;
  const work = join(dir, "work");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const root = join(work, "root");
  sh("debootstrap", [
    "--foreign",
    "--arch=arm64",
    "--variant=minbase",
    `--include=${PACKAGES.join(",")}`,
    "bookworm",
    root,
    "http://deb.debian.org/debian",
  ], "debootstrap (first stage)");
  const building = join(work, IMAGE);
  sh("mkfs.ext4", ["-q", "-F", "-d", root, building, "2G"], "mkfs.ext4");
  rmSync(root, { recursive: true, force: true });
  buildInitramfs(assets, join(work, "initrd.gz"), SECOND_STAGE, {});
  const vm = startVm(assets, join(work, "initrd.gz"), { disk: building });
  const timer = setTimeout(() => vm.cut(), 40 * 60_000);
  const run = await vm.ended;
  clearTimeout(timer);
  if (!run.output.includes("=== BOARD image ready")) throw new Error(`the board image's second stage failed:\n${run.output.slice(-4000)}`);
  renameSync(building, image);
  rmSync(work, { recursive: true, force: true });
  return image;
}

/** A private copy of the board image (sparse), for one test's boots. */
export function copyBoardImage(image: string, to: string): string {
  const copied = spawnSync("cp", ["--sparse=always", image, to]);
  if (copied.status !== 0) copyFileSync(image, to);
  return to;
}

/**
 * The initramfs that hands the board image over to systemd with a suite's driver (see
 * guest/handover): `dir` holds the compiled `driver`, `payload.json` and `device.json`; `ca` is
 * the emulator's; `extra` maps more files into /opt (the packages).
 */
export function boardInitramfs(assets: string, dir: string, ca: string, extra: Readonly<Record<string, string>>): string {
  const guest = new URL("./guest/", import.meta.url).pathname;
  const out = join(dir, "initrd.gz");
  buildInitramfs(assets, out, "#!/bin/sh\n", {
    "opt/handover": join(guest, "handover"),
    "opt/realer-board-test.service": join(guest, "realer-board-test.service"),
    "opt/driver": join(dir, "driver"),
    "opt/payload.json": join(dir, "payload.json"),
    "opt/device.json": join(dir, "device.json"),
    "opt/ca.crt": ca,
    ...extra,
  });
  return out;
}
