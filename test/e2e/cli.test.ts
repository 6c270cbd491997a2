// The CLI as a user meets it: one clear line and an exit code on failure, and no secret in
// anything it prints.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { runCli, startCli } from "../helpers/cli.ts";
import { DEMO_ROUTES, deviceConfig, startEmulator, tempDir, waitFor } from "../helpers/harness.ts";

describe("realer-edge CLI", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let dir: { path: string; remove: () => void };

  before(async () => {
    ({ emulator, stop } = await startEmulator());
    dir = tempDir("cli");
  });

  after(async () => {
    await stop?.();
    dir?.remove();
  });

  const writeConfig = (name: string, config: unknown) => {
    const path = join(dir.path, name);
    writeFileSync(path, JSON.stringify(config, null, 2));
    return path;
  };

  it(
    "keeps running on a wrong client secret, naming the refused call in one line, and stops cleanly on SIGTERM",
    { timeout: 30_000 },
    async () => {
      const device = emulator.provision(DEMO_ROUTES);
      const path = writeConfig("wrong-secret.json", deviceConfig(emulator, device, join(dir.path, "state-wrong")));
      const cli = startCli(["run", "--config", path], { REALER_CLIENT_SECRET: "not-the-secret" });
      const refused = await waitFor(
        "the refusal to be logged",
        () => cli.output().stdout.split("\n").find((line) => line.includes("auth.refused")),
        15_000,
      );
      assert.match(refused, /POST https:\/\/127\.0\.0\.1:\d+\/oauth\/token failed with HTTP 401 .*invalid_client/);
      assert.match(refused, /the OAuth client was refused: check client_id and the client secret/);
      const early = await Promise.race([
        cli.exited.then(() => "exited"),
        new Promise((resolve) => setTimeout(() => resolve("running"), 1000)),
      ]);
      assert.equal(early, "running", "a field device does not give up on what the cloud answers");
      cli.kill("SIGTERM");
      assert.equal(await cli.exited, 0);
      const { stdout, stderr } = cli.output();
      assert.doesNotMatch(stdout + stderr, /\n\s+at /, "no stack trace");
      assert.ok(!(stderr + stdout).includes("not-the-secret"));
    },
  );

  it("exits 2 with one line naming the file and the field of a bad config", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const config = deviceConfig(emulator, device, dir.path);
    const path = writeConfig("bad-offset.json", { ...config, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: -1 } }] });
    const result = await runCli(["run", "--config", path], { REALER_CLIENT_SECRET: device.client_secret });
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.ok(result.stderr.includes(path), "names the file");
    assert.match(result.stderr, /routes\[0\]\.line/, "names the field");
  });

  it("refuses a client secret written into the config itself", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const path = writeConfig("inline-secret.json", { ...deviceConfig(emulator, device, dir.path), client_secret: device.client_secret });
    const result = await runCli(["run", "--config", path]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /client_secret: must be \{"env": NAME\} or \{"file": PATH\}/);
    assert.ok(!result.stderr.includes(device.client_secret), "the error does not echo the secret");
  });

  it("stops cleanly on SIGTERM while it is still retrying an unreachable API", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const unreachable = { ...deviceConfig(emulator, device, join(dir.path, "state-unreachable")), api_url: "https://127.0.0.1:9" };
    const cli = startCli(["run", "--config", writeConfig("unreachable.json", unreachable)], { REALER_CLIENT_SECRET: device.client_secret });
    await waitFor("a retry line", () => cli.output().stdout.includes("catalog.retry"), 10_000);
    const sent = Date.now();
    cli.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.ok(Date.now() - sent < 5_000, "it stops within 5 s instead of waiting out its backoff");
  });

  it("stops at once on SIGTERM while MQTT is still connecting, without waiting for the ready timeout", { timeout: 30_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const config = deviceConfig(emulator, device, join(dir.path, "state-no-broker"));
    await emulator.broker.stop();
    const cli = startCli(["run", "--config", writeConfig("no-broker.json", config)], { REALER_CLIENT_SECRET: device.client_secret });
    try {
      // Without its broker the emulator cannot issue a credential: the request hangs, as a
      // cloud under load would, and the device is not online yet.
      await waitFor("the bootstrap to be read", () => cli.output().stdout.includes("bootstrap.loaded"), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sent = Date.now();
      cli.kill("SIGTERM");
      assert.equal(await cli.exited, 0);
      const took = Date.now() - sent;
      assert.ok(took < 5_000, `it stopped in ${took} ms; the device said:\n${cli.output().stdout.split("\n").slice(-8).join("\n")}`);
      assert.doesNotMatch(cli.output().stdout, /runtime\.exit_forced/);
    } finally {
      await emulator.broker.start();
      // The emulator's own broker client reconnects every 500 ms; let it, so later tests get
      // credentials at once.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });

  it("refuses a console on a non-loopback address without a token, in one line", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const open = { ...deviceConfig(emulator, device, join(dir.path, "state-open")), console: { enabled: true, host: "0.0.0.0", port: 0 } };
    const result = await runCli(["run", "--config", writeConfig("open-console.json", open)], {
      REALER_CLIENT_SECRET: device.client_secret,
    });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr.trim(),
      /^realer-edge: Cannot load config \S+open-console\.json: console: a console on a non-loopback host needs a token/,
    );
    assert.equal(result.stderr.trim().split("\n").length, 1);
  });

  it("runs, connects, and never prints or serves the MQTT password, the client secret or the bearer token", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const secretFile = join(dir.path, "client-secret");
    writeFileSync(secretFile, `${device.client_secret}\n`, { mode: 0o600 });
    const config = {
      ...deviceConfig(emulator, device, join(dir.path, "state-ok")),
      client_secret: { file: secretFile },
      console: { enabled: true, host: "127.0.0.1", port: 0 },
    };
    const path = writeConfig("good.json", config);
    const cli = startCli(["run", "--config", path, "--log-level", "debug"]);
    const served: string[] = [];
    try {
      await waitFor("the start-up reading to be acked", () => cli.output().stdout.includes("ack.received"), 20_000);
      const relay = device.routes.find((route) => route.source_type === "command")!;
      const desired = await emulator.setDesired(device.device_id, relay.source_id, "1.0");
      await waitFor(
        "the relay report to be acked",
        () => cli.output().stdout.includes(`desired_id=${desired.desiredId}`) && cli.output().stdout.includes("status=accepted"),
        10_000,
      );
      const url = /console\.ready url=(\S+)/.exec(cli.output().stdout)?.[1];
      assert.ok(url, "the console's address is logged");
      for (const page of ["", "api/status", "api/routes", "api/events", "metrics"]) {
        const answer: Response = await fetch(`${url}${page}`);
        assert.equal(answer.status, 200, page);
        served.push(await answer.text());
      }
      const routes = JSON.parse(served[2]!) as { routes: { type: string; physical: string; ack?: { status: string } }[] };
      assert.deepEqual(routes.routes.filter((route) => route.type === "command").map((route) => [route.physical, route.ack?.status]), [[
        "1.0",
        "accepted",
      ]]);
    } finally {
      cli.kill("SIGTERM");
    }
    assert.equal(await cli.exited, 0, "SIGTERM stops it cleanly");
    const { stdout, stderr } = cli.output();
    const passwords = emulator.issuedPasswords(device.device_id).map((secret) => secret.reveal());
    assert.ok(passwords.length >= 1);
    const tokens = [...emulator.state.tokens.entries()].filter(([, token]) => token.deviceId === device.device_id).map(([value]) => value);
    for (const secret of [...passwords, device.client_secret, ...tokens]) {
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), "a secret reached the output");
      assert.ok(served.every((body) => !body.includes(secret)), "a secret reached the console");
    }
    assert.match(stdout, /mqtt\.connected/);
    assert.match(stdout, /runtime\.stopped/);
  });
});

describe("realer-edge gpio", () => {
  it("lists the mock backend's chip and lines", async () => {
    const result = await runCli(["gpio", "info", "--backend", "mock"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^gpiochip0 \[realer-mock\] \/dev\/gpiochip0 \(32 lines\)$/m);
    assert.match(result.stdout, /line {2}31: "GPIO31"/);
  });

  it("answers a bad value or a missing chip with one line and the right exit code", async () => {
    const bad = await runCli(["gpio", "set", "gpiochip0", "6", "2", "--backend", "mock"]);
    assert.deepEqual([bad.code, bad.stderr.trim()], [2, "realer-edge: Cannot set: the value must be 0 or 1, got 2"]);
    const missing = await runCli(["gpio", "get", "gpiochip9", "1", "--backend", "mock"]);
    assert.deepEqual([missing.code, missing.stderr.trim()], [1, "realer-edge: Cannot request line 1 on gpiochip9: no such chip"]);
    const verb = await runCli(["gpio", "blink", "--backend", "mock"]);
    assert.equal(verb.code, 2);
  });
});
