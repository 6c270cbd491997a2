// Boots Debian's arm64 kernel under qemu-system-aarch64 with an initramfs built for one test:
// busybox, glibc, gpio-sim, the compiled arm64 binaries and a script. What it says comes back on the
// serial line. By default the VM has no network card and no disk; the power-cut tests give it both.
import assert from "node:assert/strict";
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
  const result = spawnSync(join(ROOT, "node_modules/.bin/bun"), [
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    "--format=esm",
    "--target=bun-linux-arm64",
    entry,
    // The poll thread's worker, as the runtime's build carries it (src/platform/poll-thread.ts).
    "src/platform/poll-worker.ts",
    "--outfile",
    out,
  ], { encoding: "utf8", cwd: ROOT });
  if (result.status !== 0) throw new Error(`bun build ${entry} failed:\n${result.stdout}${result.stderr}`);
}

/** Builds an initramfs: the assets, the guest init, `/opt/run.sh`, and `files` (guest path → host path). */
export function buildInitramfs(assets: string, out: string, runScript: string, files: Record<string, string>): void {
  const root = `${out}.root`;
  spawnSync("rm", ["-rf", root]);
  for (
    const dir of [
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "dev",
      "proc",
      "sys",
      "tmp",
      "etc",
      "opt",
      "lib/modules",
      "lib/aarch64-linux-gnu",
      "usr/lib/aarch64-linux-gnu",
    ]
  ) {
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

/** What a VM has besides its kernel and initramfs. */
export interface VmOptions {
  readonly memoryMb?: number;
  /** A raw disk image, attached as a virtio block device (the guest mounts its ext4 at /data). */
  readonly disk?: string;
  /** A virtio network card on QEMU's user-mode network: the guest reaches the host's loopback at 10.0.2.2. */
  readonly network?: boolean;
  /** More kernel command line, which the guest's scripts read from /proc/cmdline. */
  readonly append?: string;
  /** Called with each whole line of the serial console as it arrives, with `performance.now()`. */
  readonly onLine?: (line: string, at: number) => void;
}

/** A running VM: what it printed so far, a power cut, and its end. */
export interface Vm {
  output(): string;
  /** Kills QEMU at once (SIGKILL): the board loses power, nothing in the guest is flushed. */
  cut(): void;
  readonly ended: Promise<VmRun>;
}

/** Boots the kernel with `initrd` and returns the running VM. */
export function startVm(assets: string, initrd: string, options: VmOptions = {}): Vm {
  const started = Date.now();
  const args = [
    "-nographic",
    "-M",
    "virt",
    "-cpu",
    "cortex-a57",
    "-m",
    String(options.memoryMb ?? 2048),
    "-smp",
    "2",
    "-kernel",
    join(assets, "vmlinuz"),
    "-initrd",
    initrd,
    "-append",
    `console=ttyAMA0 rdinit=/init quiet loglevel=4 panic=-1${options.append ? ` ${options.append}` : ""}`,
    "-no-reboot",
  ];
  // (no option ROM: the guest boots its kernel directly, and Debian's qemu-system-arm lacks efi-virtio.rom)
  args.push(...(options.network ? ["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,romfile="] : ["-nic", "none"]));
  // cache=writeback: what the guest wrote or flushed reaches the host file and outlives QEMU; what
  // sits in the guest's page cache dies with it, as on a board with an SD card that loses power.
  if (options.disk) args.push("-drive", `file=${options.disk},format=raw,if=virtio,cache=writeback`);
  const qemu = spawn("qemu-system-aarch64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let partial = "";
  const take = (chunk: Buffer) => {
    const text = chunk.toString("utf8").replaceAll("\r", "");
    output += text;
    if (!options.onLine) return;
    const at = performance.now();
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    for (const line of lines) options.onLine(line, at);
  };
  qemu.stdout.on("data", take);
  qemu.stderr.on("data", take);
  const ended = new Promise<VmRun>((resolve) => {
    qemu.on("exit", (code) => resolve({ output, wallMs: Date.now() - started, exitCode: code }));
  });
  return { output: () => output, cut: () => void qemu.kill("SIGKILL"), ended };
}

/** Boots the kernel with `initrd` and returns what the serial console printed once the VM powers off. */
export async function bootVm(assets: string, initrd: string, timeoutMs: number, memoryMb = 2048): Promise<VmRun> {
  const vm = startVm(assets, initrd, { memoryMb });
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    vm.cut();
  }, timeoutMs);
  const run = await vm.ended;
  clearTimeout(timer);
  return killed ? { ...run, output: `${run.output}\n=== HOST killed the VM after ${timeoutMs} ms\n` } : run;
}

/** Asserts that the guest printed `<prefix> ok <check>`: each check a guest reports is one test on the host. */
export function assertGuestVerdict(output: string, prefix: string, check: string): void {
  const line = output.split("\n").find((candidate) => candidate.startsWith(`${prefix} `) && candidate.includes(` ${check}`));
  assert.ok(line, `the guest printed nothing for "${check}"`);
  assert.ok(line.startsWith(`${prefix} ok `), line);
}
