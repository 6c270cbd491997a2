// Type=notify as systemd sees it: a datagram socket in NOTIFY_SOCKET receives READY=1 once the
// device has claimed its lines and connected, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { AF_UNIX, type LibC, loadLibc, MSG_DONTWAIT, SOCK_DGRAM, unixAddress } from "../../src/platform/libc.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { startCli } from "../helpers/cli.ts";
import { DEMO_ROUTES, deviceConfig, startEmulator, tempDir, waitFor } from "../helpers/harness.ts";

// Under Deno the CLI runs with the start task's permissions, which grant no FFI: sd_notify is for
// the compiled Bun binary that the systemd unit starts.
const skip = runtimeName === "deno" ? "sd_notify needs FFI, which the Deno start task does not grant; the unit runs the Bun binary" : false;

describe("systemd notify", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let dir: { path: string; remove: () => void };

  before(async () => {
    ({ emulator, stop } = await startEmulator());
    dir = tempDir("notify");
  });

  after(async () => {
    await stop?.();
    dir?.remove();
  });

  it("sends READY=1 after connecting, WATCHDOG=1 on time, STOPPING=1 on SIGTERM", { skip, timeout: 30_000 }, async () => {
    const libc: LibC = await loadLibc();
    const socketPath = join(dir.path, "notify.sock");
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM, 0);
    assert.equal(libc.bind(fd, unixAddress(socketPath)), 0, `bind errno ${libc.errno()}`);
    const received: { at: number; text: string }[] = [];
    const drain = () => {
      const buffer = new Uint8Array(4096);
      for (;;) {
        const count = libc.recv(fd, buffer, MSG_DONTWAIT);
        if (count <= 0) return;
        received.push({ at: Date.now(), text: new TextDecoder().decode(buffer.subarray(0, count)) });
      }
    };
    const device = emulator.provision(DEMO_ROUTES);
    const configPath = join(dir.path, "device.json");
    writeFileSync(configPath, JSON.stringify(deviceConfig(emulator, device, join(dir.path, "state"))));
    const cli = startCli(["run", "--config", configPath], {
      REALER_CLIENT_SECRET: device.client_secret,
      NOTIFY_SOCKET: socketPath,
      WATCHDOG_USEC: "400000",
    });
    try {
      await waitFor("READY=1", () => (drain(), received.some((m) => m.text.startsWith("READY=1"))), 15_000);
      const ready = received.find((m) => m.text.startsWith("READY=1"))!;
      assert.match(ready.text, /STATUS=connected over MQTT/);
      assert.ok(cli.output().stdout.includes("mqtt.connected"), "ready comes after the connection");
      await waitFor("three watchdog pings", () => (drain(), received.filter((m) => m.text === "WATCHDOG=1").length >= 3), 5_000);
      const pings = received.filter((m) => m.text === "WATCHDOG=1").map((m) => m.at);
      const gaps = pings.slice(1).map((at, i) => at - pings[i]!);
      assert.ok(gaps.every((gap) => gap >= 150 && gap <= 400), `pings every ~200 ms, saw ${gaps.join(", ")}`);
      cli.kill("SIGTERM");
      assert.equal(await cli.exited, 0);
      drain();
      assert.ok(received.some((m) => m.text === "STOPPING=1"));
    } finally {
      cli.kill("SIGKILL");
      libc.close(fd);
    }
  });

  it(
    "tells systemd in STATUS why it cannot reach its cloud (a refused client secret), and still becomes READY",
    { skip, timeout: 30_000 },
    async () => {
      const libc: LibC = await loadLibc();
      const socketPath = join(dir.path, "notify-refused.sock");
      const fd = libc.socket(AF_UNIX, SOCK_DGRAM, 0);
      assert.equal(libc.bind(fd, unixAddress(socketPath)), 0, `bind errno ${libc.errno()}`);
      const received: string[] = [];
      const drain = () => {
        const buffer = new Uint8Array(4096);
        for (;;) {
          const count = libc.recv(fd, buffer, MSG_DONTWAIT);
          if (count <= 0) return;
          received.push(new TextDecoder().decode(buffer.subarray(0, count)));
        }
      };
      const device = emulator.provision(DEMO_ROUTES);
      const configPath = join(dir.path, "device-refused.json");
      writeFileSync(configPath, JSON.stringify(deviceConfig(emulator, device, join(dir.path, "state-refused"))));
      const cli = startCli(["run", "--config", configPath], { REALER_CLIENT_SECRET: "not-the-secret", NOTIFY_SOCKET: socketPath });
      try {
        const status = await waitFor(
          "a STATUS naming the refusal",
          () => (drain(), received.find((m) => m.includes("STATUS=") && m.includes("the OAuth client was refused"))),
          15_000,
        );
        assert.match(status, /HTTP 401/);
        assert.ok(!status.includes("not-the-secret"));
        const ready = await waitFor("READY=1 while offline", () => (drain(), received.find((m) => m.startsWith("READY=1"))), 15_000);
        assert.match(ready, /STATUS=.*refused/, "ready, saying why it is offline: systemd must not kill a device that works locally");
        cli.kill("SIGTERM");
        assert.equal(await cli.exited, 0);
      } finally {
        cli.kill("SIGKILL");
        libc.close(fd);
      }
    },
  );
});
