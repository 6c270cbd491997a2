import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureCertificates } from "../emulator/certs.ts";
import { createFetch, serve, type Server } from "../platform/index.ts";
import { makeKeyPair, signMinisign } from "../../test/helpers/minisign-signer.ts";
import { dailyBudget } from "./daily-budget.ts";
import { httpsSource } from "./https-source.ts";
import { trustedCommentFor } from "./manifest.ts";
import { parsePublicKey } from "./minisign.ts";
import { UpdateRefusal } from "./refusal.ts";
import { Updater } from "./updater.ts";
import { updateCommand } from "../commands/update.ts";
import { VERSION } from "../version.ts";

const pair = makeKeyPair();

/** Cuts the next binary download after `cut.after` bytes, as a reset connection would: the body errors. */
const cut = { after: 0 };
function cutting(inner: typeof fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const response = await inner(input, init);
    if (cut.after === 0 || !String(input).includes("realer-edge-linux") || !response.body) return response;
    let left = cut.after;
    cut.after = 0;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        if (value.length >= left) {
          controller.enqueue(value.subarray(0, left));
          await reader.cancel();
          return controller.error(new Error("connection reset by peer"));
        }
        left -= value.length;
        controller.enqueue(value);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }) as typeof fetch;
}
const script = (version: string) => `#!/bin/sh\necho "realer-edge ${version} (commit test, sh)"\n#${"z".repeat(300_000)}\n`;

describe("an HTTPS channel (TLS on loopback, a CA of its own)", () => {
  const dir = mkdtempSync(join(tmpdir(), "channel-"));
  let server: Server;
  let base = "";
  let ca = "";
  /** What the server does: ignore Range or not, and the Range headers it saw. */
  const behaviour = { ignoreRange: false, ranges: [] as string[] };
  let serving = "";

  const publish = (version: string, number: number) => {
    serving = mkdtempSync(join(dir, "release-"));
    const body = script(version);
    writeFileSync(join(serving, "realer-edge-linux-x64"), body);
    const manifest = {
      format: 1,
      product: "realer-edge",
      target: "linux-x64",
      version,
      release: number,
      binary: { file: "realer-edge-linux-x64", sha256: createHash("sha256").update(body).digest("hex"), length: body.length },
      issued_at: new Date(Date.now() - 60_000).toISOString(),
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      min_version: "0.1.0",
      schema: { writes: 3, oldest_reader: 3 },
    };
    const text = new TextEncoder().encode(JSON.stringify(manifest));
    writeFileSync(join(serving, "manifest.json"), text);
    writeFileSync(join(serving, "manifest.json.minisig"), signMinisign(pair, text, trustedCommentFor(manifest as never)));
  };

  before(async () => {
    const certs = await ensureCertificates(join(dir, "certs"));
    ca = certs.caPem;
    server = serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: certs.certPem, key: certs.keyPem },
      fetch: (request) => {
        const name = new URL(request.url).pathname.split("/").pop() ?? "";
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(readFileSync(join(serving, name)));
        } catch {
          return new Response("no such file", { status: 404 });
        }
        const range = request.headers.get("range");
        if (range) behaviour.ranges.push(range);
        let status = 200;
        if (range && !behaviour.ignoreRange) {
          const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
          if (from >= bytes.length) return new Response(null, { status: 416 });
          bytes = bytes.subarray(from);
          status = 206;
        }
        return new Response(bytes.slice().buffer, { status });
      },
    });
    base = `https://127.0.0.1:${server.port}/linux-x64/`;
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const board = async (budget?: { perDay: number; now: () => number }) => {
    const root = mkdtempSync(join(dir, "board-"));
    const installed = join(root, "installed");
    writeFileSync(installed, script("0.2.0"));
    chmodSync(installed, 0o755);
    const updater = new Updater({
      root: join(root, "update"),
      installedVersion: "0.2.0",
      keys: [parsePublicKey(pair.publicKeyFile)],
      board: { target: "linux-x64", schemaReader: 3, now: Date.now() },
    });
    await updater.adopt(installed, "0.2.0");
    const source = httpsSource(base, {
      fetch: cutting(createFetch(ca)),
      ...(budget ? { budget: dailyBudget(join(root, "budget.json"), budget.perDay, budget.now) } : {}),
    });
    return { updater, source };
  };

  it("takes a release over TLS verified against the channel's CA, and refuses a server it cannot verify", async () => {
    publish("0.3.0", 1);
    const { updater, source } = await board();
    const staged = await updater.apply(source);
    assert.deepEqual([staged.manifest.release, staged.via], [1, "full"]);
    const untrusted = httpsSource(base, { fetch: createFetch(undefined) });
    const { updater: other } = await board();
    await assert.rejects(other.apply(untrusted), (error: unknown) => error instanceof UpdateRefusal && error.check === "download");
    assert.throws(() => httpsSource("http://127.0.0.1:1/", { fetch }), /not https:\/\//);
  });

  it("never shows a password the channel's URL carries (basic auth) in a refusal or its name", async () => {
    const source = httpsSource("https://board:hunter2@127.0.0.1:9/realer-edge/linux-x64/", { fetch: createFetch(ca) });
    assert.equal(source.name, "https://127.0.0.1:9/realer-edge/linux-x64/");
    await assert.rejects(source.manifest(), (error: Error) => {
      assert.ok(error instanceof UpdateRefusal);
      assert.match(error.message, /^refused \(download\): cannot fetch https:\/\/127\.0\.0\.1:9\/realer-edge\/linux-x64\/manifest\.json: /);
      assert.doesNotMatch(error.message, /hunter2|board@/);
      return true;
    });
  });

  it("refuses a manifest over its cap without reading it all", async () => {
    publish("0.3.0", 1);
    writeFileSync(join(serving, "manifest.json"), "x".repeat(70_000));
    const { updater, source } = await board();
    await assert.rejects(updater.apply(source), /^UpdateRefusal: refused \(length\): the manifest is over 65536 bytes$/);
  });

  it("goes on from where a cut-off download stopped, with a Range request, and checks the whole file", async () => {
    publish("0.3.0", 1);
    const { updater, source } = await board();
    cut.after = 100_000;
    behaviour.ranges.length = 0;
    await assert.rejects(updater.apply(source), /refused \(download\): .*the next try goes on from there/);
    // What was kept is what had been read when the connection broke (up to the cut).
    const kept = statSync(join(updater.slots.root, "slots/b/realer-edge.part")).size;
    assert.ok(kept > 0 && kept <= 100_000, `${kept} bytes kept`);
    // A start of the service (a power cut's reboot) in between keeps it too.
    assert.equal(updater.recordStart(), "committed");
    assert.equal(statSync(join(updater.slots.root, "slots/b/realer-edge.part")).size, kept);
    const staged = await updater.apply(source);
    assert.equal(staged.manifest.release, 1);
    assert.deepEqual(behaviour.ranges, [`bytes=${kept}-`]);
    // A server that ignores Range sends the whole file again: what was kept is skipped, not written twice.
    publish("0.4.0", 2);
    const second = await board();
    cut.after = 50_000;
    behaviour.ignoreRange = true;
    await assert.rejects(second.updater.apply(second.source), /the next try goes on from there/);
    assert.equal((await second.updater.apply(second.source)).manifest.release, 2);
    behaviour.ignoreRange = false;
  });

  it("stops at the day's byte budget and goes on from there the next day", async () => {
    publish("0.3.0", 1);
    let now = Date.parse("2026-12-02T10:00:00Z");
    const { updater, source } = await board({ perDay: 120_000, now: () => now });
    await assert.rejects(updater.apply(source), /byte budget for today is spent/);
    await assert.rejects(updater.apply(source), /byte budget for today is spent/, "still today");
    now += 86_400_000;
    const next = httpsSource(base, {
      fetch: createFetch(ca),
      budget: dailyBudget(join(updater.slots.root, "..", "budget.json"), 400_000, () => now),
    });
    assert.equal((await updater.apply(next)).manifest.release, 1);
  });

  it("update poll takes a newer release from the config's channel, and then says it is up to date", async () => {
    publish(VERSION.replace(/\d+$/, (patch) => String(Number(patch) + 1)), 7);
    const root = mkdtempSync(join(dir, "poll-"));
    const installed = join(root, "installed");
    writeFileSync(installed, script(VERSION));
    chmodSync(installed, 0o755);
    writeFileSync(join(root, "release.pub"), pair.publicKeyFile);
    writeFileSync(join(root, "ca.crt"), ca);
    const config = {
      api_url: "https://127.0.0.1:9/",
      device_id: 1,
      client_id: "cdv_1",
      client_secret: { env: "REALER_CLIENT_SECRET" },
      ca_file: join(root, "ca.crt"),
      gpio: { backend: "mock" },
      routes: [],
      updates: { channel: base, trial_window_s: 300 },
    };
    writeFileSync(join(root, "device.json"), JSON.stringify(config));
    const lines: string[] = [];
    const restarts: string[] = [];
    const probe = {
      facts: () => Promise.resolve({ active: true, restarts: 0, watchdogKilled: false }),
      restart: () => Promise.resolve(void restarts.push("restart")),
      tryRestart: () => Promise.resolve(void restarts.push("try-restart")),
    };
    const run = (...args: string[]) =>
      updateCommand({
        args,
        updateDir: join(root, "update"),
        keys: join(root, "release.pub"),
        configPath: join(root, "device.json"),
        probe,
        print: (line) => lines.push(line),
      });
    assert.equal(await run("adopt", installed), 0);
    assert.equal(await run("poll"), 0, lines.join("\n"));
    assert.match(lines.at(-1)!, /^staged: release 7 \(.*\) is on trial, from \d+ bytes$/);
    assert.deepEqual(restarts, ["try-restart"], "a running service moves onto the trial; a stopped one is left stopped");
    assert.ok(existsSync(join(root, "update", "trial-open")), "the watch timer's condition holds while the trial is open");
    assert.equal(await run("poll"), 0);
    assert.match(lines.at(-1)!, /^trial: release 7 is on trial/);
    assert.equal(await run("commit"), 0);
    assert.ok(!existsSync(join(root, "update", "trial-open")));
    assert.equal(await run("poll"), 0);
    assert.equal(lines.at(-1), "up to date: the channel offers release 7; release 7 was the last taken");
    assert.equal(await run("status"), 0);
    assert.match(lines.at(-1)!, new RegExp(`^last poll: \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${base.replace(/[.]/g, "\\.")} offered release 7$`));
    // The poll timer runs on every board: one without a channel has nothing to poll, and says so.
    writeFileSync(join(root, "device.json"), JSON.stringify({ ...config, updates: undefined }));
    assert.equal(await run("poll"), 0);
    assert.equal(lines.at(-1), `no updates.channel in ${join(root, "device.json")}: nothing to poll`);
  });
});
