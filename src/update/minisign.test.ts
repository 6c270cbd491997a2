import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeKeyPair, signMinisign } from "../../test/helpers/minisign-signer.ts";
import { MinisignError, parsePublicKey, verifyMinisign } from "./minisign.ts";

const FIXTURES = new URL("../../test/fixtures/minisign/", import.meta.url).pathname;
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const refused = (run: () => unknown, pattern: RegExp) =>
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof MinisignError, String(error));
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });

describe("minisign", () => {
  const vectorKey = parsePublicKey(fixture("vector.pub").toString());

  it("verifies a signature the real minisign 0.11 made, and returns its trusted comment", () => {
    assert.equal(vectorKey.id, "2EE9595F22BA3055");
    const { trustedComment } = verifyMinisign(fixture("vector.json"), fixture("vector.json.minisig").toString(), [vectorKey]);
    assert.equal(trustedComment, "release 7");
  });

  it("refuses a changed file, a changed trusted comment, another key and a legacy signature, each in one line", () => {
    const signature = fixture("vector.json.minisig").toString();
    refused(() => verifyMinisign(new TextEncoder().encode('{"hello":"World"}'), signature, [vectorKey]), /does not match the file/);
    refused(
      () => verifyMinisign(fixture("vector.json"), signature.replace("release 7", "release 9"), [vectorKey]),
      /trusted comment's signature does not match/,
    );
    refused(
      () => verifyMinisign(fixture("vector.json"), signature, [parsePublicKey(makeKeyPair().publicKeyFile)]),
      /not one of the trusted keys/,
    );
    refused(() => verifyMinisign(fixture("vector.json"), fixture("vector.json.legacy.minisig").toString(), [vectorKey]), /legacy/);
  });

  it("refuses malformed keys and signature files, never with a stack trace", () => {
    refused(() => parsePublicKey(""), /no key line/);
    refused(() => parsePublicKey("untrusted comment: x\nnot base64!"), /not base64/);
    refused(() => parsePublicKey("RWQ="), /bytes, not 42/);
    const good = fixture("vector.json.minisig").toString().split("\n");
    for (
      const broken of [
        "",
        "hello",
        [good[0], good[1]!.slice(0, 40), good[2], good[3]].join("\n"),
        [good[0], good[1], "comment: x", good[3]].join("\n"),
        [good[0], good[1], good[2], "AAAA"].join("\n"),
        "x".repeat(9000),
      ]
    ) {
      assert.throws(() => verifyMinisign(fixture("vector.json"), broken, [vectorKey]), MinisignError, JSON.stringify(broken.slice(0, 50)));
    }
  });

  it("signs in a form the real minisign verifies (the test signer is honest)", (t) => {
    if (spawnSync("minisign", ["-v"]).error) return t.skip("minisign is not installed (scripts/setup.sh installs it)");
    const dir = mkdtempSync(join(tmpdir(), "minisign-"));
    try {
      const pair = makeKeyPair();
      const message = new TextEncoder().encode('{"release":1}');
      writeFileSync(join(dir, "m.json"), message);
      writeFileSync(join(dir, "m.json.minisig"), signMinisign(pair, message, "release 1"));
      writeFileSync(join(dir, "k.pub"), pair.publicKeyFile);
      const run = spawnSync("minisign", ["-V", "-p", join(dir, "k.pub"), "-m", join(dir, "m.json")], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /Trusted comment: release 1/);
      assert.deepEqual(verifyMinisign(message, signMinisign(pair, message, "c"), [parsePublicKey(pair.publicKeyFile)]).trustedComment, "c");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
