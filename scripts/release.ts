// `npm run release -- --key KEY --release N [--out DIR] [--previous DIR] [--target T]…`: builds
// the binaries, writes one signed manifest per target beside its binary, and, given the previous
// release's folder, an app-only patch against its binary (zstd --patch-from), listed in the
// manifest with its base. The folder it writes is what a static HTTPS server serves and what
// `realer-edge update apply` takes. The manifest is signed with the stock minisign (Debian's),
// so `minisign -V -p KEY.pub -m manifest.json` checks it anywhere.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OLDEST_READER, SCHEMA_VERSION } from "../src/state/schema.ts";
import { type Manifest, parseManifest, trustedCommentFor } from "../src/update/manifest.ts";
import { VERSION } from "../src/version.ts";
import { build, TARGETS } from "./build.ts";

const { values } = parseArgs({
  options: {
    key: { type: "string" },
    release: { type: "string" },
    out: { type: "string", default: "release" },
    previous: { type: "string" },
    target: { type: "string", multiple: true },
    binaries: { type: "string" },
    "expires-days": { type: "string", default: "180" },
    "min-version": { type: "string", default: "0.1.0" },
    "oldest-reader": { type: "string", default: String(OLDEST_READER) },
  },
});

const fail = (message: string): never => {
  console.error(`release: ${message}`);
  process.exit(2);
};
if (!values.key) fail("--key FILE (a minisign secret key) is required");
const release = Number(values.release);
if (!Number.isSafeInteger(release) || release < 1) fail("--release N (a whole number above every earlier release) is required");
const targets = values.target ?? [...TARGETS];
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

// --binaries DIR reuses binaries built earlier (a test, or a second signing); otherwise they are built now.
const binaries = values.binaries ?? (build(targets, join(values.out!, ".build")), join(values.out!, ".build"));
const now = Date.now();
for (const target of targets) {
  const dir = join(values.out!, target);
  mkdirSync(dir, { recursive: true });
  const file = `realer-edge-${target}`;
  copyFileSync(join(binaries, file), join(dir, file));
  const bytes = new Uint8Array(readFileSync(join(dir, file)));
  const patches: NonNullable<Manifest["patches"]> = [];
  if (values.previous) {
    const previousManifest = parseManifest(new Uint8Array(readFileSync(join(values.previous, target, "manifest.json"))));
    const base = join(values.previous, target, previousManifest.binary.file);
    if (previousManifest.release >= release) fail(`--release ${release} must be above the previous release ${previousManifest.release}`);
    const patch = `${file}.from-${previousManifest.release}.zst`;
    const started = performance.now();
    // --long must cover the whole base; the board needs the same window to apply it.
    const made = spawnSync("zstd", ["-q", "-f", "-19", "--long=31", `--patch-from=${base}`, join(dir, file), "-o", join(dir, patch)], {
      encoding: "utf8",
    });
    if (made.status !== 0) fail(`zstd --patch-from failed: ${made.stderr.trim()}`);
    const patchBytes = new Uint8Array(readFileSync(join(dir, patch)));
    patches.push({
      file: patch,
      algorithm: "zstd",
      from_sha256: previousManifest.binary.sha256,
      sha256: sha256(patchBytes),
      length: patchBytes.length,
    });
    console.log(
      `${target}: patch from release ${previousManifest.release}: ${patchBytes.length} bytes (${
        (patchBytes.length / bytes.length * 100).toFixed(3)
      } % of the binary), made in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  const manifest: Manifest = {
    format: 1,
    product: "realer-edge",
    target: target as Manifest["target"],
    version: VERSION,
    release,
    binary: { file, sha256: sha256(bytes), length: bytes.length },
    issued_at: new Date(now).toISOString(),
    expires_at: new Date(now + Number(values["expires-days"]) * 86_400_000).toISOString(),
    min_version: values["min-version"]!,
    schema: { writes: SCHEMA_VERSION, oldest_reader: Number(values["oldest-reader"]) },
    patches,
  };
  const path = join(dir, "manifest.json");
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  parseManifest(new Uint8Array(readFileSync(path)));
  const signed = spawnSync("minisign", ["-S", "-s", values.key!, "-m", path, "-t", trustedCommentFor(manifest)], { stdio: "inherit" });
  if (signed.status !== 0 || !existsSync(`${path}.minisig`)) fail(`minisign -S failed for ${path}`);
  console.log(
    `${target}: release ${release}, version ${VERSION}, ${(statSync(join(dir, file)).size / 1024 / 1024).toFixed(1)} MiB, signed: ${dir}`,
  );
}
