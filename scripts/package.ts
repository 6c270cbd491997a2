// Builds realer-edge_<version>_<arch>.deb for arm64 and amd64 with dpkg-deb: the binary, the
// systemd units (the runtime and the updater's timers), a udev rule that gives the GPIO chips to the gpio group, an example config, and
// maintainer scripts that create the service user.
// `npm run package`; prints what lintian says.
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { VERSION } from "../src/version.ts";
import { build } from "./build.ts";

/** The systemd units: the runtime, and the updater's two timers with the services they start. */
export const UNITS = [
  "realer-edge.service",
  "realer-edge-update-watch.service",
  "realer-edge-update-watch.timer",
  "realer-edge-update-poll.service",
  "realer-edge-update-poll.timer",
] as const;

/** Debian's architecture names for our targets. */
export const ARCHES = { arm64: "linux-arm64", amd64: "linux-x64" } as const;

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** The release public keys a package pins (minisign .pub files): the online release key and the offline backup key. */
export interface ReleaseKeys {
  readonly release?: string | undefined;
  readonly backup?: string | undefined;
}

/**
 * Builds the .deb for `arch` into `outDir` from `binary`; returns its path. With `keys`, the
 * package pins them in /usr/share/realer-edge/keys/ for `realer-edge update`; without, a board
 * takes no update until keys are put there.
 */
export function buildDeb(arch: keyof typeof ARCHES, binary: string, outDir: string, keys: ReleaseKeys = {}): string {
  const root = join(outDir, `root-${arch}`);
  rmSync(root, { recursive: true, force: true });
  const here = (path: string) => new URL(`../packaging/${path}`, import.meta.url).pathname;
  mkdirSync(join(root, "usr/bin"), { recursive: true, mode: 0o755 });
  copyFileSync(binary, join(root, "usr/bin/realer-edge"));
  chmodSync(join(root, "usr/bin/realer-edge"), 0o755);
  mkdirSync(join(root, "lib/systemd/system"), { recursive: true });
  for (const unit of UNITS) copyFileSync(here(unit), join(root, `lib/systemd/system/${unit}`));
  mkdirSync(join(root, "lib/udev/rules.d"), { recursive: true });
  copyFileSync(here("debian/udev.rules"), join(root, "lib/udev/rules.d/60-realer-edge.rules"));
  mkdirSync(join(root, "etc/realer-edge"), { recursive: true });
  copyFileSync(here("device.json"), join(root, "etc/realer-edge/device.json"));
  for (const [name, path] of Object.entries(keys)) {
    if (path === undefined) continue;
    mkdirSync(join(root, "usr/share/realer-edge/keys"), { recursive: true });
    copyFileSync(path, join(root, `usr/share/realer-edge/keys/${name}.pub`));
    chmodSync(join(root, `usr/share/realer-edge/keys/${name}.pub`), 0o644);
  }
  const doc = join(root, "usr/share/doc/realer-edge");
  mkdirSync(doc, { recursive: true });
  copyFileSync(here("debian/copyright"), join(doc, "copyright"));
  const date = new Date().toUTCString().replace("GMT", "+0000");
  writeFileSync(
    join(doc, "changelog.gz"),
    gzipSync(
      `realer-edge (${VERSION}) unstable; urgency=medium\n\n  * Release ${VERSION}.\n\n -- realer-edge developers <dev@realer-edge.invalid>  ${date}\n`,
      { level: 9 },
    ),
  );
  const man = join(root, "usr/share/man/man1");
  mkdirSync(man, { recursive: true });
  writeFileSync(join(man, "realer-edge.1.gz"), gzipSync(readFileSync(here("realer-edge.1")), { level: 9 }));
  const overrides = join(root, "usr/share/lintian/overrides");
  mkdirSync(overrides, { recursive: true });
  copyFileSync(here("debian/lintian-overrides"), join(overrides, "realer-edge"));
  const installedKiB = Math.ceil(Number(run("du", ["-sk", root]).output.split("\t")[0]));
  write(
    join(root, "DEBIAN/control"),
    [
      "Package: realer-edge",
      `Version: ${VERSION}`,
      `Architecture: ${arch}`,
      "Maintainer: realer-edge developers <dev@realer-edge.invalid>",
      `Installed-Size: ${installedKiB}`,
      "Depends: libc6 (>= 2.27), adduser",
      "Section: misc",
      "Priority: optional",
      "Homepage: https://github.com/realer/realer-edge",
      "Description: firmware runtime for Realer control devices",
      " Switches relays and reads inputs on Linux boards for the Realer cloud: OAuth",
      " client credentials, short-lived MQTT 5 credentials over TLS, a durable outbox",
      " and desired-state ledger, and a systemd service with a watchdog.",
      "",
    ].join("\n"),
  );
  write(join(root, "DEBIAN/conffiles"), "/etc/realer-edge/device.json\n");
  copyFileSync(here("debian/postinst"), join(root, "DEBIAN/postinst"));
  chmodSync(join(root, "DEBIAN/postinst"), 0o755);
  copyFileSync(here("debian/postrm"), join(root, "DEBIAN/postrm"));
  chmodSync(join(root, "DEBIAN/postrm"), 0o755);
  copyFileSync(here("debian/prerm"), join(root, "DEBIAN/prerm"));
  chmodSync(join(root, "DEBIAN/prerm"), 0o755);
  const deb = join(outDir, `realer-edge_${VERSION}_${arch}.deb`);
  // gzip: quick on 108 MiB (xz takes over a minute on two cores) and read by every dpkg.
  const built = run("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, deb]);
  if (built.status !== 0) throw new Error(`dpkg-deb failed: ${built.output}`);
  rmSync(root, { recursive: true, force: true });
  return deb;
}

/** Runs lintian on a package: its error and warning lines, or undefined without lintian. */
export function lintian(deb: string): { errors: string[]; warnings: string[] } | undefined {
  if (!existsSync("/usr/bin/lintian")) return undefined;
  const lines = run("lintian", ["--no-tag-display-limit", deb]).output.split("\n").filter((line) => line.trim() !== "");
  return { errors: lines.filter((line) => line.startsWith("E:")), warnings: lines.filter((line) => line.startsWith("W:")) };
}

if (import.meta.main) {
  // npm run package -- --release-key release.pub --backup-key backup.pub
  const { values } = parseArgs({ options: { "release-key": { type: "string" }, "backup-key": { type: "string" } } });
  const keys = { release: values["release-key"], backup: values["backup-key"] };
  if (!keys.release && !keys.backup) {
    console.log("no --release-key or --backup-key: the packages pin no release key, so boards take no update");
  }
  const [arm64, x64] = build(["linux-arm64", "linux-x64"]);
  for (const [arch, binary] of [["arm64", arm64!], ["amd64", x64!]] as const) {
    const deb = buildDeb(arch, binary, "dist", keys);
    console.log(`${deb}`);
    const lint = lintian(deb);
    if (!lint) console.log("  lintian is not installed (scripts/setup.sh installs it)");
    else for (const line of [...lint.errors, ...lint.warnings]) console.log(`  ${line}`);
  }
}
