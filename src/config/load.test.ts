import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RealerError } from "../errors.ts";
import { loadConfig, parseConfig, readClientSecret } from "./load.ts";

const valid = {
  api_url: "https://api.therealer.com",
  device_id: 12345,
  client_id: "cdv_01234567890123456789012345",
  client_secret: { env: "REALER_CLIENT_SECRET" },
  gpio: { backend: "mock" },
  routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }],
};

const messageOf = (config: unknown) => {
  try {
    parseConfig(JSON.stringify(config), "device.json");
  } catch (error) {
    assert.ok(error instanceof RealerError && error.kind === "config");
    return error.message;
  }
  assert.fail("the config was accepted");
};

describe("parseConfig()", () => {
  it("accepts a minimal config and fills the defaults", () => {
    const config = parseConfig(JSON.stringify(valid), "device.json");
    assert.equal(config.state_dir, "/var/lib/realer-edge");
    assert.deepEqual(config.log, { level: "info", format: "text" });
    assert.deepEqual(config.routes[0], {
      pin_port: "6",
      line: { chip: "gpiochip0", offset: 6 },
      active_low: false,
      bias: "as-is",
      drive: "push-pull",
      power_on: "off",
      restore_max_age_s: 86_400,
      interlock_dead_time_ms: 0,
      shutdown: "hold",
      debounce_ms: 0,
      latest_value: false,
      heartbeat_s: 300,
    });
  });

  it("names the file and the field of each mistake, in one line", () => {
    const cases: [unknown, RegExp][] = [
      [{ ...valid, api_url: "http://api.therealer.com" }, /^Cannot load config device\.json: api_url: must be an https:\/\/ URL/],
      [{ ...valid, device_id: undefined }, /: device_id: is required$/],
      [
        { ...valid, routes: [{ pin_port: "6", source_id: "cmd_x", line: { name: "RELAY" } }] },
        /: routes\[0\]: needs exactly one of source_id, pin_port or feed_data_topic$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0" } }] },
        /: routes\[0\]\.line: must be \{chip, offset\} or \{name\}$/,
      ],
      [{ ...valid, routes: [{ pin_port: "6", line: { name: "X" }, debounce: 5 }] }, /: routes\[0\]\.debounce: unknown field$/],
      [{ ...valid, gpio: { backend: "gpiod" } }, /: gpio\.backend: must be one of: cdev, libgpiod, sysfs, mock$/],
      [{ ...valid, routes: [{ pin_port: "6" }] }, /: routes\[0\]: needs exactly one of line, file or pwm$/],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, pwm: { chip: "pwmchip0", channel: 0 } }] },
        /: routes\[0\]: needs exactly one of line, file or pwm$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, range: { max: 10 } }] },
        /: routes\[0\]: only a PWM route takes a range/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0 }, direction: "input" }] },
        /: routes\[0\]: a PWM channel is an output/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0 }, pulse_ms: 100 }] },
        /: routes\[0\]: a PWM output cannot pulse/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, power_on: 1 }] },
        /: routes\[0\]: a power_on level is for a PWM route, within its range$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0 }, power_on: 101 }] },
        /: routes\[0\]: a power_on level is for a PWM route, within its range$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, failsafe: { value: 0.5, after_s: 10 } }] },
        /: routes\[0\]: the fail-safe value must be 0 \(inactive\) or 1/,
      ],
      [{
        ...valid,
        routes: [{
          pin_port: "6",
          pwm: { chip: "pwmchip0", channel: 0 },
          range: { min: 10, max: 20 },
          failsafe: { value: 5, after_s: 10 },
        }],
      }, /: routes\[0\]: the fail-safe value must be .* a level within its range$/],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0, duty_min_pct: 50, duty_max_pct: 40 } }] },
        /: routes\[0\]\.pwm: duty_max_pct must be above duty_min_pct$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0, duty_min_pct: 10, min_on_pct: 5 } }] },
        /: routes\[0\]\.pwm: min_on_pct must lie between/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0, frequency_hz: 0 } }] },
        /: routes\[0\]\.pwm\.frequency_hz: must be at least 0.01 Hz$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0 }, range: { min: 5, max: 5 } }] },
        /: routes\[0\]\.range: max must be above min$/,
      ],
      [
        { ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, pulse_ms: 500, power_on: "restore" }] },
        /: routes\[0\]: a pulse output must power on "off"/,
      ],
      [{ ...valid, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, power_on: "last" }] }, /: routes\[0\]\.power_on: /],
      [
        { ...valid, routes: [{ pin_port: "6", file: { path: "/sys/x" }, direction: "output" }] },
        /: routes\[0\]: a file source is a sensor/,
      ],
      [{ ...valid, client_secret: "s3cr3t" }, /: client_secret: must be \{"env": NAME\} or \{"file": PATH\}/],
    ];
    for (const [config, pattern] of cases) {
      const message = messageOf(config);
      assert.match(message, pattern);
      assert.ok(!message.includes("\n"));
    }
  });

  it("takes an input that controls an output, and names the field of each wrong binding in one line", () => {
    const relay = { pin_port: "6", line: { chip: "gpiochip0", offset: 6 } };
    const button = (controls: unknown, extra: Record<string, unknown> = {}) => ({
      pin_port: "5",
      line: { chip: "gpiochip0", offset: 5 },
      controls,
      ...extra,
    });
    const ok = parseConfig(JSON.stringify({ ...valid, routes: [relay, button({ output: "6", mode: "toggle" })] }), "device.json");
    assert.deepEqual(ok.routes[1]?.controls, { output: "6", mode: "toggle" });
    const cases: [unknown[], string][] = [
      [[relay, button({ output: "7", mode: "toggle" })], 'routes[1].controls.output: "7" names no route entry'],
      [[relay, button({ output: "5", mode: "toggle" })], 'routes[1].controls.output: "5" is this input itself'],
      [[relay, button({ output: "6", mode: "dim" })], "routes[1].controls.mode: must be one of toggle, follow, flip, momentary"],
      [
        [relay, button({ output: "6", mode: "follow" }), button({ output: "6", mode: "follow" }, { pin_port: "4" })],
        'routes[2].controls.mode: "6" (routes[0]) already follows routes[1]',
      ],
      [
        [{ ...relay, pulse_ms: 500 }, button({ output: "6", mode: "follow" })],
        'routes[1].controls.mode: follow cannot drive "6" (routes[0]): a pulse output',
      ],
      [
        [{ ...relay, direction: "input" }, button({ output: "6", mode: "toggle" })],
        'routes[1].controls.output: "6" (routes[0]) is not an output',
      ],
      [[relay, button({ output: "6", mode: "toggle" }, { direction: "output" })], "routes[1]: only an input line can control an output"],
      [[
        relay,
        { ...relay, source_id: "6", pin_port: undefined, line: { chip: "gpiochip0", offset: 7 } },
        button({ output: "6", mode: "toggle" }),
      ], 'routes[2].controls.output: "6" names more than one route entry'],
    ];
    for (const [routes, expected] of cases) {
      const message = messageOf({ ...valid, routes });
      assert.ok(message.startsWith(`Cannot load config device.json: ${expected}`), `${expected}\n  got: ${message}`);
      assert.ok(!message.includes("\n"), "one line");
    }
  });

  it("says where JSON is broken", () => {
    assert.throws(() => parseConfig('{ "api_url": ', "device.json"), { message: /^Cannot read config device\.json: not valid JSON/ });
  });
});

describe("loadConfig()", () => {
  it("names a missing file", () => {
    assert.throws(() => loadConfig("/nonexistent/device.json"), {
      message: /^Cannot read config \/nonexistent\/device\.json: no such file$/,
    });
  });
});

describe("readClientSecret()", () => {
  const config = parseConfig(JSON.stringify(valid), "device.json");

  it("reads the secret from the environment variable the config names", () => {
    const secret = readClientSecret(config, "device.json", { REALER_CLIENT_SECRET: "abc" });
    assert.equal(secret.reveal(), "abc");
    assert.equal(String(secret), "[redacted]");
  });

  it("says which variable is missing", () => {
    assert.throws(() => readClientSecret(config, "device.json", {}), {
      message: /client_secret\.env: environment variable REALER_CLIENT_SECRET is not set/,
    });
  });

  it("reads a secret file and trims its newline", () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-secret-"));
    writeFileSync(join(dir, "secret"), "from-file\n");
    const fromFile = parseConfig(JSON.stringify({ ...valid, client_secret: { file: join(dir, "secret") } }), "device.json");
    assert.equal(readClientSecret(fromFile, "device.json", {}).reveal(), "from-file");
  });
});
