// `realer-edge check` as a technician uses it before starting the service.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { runCli } from "../helpers/cli.ts";
import { DEMO_ROUTES, deviceConfig, startEmulator, tempDir } from "../helpers/harness.ts";

describe("realer-edge check", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let dir: { path: string; remove: () => void };

  before(async () => {
    ({ emulator, stop } = await startEmulator());
    dir = tempDir("check");
  });

  after(async () => {
    await stop?.();
    dir?.remove();
  });

  const check = async (name: string, config: unknown, extra: string[] = [], secret = "") => {
    const path = join(dir.path, name);
    writeFileSync(path, JSON.stringify(config));
    return runCli(["check", "--config", path, ...extra], { REALER_CLIENT_SECRET: secret || "unused" });
  };

  it("prints the binding table and says it is safe to start", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const result = await check("good.json", deviceConfig(emulator, device, dir.path), [], device.client_secret);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.match(lines[0]!, /^route\s+type\s+pin_port\s+line\s+settings$/);
    assert.ok(lines.some((line) => /^cmd_\w+\s+command\s+6\s+gpiochip0:6\s+-$/.test(line)), result.stdout);
    assert.ok(lines.some((line) => /^sen_\w+\s+sensor\s+5\s+gpiochip0:5\s+-$/.test(line)), result.stdout);
    assert.equal(lines.at(-1), "ok: safe to start");
  });

  it("prints each input that drives an output on the board", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const base = deviceConfig(emulator, device, dir.path);
    const config = { ...base, routes: [base.routes[0]!, { ...base.routes[1]!, controls: { output: "6", mode: "toggle" } }] };
    const result = await check("wall-switch.json", config, [], device.client_secret);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(
      result.stdout.split("\n").includes(
        "local: pin_port 5 (gpiochip0:5) toggles pin_port 6 (gpiochip0:6) on the board, with or without the cloud",
      ),
      result.stdout,
    );
  });

  it("prints each output's fail-safe, and names one on a route the catalog makes a sensor", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const base = deviceConfig(emulator, device, dir.path);
    const config = {
      ...base,
      routes: [
        { ...base.routes[0]!, failsafe: { value: 0, after_s: 900, on_subscription_inactive: true } },
        { ...base.routes[1]!, failsafe: { value: 1, after_s: 60, on_subscription_inactive: false } },
      ],
    };
    const result = await check("failsafe.json", config, [], device.client_secret);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const lines = result.stdout.split("\n");
    assert.ok(
      lines.includes(
        "fail-safe: pin_port 6 (gpiochip0:6) goes to 0 after 900 s without a working link, and at once on 4002 (subscription inactive)",
      ),
      result.stdout,
    );
    assert.ok(lines.includes("fail-safe: pin_port 5 (gpiochip0:5) goes to 1 after 60 s without a working link"), result.stdout);
    assert.ok(lines.includes("problem: config entry pin_port 5 has a fail-safe, but the catalog makes it a sensor route"), result.stdout);
  });

  it("prints a dimmer's mapping, and names a PWM channel the board does not have", async () => {
    const device = emulator.provision([{ source_type: "command", kind: "dimmer", pin_port: "7", min: 0, max: 100 }, {
      source_type: "command",
      kind: "fan",
      pin_port: "8",
    }]);
    const base = deviceConfig(emulator, device, dir.path);
    const config = {
      ...base,
      routes: [
        { pin_port: "7", pwm: { chip: "pwmchip0", channel: 1, min_on_pct: 8, gamma: 2.2 } },
        { pin_port: "8", pwm: { chip: "pwmchip0", channel: 4 } },
      ],
    };
    const result = await check("dimmer.json", config, [], device.client_secret);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const lines = result.stdout.split("\n");
    assert.ok(
      lines.some((line) => /^cmd_\w+\s+command\s+7\s+pwm pwmchip0\/1\s+0–100, 1000 Hz, min on 8 %, gamma 2\.2$/.test(line)),
      result.stdout,
    );
    assert.ok(lines.includes("problem: PWM chip pwmchip0 has 2 channels: no channel 4 (for pin_port 8)"), result.stdout);
  });

  it("names each mistake on one line and exits 1", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const base = deviceConfig(emulator, device, dir.path);
    const sensor = base.routes[1]!;
    const config = {
      ...base,
      routes: [
        sensor,
        { ...sensor, pin_port: undefined, source_id: "sen_not_in_the_catalog" },
        { ...sensor, pin_port: "9", line: { chip: "gpiochip0", offset: 99 } },
      ],
    };
    const result = await check("mistakes.json", config, [], device.client_secret);
    assert.equal(result.code, 1);
    const problems = result.stdout.split("\n").filter((line) => line.startsWith("problem: "));
    const expected = [
      /line gpiochip0:5 is bound twice: by pin_port 5 and by sen_not_in_the_catalog/,
      /line 99 on gpiochip0 does not exist on this board/,
      /config entry sen_not_in_the_catalog names no route in the catalog/,
      /config entry pin_port 9 names no route in the catalog/,
    ];
    for (const pattern of expected) assert.ok(problems.some((line) => pattern.test(line)), `${pattern} in:\n${problems.join("\n")}`);
    assert.equal(problems.length, expected.length, problems.join("\n"));
    assert.match(result.stdout.trim().split("\n").at(-1)!, /^4 problems: not safe to start$/);
    assert.match(
      result.stdout,
      /^warning: catalog route cmd_\w+ \(command, pin_port 6\) has no line in the config: its desired states are answered rejected$/m,
      "an unbound command route is a warning: the device answers it",
    );
  });

  it("says why the catalog cannot be read, and checks lines alone with --offline", async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const unreachable = { ...deviceConfig(emulator, device, dir.path), api_url: "https://127.0.0.1:9" };
    const online = await check("unreachable.json", unreachable, [], device.client_secret);
    assert.equal(online.code, 1);
    assert.match(online.stdout, /problem: cannot read the catalog: Cannot reach POST https:\/\/127\.0\.0\.1:9\/oauth\/token/);
    const offline = await check("unreachable.json", unreachable, ["--offline"], device.client_secret);
    assert.equal(offline.code, 0, offline.stdout);
    assert.match(offline.stdout, /^ok: safe to start$/m);
  });

  it("exits 2 on a config it cannot load", async () => {
    const result = await check("broken.json", { api_url: "https://x" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^realer-edge: Cannot load config .*broken\.json: device_id: is required\n$/);
  });
});
