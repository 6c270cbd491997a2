// Runs one scenario: provisions its device on the emulator, writes the device's config for the
// rig, starts the device process, runs the steps in order (a failed step ends the scenario, the
// rest are skipped), stops everything and puts the emulator's fault switches back.
import { levelRange } from "../config/schema.ts";
import { dutyMapping, valueOfState } from "../device/pwm-duty.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoDeviceConfig } from "../commands/demo-device.ts";
import type { Config } from "../config/schema.ts";
import type { Emulator } from "../emulator/emulator.ts";
import { noFaults } from "../emulator/faults.ts";
import { describeError } from "../errors.ts";
import { DeviceUnderTest } from "./device-under-test.ts";
import { ScenarioRecord } from "./record.ts";
import type { Rig, RigLine } from "./rig.ts";
import type { Scenario } from "./scenario.ts";
import { describeStep, runStep, type StepContext, StepFailed } from "./steps.ts";

/** How one scenario went. */
export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly record: ScenarioRecord;
  readonly rig: string;
  readonly passed: boolean;
  readonly durationMs: number;
  /** The device's last output when the scenario failed. */
  readonly deviceTail: string | undefined;
}

/** What a scenario run needs from outside. */
export interface ScenarioRunOptions {
  readonly emulator: Emulator;
  /** Makes the rig for this scenario (each device gets its own mock control port). */
  readonly rig: (scenario: Scenario) => Promise<Rig>;
  /** The device command: a binary, or a runtime and main.ts. */
  readonly command: readonly string[];
  /** A directory for the device's config and state. */
  readonly workDir: string;
  /** Gets a line as each step ends. */
  readonly progress: (line: string) => void;
}

/** Whether the device's log says it is online now: its last connect came after its last disconnect. */
function isOnline(lines: readonly { event?: string | undefined }[]): boolean {
  const last = (events: readonly string[]) => lines.findLastIndex((line) => events.includes(line.event ?? ""));
  return last(["mqtt.connected", "https.started"]) > last(["mqtt.disconnected"]);
}

/** Runs `scenario` and returns what it saw; never throws for a failing device or step. */
export async function runScenario(scenario: Scenario, options: ScenarioRunOptions): Promise<ScenarioResult> {
  const { emulator, progress } = options;
  const record = new ScenarioRecord();
  const started = performance.now();
  const device = emulator.provision(
    // A PWM route's catalog range is the one its config gives the device.
    scenario.routes.map((route) => ({
      source_type: route.source_type,
      kind: route.kind,
      pin_port: route.name,
      ...(route.config.pwm === undefined ? {} : { min: levelRange(route.config).min, max: levelRange(route.config).max }),
    })),
  );
  const sourceIds = new Map(
    scenario.routes.map((route) => [route.name, device.routes.find((candidate) => candidate.pin_port === route.name)!.source_id]),
  );
  const routeBySource = new Map([...sourceIds].map(([name, id]) => [id, name]));
  const offFeed = emulator.state.events.on("feed", (entry) => {
    const route = entry.deviceId === device.device_id ? routeBySource.get(entry.sourceId) : undefined;
    const payload = entry.payload as { message_id?: unknown; value?: unknown; desired_id?: unknown; report_status?: unknown } | undefined;
    if (!route || typeof payload?.message_id !== "string") return;
    const desiredId = typeof payload.desired_id === "string" ? payload.desired_id : undefined;
    record.report({
      at: Date.now(),
      route,
      messageId: payload.message_id,
      value: String(payload.value),
      desiredId,
      reportStatus: desiredId === undefined ? undefined : typeof payload.report_status === "string" ? payload.report_status : "applied",
    });
  });
  const offAck = emulator.state.events.on("ack", (ack) => {
    if (ack.deviceId === device.device_id && ack.message_id !== null) record.ack(ack.message_id, ack.status);
  });

  const rig = await options.rig(scenario);
  const dir = join(options.workDir, `device-${device.device_id}`);
  mkdirSync(dir, { recursive: true });
  const lines: RigLine[] = scenario.routes.flatMap((route) =>
    route.config.line === undefined
      ? []
      : [{ route: route.name, line: route.config.line, direction: route.config.direction === "input" ? "input" : "output" }]
  );
  // The demo's config for this device (the emulator's URL and CA, the secret from the environment),
  // with the scenario's routes on the rig's lines, JSON logs to read, and quick HTTPS polls.
  const config: Config = {
    ...demoDeviceConfig(emulator, device, join(dir, "state")),
    log: { level: "info", format: "json" },
    https: { poll_interval_s: 1, catalog_check_s: 5 },
    gpio: rig.gpio,
    routes: scenario.routes.map((route) =>
      route.config.line === undefined ? route.config : { ...route.config, line: rig.deviceLine(route.config.line) }
    ),
  };
  const configPath = join(dir, "device.json");
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const env = { REALER_CLIENT_SECRET: device.client_secret };

  let dut: DeviceUnderTest | undefined;
  const startDevice = async () => {
    dut = DeviceUnderTest.start(options.command, configPath, env);
    await rig.deviceStarted();
  };
  const context: StepContext = {
    emulator,
    rig,
    record,
    deviceId: device.device_id,
    sourceIds,
    level: async (name) => {
      const config = scenario.routes.find((route) => route.name === name)?.config;
      if (config?.pwm === undefined) throw new StepFailed(`route ${name} drives no PWM channel`);
      if (!rig.readChannel) throw new StepFailed(`the ${rig.name} rig has no PWM chip to read: run this scenario on the mock rig`);
      const mapping = dutyMapping(config);
      return valueOfState(mapping, await rig.readChannel(config.pwm)).toFixed(mapping.decimals);
    },
    restart: async (signal, downMs) => {
      record.mark({ at: Date.now(), kind: "restart", text: signal === "SIGKILL" ? "crash (SIGKILL)" : "restart (SIGTERM)" });
      rig.beforeStop();
      const code = await dut!.stop(signal);
      rig.deviceStopped();
      if (signal === "SIGTERM" && code !== 0) {
        throw new StepFailed(`expected a clean stop on SIGTERM; the device exited ${code}: ${dut!.tail(600)}`);
      }
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await startDevice();
    },
    waitOnline: async (withinMs) => {
      const from = Date.now();
      while (!isOnline(dut!.lines())) {
        const code = await Promise.race([dut!.exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 20))]);
        if (code !== "running") throw new StepFailed(`expected the device online; it exited ${code}: ${dut!.tail(800)}`);
        if (Date.now() - from > withinMs) {
          throw new StepFailed(`expected the device online within ${withinMs} ms; it is not: ${dut!.tail(600)}`);
        }
      }
      if (record.markers.at(-1)?.kind !== "online") record.mark({ at: Date.now(), kind: "online", text: "online" });
    },
  };

  let failed = false;
  let tail: string | undefined;
  try {
    await rig.start(lines, (route, level, at) => record.level(route, level, at));
    await startDevice();
    await runPhase(record, progress, "start", "device online", () => context.waitOnline(30_000)).then((ok) => (failed = !ok));
    for (const [index, step] of scenario.steps.entries()) {
      const text = describeStep(step);
      if (failed) {
        record.steps.push({ index, do: step.do, text, startedAt: Date.now(), endedAt: Date.now(), status: "skipped" });
        continue;
      }
      const at = Date.now();
      try {
        await runStep(step, context);
        record.steps.push({ index, do: step.do, text, startedAt: at, endedAt: Date.now(), status: "passed" });
        progress(`  ok    ${String(index + 1).padStart(2)} ${text} (${Date.now() - at} ms)`);
      } catch (error) {
        failed = true;
        const message = error instanceof StepFailed ? error.message : `the step could not run: ${describeError(error)}`;
        record.steps.push({ index, do: step.do, text, startedAt: at, endedAt: Date.now(), status: "failed", message });
        progress(`  FAIL  ${String(index + 1).padStart(2)} ${text} (${Date.now() - at} ms)\n        ${message}`);
      }
    }
  } finally {
    tail = failed ? dut?.tail() : undefined;
    await dut?.stop("SIGTERM").catch(() => null);
    rig.deviceStopped();
    await rig.close().catch(() => {});
    offFeed();
    offAck();
    Object.assign(emulator.faults, noFaults());
    emulator.mqttWithheld.delete(device.device_id);
    if (!emulator.broker.running) await emulator.controlBroker("start").catch(() => {});
  }
  return { scenario, record, rig: rig.name, passed: !failed, durationMs: performance.now() - started, deviceTail: tail };
}

/** The implicit first step: the device starts and comes online. */
async function runPhase(
  record: ScenarioRecord,
  progress: (line: string) => void,
  name: string,
  text: string,
  body: () => Promise<void>,
): Promise<boolean> {
  const at = Date.now();
  try {
    await body();
    progress(`  ok     ${text} (${Date.now() - at} ms)`);
    return true;
  } catch (error) {
    const message = error instanceof StepFailed ? error.message : describeError(error);
    record.steps.push({ index: -1, do: name, text, startedAt: at, endedAt: Date.now(), status: "failed", message });
    progress(`  FAIL   ${text}\n        ${message}`);
    return false;
  }
}
