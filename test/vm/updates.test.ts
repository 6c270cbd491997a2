// Field updates on a real systemd board: the board image (Debian 12 arm64) boots in the VM with
// gpio-sim lines and QEMU's user-mode network to the host, installs the package and takes releases
// from an HTTPS channel served on the host's loopback (one folder per release, signed with a key
// pair made here), through the updater's own units (see guest/updates.ts). The releases are built
// from this source: a good one, one per build fault (src/build-fault.ts), and offers that must be
// refused. Each check the board prints is one test here. Runs once, under Bun.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { build } from "../../scripts/build.ts";
import { buildDeb } from "../../scripts/package.ts";
import { BUILD_FAULTS, type BuildFault } from "../../src/build-fault.ts";
import { ensureCertificates } from "../../src/emulator/certs.ts";
import { Emulator } from "../../src/emulator/emulator.ts";
import { serve, type Server } from "../../src/platform/index.ts";
import { OLDEST_READER, SCHEMA_VERSION } from "../../src/state/schema.ts";
import { type Manifest, trustedCommentFor } from "../../src/update/manifest.ts";
import { VERSION } from "../../src/version.ts";
import { makeKeyPair, signMinisign, type TestKeyPair } from "../helpers/minisign-signer.ts";
import { boardImage, boardInitramfs, boardSuiteSkip, copyBoardImage } from "./board-image.ts";
import { PACKAGED_SERVICE, provisionSimDevice } from "./sim-device.ts";
import { assertGuestVerdict, compileArm64, startVm, vmAssets } from "./qemu.ts";

const skip = boardSuiteSkip("Field updates on a systemd board");

/** What the board is offered, in order, and what must become of each (see guest/updates.ts). */
const ALL_OFFERS = [
  { name: "good", release: 2, expect: "commit", commit_label: "release-2" },
  { name: "crash-at-start", release: 3, expect: "rollback", reason: "" },
  { name: "never-ready", release: 4, expect: "rollback", reason: "" },
  { name: "watchdog-stall", release: 5, expect: "rollback", reason: "" },
  { name: "never-connect", release: 6, expect: "rollback", reason: "a connection to the cloud" },
  { name: "desired-unanswered", release: 7, expect: "rollback", reason: "desired state" },
  { name: "tampered binary", release: 8, expect: "refuse", reason: "refused (hash)" },
  { name: "release signed by an unknown key", release: 9, expect: "refuse", reason: "refused (signature)" },
  { name: "downgrade to release 2", release: 2, expect: "refuse", reason: "offered release 2" },
  { name: "expired manifest", release: 10, expect: "refuse", reason: "refused (expiry)" },
  { name: "release for another target", release: 11, expect: "refuse", reason: "refused (target)" },
] as const;
// REALER_UPDATE_OFFERS=good,crash-at-start runs only those (to look into one); the gate runs all.
const only = process.env.REALER_UPDATE_OFFERS?.split(",");
const OFFERS = only ? ALL_OFFERS.filter((offer) => only.includes(offer.name)) : ALL_OFFERS;

/** The releases the power cuts land in: a good one cut during its trial, then one cut during its download. */
const POWER_CUT = {
  trial: { name: "cut-during-trial", release: 12, expect: "commit", commit_label: "release-12" },
  download: { name: "cut-during-download", release: 13, expect: "commit", commit_label: "release-13" },
} as const;

const CHECKS = [
  "dpkg -i adopts the installed binary: current and committed are slot a, and the service runs it",
  ...OFFERS.map((offer) =>
    offer.expect === "commit"
      ? `a good release over the HTTPS channel (${offer.name}) goes on trial, proves itself healthy and commits, the relay held on`
      : offer.expect === "rollback"
      ? `a release that fails (${offer.name}) rolls back by itself, the committed release answers, the relay held on`
      : `the channel's ${offer.name} is refused, with nothing changed`
  ),
  "a .deb whose binary crashes goes on trial and the committed release comes back by itself; the good .deb then commits",
  "a power cut during a trial: the board boots, the start is counted on disk, and the trial goes on to commit",
  "a power cut during a download: the board boots on the committed release, and the next poll goes on from what was kept and commits",
];

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Writes a release folder as `npm run release` does, from `binary`, signed by `pair`; `change` bends the manifest. */
function writeRelease(dir: string, binary: string, release: number, pair: TestKeyPair, change: Partial<Manifest> = {}): void {
  mkdirSync(dir, { recursive: true });
  const file = "realer-edge-linux-arm64";
  copyFileSync(binary, join(dir, file));
  const bytes = new Uint8Array(readFileSync(join(dir, file)));
  const now = Date.now();
  const manifest: Manifest = {
    format: 1,
    product: "realer-edge",
    target: "linux-arm64",
    version: VERSION,
    release,
    binary: { file, sha256: sha256(bytes), length: bytes.length },
    issued_at: new Date(now - 60_000).toISOString(),
    expires_at: new Date(now + 30 * 86_400_000).toISOString(),
    min_version: "0.1.0",
    schema: { writes: SCHEMA_VERSION, oldest_reader: OLDEST_READER },
    patches: [],
    ...change,
  };
  const text = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, "manifest.json"), text);
  writeFileSync(join(dir, "manifest.json.minisig"), signMinisign(pair, text, trustedCommentFor(manifest)));
}

/** A static HTTPS server for the release folders under `root`, with Range for resumed downloads; `/ranges` lists the Range headers it saw. */
function channelServer(root: string, cert: string, key: string): Server {
  const ranges: string[] = [];
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert, key },
    fetch: (request) => {
      const range = request.headers.get("range");
      if (range) ranges.push(range);
      const parts = decodeURIComponent(new URL(request.url).pathname).split("/").filter((part) => part !== "");
      if (parts.length === 1 && parts[0] === "ranges") return Response.json(ranges);
      if (parts.length !== 2 || parts.some((part) => part.startsWith("."))) return new Response("no such file", { status: 404 });
      const path = join(root, parts[0]!, parts[1]!);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(path));
      } catch {
        return new Response("no such file", { status: 404 });
      }
      const from = Number(/^bytes=(\d+)-$/.exec(request.headers.get("range") ?? "")?.[1] ?? 0);
      if (from >= bytes.length && from > 0) return new Response(null, { status: 416 });
      return new Response(bytes.slice(from).buffer, { status: from > 0 ? 206 : 200 });
    },
  });
}

describe("field updates on a systemd board (arm64 VM, Debian 12)", { skip }, () => {
  let dir = "";
  let emulator: Emulator | undefined;
  let channel: Server | undefined;
  let booted: Promise<string> | undefined;
  const boot = async (): Promise<string> => {
    dir = mkdtempSync(join(tmpdir(), "realer-updates-"));
    const assets = vmAssets();
    const image = await boardImage(assets);
    const pair = makeKeyPair();
    writeFileSync(join(dir, "release.pub"), pair.publicKeyFile);
    const builtAt = performance.now();
    const [installed] = build(["linux-arm64"], join(dir, "installed"));
    const deb = buildDeb("arm64", installed!, dir, { release: join(dir, "release.pub") });
    const releases = join(dir, "channel");
    const [good] = build(["linux-arm64"], join(dir, "build-good"), { label: "release-2" });
    writeRelease(join(releases, "good"), good!, 2, pair);
    const faulty = new Map<BuildFault, string>();
    for (const [index, fault] of BUILD_FAULTS.entries()) {
      const [binary] = build(["linux-arm64"], join(dir, `build-${fault}`), { fault });
      faulty.set(fault, binary!);
      writeRelease(join(releases, fault), binary!, 3 + index, pair);
    }
    // The offers verification must refuse: each fails one check, and changes nothing.
    const bytes = readFileSync(good!);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeRelease(join(releases, "tampered binary"), good!, 8, pair);
    writeFileSync(join(releases, "tampered binary", "realer-edge-linux-arm64"), bytes);
    writeRelease(join(releases, "release signed by an unknown key"), good!, 9, makeKeyPair());
    writeRelease(join(releases, "downgrade to release 2"), good!, 2, pair);
    writeRelease(join(releases, "expired manifest"), good!, 10, pair, {
      issued_at: new Date(Date.now() - 40 * 86_400_000).toISOString(),
      expires_at: new Date(Date.now() - 86_400_000).toISOString(),
    });
    writeRelease(join(releases, "release for another target"), good!, 11, pair, { target: "linux-x64" });
    for (const offer of Object.values(POWER_CUT)) {
      const [binary] = build(["linux-arm64"], join(dir, `build-${offer.name}`), { label: offer.commit_label });
      writeRelease(join(releases, offer.name), binary!, offer.release, pair);
    }
    const crashDeb = buildDeb("arm64", faulty.get("crash-at-start")!, join(dir, "crash-deb"), { release: join(dir, "release.pub") });
    console.log(`releases built in ${((performance.now() - builtAt) / 1000).toFixed(0)} s`);
    compileArm64("test/vm/guest/updates.ts", join(dir, "driver"));

    emulator = new Emulator({ stateDir: join(dir, "cloud"), publicHost: "10.0.2.2" });
    await emulator.start();
    // The channel is served with the emulator's certificate: a board verifies it with the cloud's CA, as it does the cloud.
    const certs = await ensureCertificates(join(dir, "cloud", "tls"), ["10.0.2.2"]);
    channel = channelServer(releases, certs.certPem, certs.keyPem);
    const sim = provisionSimDevice(emulator);
    writeFileSync(
      join(dir, "device.json"),
      JSON.stringify(
        sim.config({ ...PACKAGED_SERVICE, updates: { channel: `https://10.0.2.2:${channel.port}/good/`, trial_window_s: 60 } }),
      ),
    );
    writeFileSync(
      join(dir, "payload.json"),
      JSON.stringify({
        ...sim.payload(),
        deb: basename(deb),
        crash_deb: `crash/${basename(crashDeb)}`,
        channel: `https://10.0.2.2:${channel.port}/`,
        offers: OFFERS,
        power_cut: POWER_CUT,
      }),
    );
    const initrd = boardInitramfs(assets, dir, emulator.caPath, {
      [`opt/${basename(deb)}`]: deb,
      [`opt/crash/${basename(crashDeb)}`]: crashDeb,
    });
    console.log(`initramfs: ${(statSync(initrd).size / 1048576).toFixed(0)} MiB`);
    const disk = copyBoardImage(image, join(dir, "board.img"));
    // Boots the board again after each power cut it asks for ("UPDATES cut"): the same disk, with
    // what the guest's page cache held lost, as on a board whose plug is pulled.
    let output = "";
    const deadline = Date.now() + 60 * 60_000;
    for (let boot = 1; boot <= 4; boot++) {
      const vm = startVm(assets, initrd, {
        disk,
        network: true,
        onLine: (line) => {
          if (line.startsWith("UPDATES ")) console.log(line);
          if (line === "UPDATES cut") vm.cut();
        },
      });
      const timer = setTimeout(() => vm.cut(), Math.max(0, deadline - Date.now()));
      const run = await vm.ended;
      clearTimeout(timer);
      output += run.output;
      console.log(`field updates board, boot ${boot}: ${(run.wallMs / 1000).toFixed(0)} s on the host`);
      if (!run.output.split("\n").includes("UPDATES cut")) break;
    }
    assert.match(output, /UPDATES done/, `the board did not finish:\n${output.slice(-5000)}`);
    return output;
  };
  after(async () => {
    await channel?.stop();
    await emulator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const check of CHECKS) {
    it(check, { timeout: 3_600_000 }, async () => {
      assertGuestVerdict(await (booted ??= boot()), "UPDATES", check);
    });
  }
});
