// A release manifest: one JSON file per release and target that binds every byte an update
// installs (the binary's hash and length, each patch's base and result), what it may replace
// (a version floor, the state schema it writes and the oldest reader that can open it), and
// when it is valid. It is signed as a whole with minisign; its trusted comment repeats the
// product, target and release number, so a signature cannot be moved onto another manifest.
import * as v from "valibot";

/** The most a manifest may be: it is read into memory before anything is verified. */
export const MANIFEST_MAX_BYTES = 64 * 1024;
/** The most a binary may be (our arm64 binary is about 110 MiB). */
export const BINARY_MAX_BYTES = 512 * 1024 * 1024;

const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits (a sha256)"));
const Length = v.pipe(
  v.number(),
  v.safeInteger("must be a whole number of bytes"),
  v.minValue(1, "must be at least 1 byte"),
  v.maxValue(BINARY_MAX_BYTES, `must be at most ${BINARY_MAX_BYTES} bytes`),
);
const FileName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be a plain file name (no path)"));
const Version = v.pipe(v.string(), v.regex(/^\d{1,5}\.\d{1,5}\.\d{1,5}$/, "must be MAJOR.MINOR.PATCH"));
const Instant = v.pipe(v.string(), v.isoTimestamp("must be an ISO 8601 timestamp with a zone"));
const Schema = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1_000_000));

/** The targets a release is built for. */
export const TARGETS = ["linux-arm64", "linux-x64"] as const;

export const ManifestSchema = v.pipe(
  v.strictObject({
    format: v.literal(1, "must be 1"),
    product: v.literal("realer-edge", 'must be "realer-edge"'),
    target: v.picklist(TARGETS, `must be one of ${TARGETS.join(", ")}`),
    version: Version,
    release: v.pipe(
      v.number(),
      v.safeInteger("must be a whole number"),
      v.minValue(1, "must be at least 1"),
      v.description("Rises with every release of the product, whatever the target: the ratchet compares it."),
    ),
    binary: v.strictObject({ file: FileName, sha256: Sha256, length: Length }),
    issued_at: Instant,
    expires_at: Instant,
    min_version: v.pipe(Version, v.description("The oldest running version this release may replace.")),
    schema: v.strictObject({
      writes: v.pipe(Schema, v.description("The state file schema this release writes.")),
      oldest_reader: v.pipe(Schema, v.description("The oldest schema reader that can still open a file this release wrote.")),
    }),
    patches: v.optional(
      v.pipe(
        v.array(
          v.strictObject({
            file: FileName,
            algorithm: v.picklist(["zstd"], 'must be "zstd"'),
            from_sha256: v.pipe(Sha256, v.description("The binary the patch applies to.")),
            sha256: Sha256,
            length: Length,
          }),
        ),
        v.maxLength(16, "at most 16 patches"),
      ),
      [],
    ),
  }),
  v.check((manifest) => Date.parse(manifest.expires_at) > Date.parse(manifest.issued_at), "expires_at must be after issued_at"),
  v.check((manifest) => manifest.schema.oldest_reader <= manifest.schema.writes, "schema.oldest_reader must not be above schema.writes"),
);

/** A parsed manifest. */
export type Manifest = v.InferOutput<typeof ManifestSchema>;

/** Why a manifest is refused, in one line. */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

/** The trusted comment a manifest's signature must carry: the fields that say which release it is. */
export function trustedCommentFor(manifest: Pick<Manifest, "product" | "target" | "release" | "version">): string {
  return `${manifest.product} ${manifest.target} release ${manifest.release} version ${manifest.version}`;
}

/** Parses a manifest's bytes; throws a {@linkcode ManifestError} naming the field. Nothing is trusted yet. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (bytes.length > MANIFEST_MAX_BYTES) throw new ManifestError(`the manifest is ${bytes.length} bytes, over ${MANIFEST_MAX_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ManifestError(`the manifest is not JSON (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
  }
  const parsed = v.safeParse(ManifestSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = (issue.path ?? []).map((item) => (typeof item.key === "number" ? `[${item.key}]` : `.${String(item.key)}`)).join("")
      .replace(/^\./, "");
    throw new ManifestError(`the manifest's ${path || "body"}: ${issue.message}`);
  }
  return parsed.output;
}

/** Compares two MAJOR.MINOR.PATCH versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split(".").map(Number));
  for (let i = 0; i < 3; i++) {
    const d = (x![i] ?? 0) - (y![i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
