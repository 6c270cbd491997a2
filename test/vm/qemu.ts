// Boots Debian's arm64 kernel under qemu-system-aarch64 with an initramfs built for one test:
// busybox, glibc, gpio-sim, the compiled arm64 binaries and a script. The VM has no network
// device; everything it needs is in the initramfs, and what it says comes back on the serial line.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dirname ?? dirname(new URL(import.meta.url).pathname), "../..");

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

/** Why the VM tests cannot run here, or false when they can. */
export function vmUnavailable(): string | false {
  const missing = ["qemu-system-aarch64", "aarch64-linux-gnu-gcc", "cpio", "make"].filter((command) => !onPath(command));
  return missing.length === 0 ? false : `${missing.join(", ")} not installed (scripts/setup.sh installs them on Debian)`;
}

/** Fetches and builds the kernel, gpio-sim and arm64 userland once (cached); returns their directory. */
export function vmAssets(): string {
  const result = spawnSync("bash", [join(ROOT, "scripts/vm/fetch-assets.sh")], { encoding: "utf8", timeout: 15 * 60_000 });
  if (result.status !== 0) throw new Error(`scripts/vm/fetch-assets.sh failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout.trim().split("\n").at(-1)!;
}

/** Compiles `entry` into an arm64 binary at `out` the way the release build does. */
export function compileArm64(entry: string, out: string): void {
  const result = spawnSync(join(ROOT, "node_modules/.bin/bun"), ["build", "--compile", "--minify", "--bytecode", "--format=esm", "--target=bun-linux-arm64", entry, "--outfile", out], { encoding: "utf8", cwd: ROOT });
  if (result.status !== 0) throw new Error(`bun build ${entry} failed:\n${result.stdout}${result.stderr}`);
}

/** Builds an initramfs: the assets, the guest init, `/opt/run.sh`, and `files` (guest path → host path). */
export function buildInitramfs(assets: string, out: string, runScript: string, files: Record<string, string>): void {
  const root = `${out}.root`;
  spawnSync("rm", ["-rf", root]);
  for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "etc", "opt", "lib/modules", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  const copy = (from: string, to: string, mode = 0o755) => {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    copyFileSync(from, join(root, to));
    chmodSync(join(root, to), mode);
  };
  copy(join(assets, "bin/busybox"), "bin/busybox");
  copy(join(assets, "bin/mosquitto"), "usr/sbin/mosquitto");
  copy(join(assets, "bin/openssl"), "usr/bin/openssl");
  copy(join(assets, "lib/ld-linux-aarch64.so.1"), "lib/ld-linux-aarch64.so.1");
  copy(join(assets, "etc/openssl.cnf"), "usr/lib/ssl/openssl.cnf", 0o644);
  for (const lib of readdirSync(join(assets, "lib"))) {
    if (lib === "mosquitto_dynamic_security.so") copy(join(assets, "lib", lib), `usr/lib/aarch64-linux-gnu/${lib}`);
    else if (lib !== "ld-linux-aarch64.so.1") copy(join(assets, "lib", lib), `lib/aarch64-linux-gnu/${lib}`);
  }
  for (const module of readdirSync(join(assets, "modules"))) copy(join(assets, "modules", module), `lib/modules/${module}`, 0o644);
  copy(join(ROOT, "test/vm/guest/init"), "init");
  writeFileSync(join(root, "etc/hosts"), "127.0.0.1 localhost\n");
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\n");
  writeFileSync(join(root, "opt/run.sh"), runScript, { mode: 0o755 });
  for (const [to, from] of Object.entries(files)) copy(from, to);
  const packed = spawnSync("sh", ["-c", `cd '${root}' && find . | cpio -o -H newc --quiet | gzip -1 > '${out}'`], { encoding: "utf8" });
  spawnSync("rm", ["-rf", root]);
  if (packed.status !== 0 || !existsSync(out)) throw new Error(`cpio failed: ${packed.stderr}`);
}

/** What one VM run printed, and how long it took on the host. */
export interface VmRun {
  readonly output: string;
  readonly wallMs: number;
  readonly exitCode: number | null;
}

/** Boots the kernel with `initrd` and returns what the serial console printed once the VM powers off. */
export function bootVm(assets: string, initrd: string, timeoutMs: number, memoryMb = 2048): Promise<VmRun> {
  const started = Date.now();
  const qemu = spawn("qemu-system-aarch64", [
    "-nographic", "-M", "virt", "-cpu", "cortex-a57", "-m", String(memoryMb), "-smp", "2", "-nic", "none",
    "-kernel", join(assets, "vmlinuz"), "-initrd", initrd,
    "-append", "console=ttyAMA0 rdinit=/init quiet loglevel=4 panic=-1", "-no-reboot",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  qemu.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  qemu.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      output += `\n=== HOST killed the VM after ${timeoutMs} ms\n`;
      qemu.kill("SIGKILL");
    }, timeoutMs);
    qemu.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ output: output.replaceAll("\r", ""), wallMs: Date.now() - started, exitCode: code });
    });
  });
}
