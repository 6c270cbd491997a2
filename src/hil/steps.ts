// Each step of a scenario, run against the emulator, the rig and the device process. A step
// either returns (passed) or throws a StepFailed whose message says what was expected and what
// was seen.
import type { Emulator } from "../emulator/emulator.ts";
import type { ReportSeen, ScenarioRecord } from "./record.ts";
import { type Level, type Rig, sleep } from "./rig.ts";
import type { Step } from "./scenario.ts";

/** A step whose expectation did not hold. */
export class StepFailed extends Error {
  override readonly name = "StepFailed";
}

/** What the steps act on. */
export interface StepContext {
  readonly emulator: Emulator;
  readonly rig: Rig;
  readonly record: ScenarioRecord;
  readonly deviceId: number;
  /** The catalog source_id of each route. */
  readonly sourceIds: ReadonlyMap<string, string>;
  /** Stops the device with `signal`, waits `downMs`, starts it again; `steady` lines must hold their level until it is online. */
  restart(signal: "SIGTERM" | "SIGKILL", downMs: number): Promise<void>;
  /** A PWM route's level now, in its values ("40"): the channel's duty as the rig reads it, mapped back. */
  level(route: string): Promise<string>;
  /** Resolves once the running device process is online (MQTT connected or the HTTPS runtime started). */
  waitOnline(withinMs: number): Promise<void>;
}

/** One line describing a step, for the progress output and the reports. */
export function describeStep(step: Step): string {
  switch (step.do) {
    case "set_desired":
      return `set_desired ${step.route} = ${step.value}${step.sequence === undefined ? "" : ` seq ${step.sequence}`}${
        step.expires_in_s === undefined ? "" : ` expires in ${step.expires_in_s} s`
      }`;
    case "drive":
      return `drive ${step.route} to ${step.level}`;
    case "pulse":
      return `pulse ${step.route} to ${step.level ?? 1} for ${step.ms} ms`;
    case "bounce":
      return `bounce ${step.route} ${step.flips} times every ${step.every_ms} ms, settling at ${step.to}`;
    case "expect_line":
      return `expect_line ${step.route} at ${step.level} within ${step.within_ms ?? 2000} ms`;
    case "expect_level":
      return `expect_level ${step.route} at ${step.value} within ${step.within_ms ?? 2000} ms`;
    case "expect_steady":
      return `expect_steady ${step.route}${step.level === undefined ? "" : ` at ${step.level}`} for ${step.for_ms} ms`;
    case "expect_report":
      return `expect_report ${step.route}${criteria(step)}${(step.count ?? 1) > 1 ? ` ×${step.count}` : ""} within ${
        step.within_ms ?? 5000
      } ms`;
    case "expect_no_report":
      return `expect_no_report ${step.route} for ${step.for_ms} ms`;
    case "broker":
      return `broker ${step.action}`;
    case "offline":
      return `offline for ${step.ms} ms (broker down)`;
    case "revoke_credentials":
      return "revoke_credentials";
    case "acks":
      return `acks ${step.mode}`;
    case "http_burst":
      return `http_burst ${step.count} × ${step.status}`;
    case "mqtt":
      return `mqtt ${step.offered ? "offered" : "withheld"}`;
    case "subscription":
      return `subscription ${step.active ? "active" : "inactive (4002)"}`;
    case "line_fault":
      return `line_fault ${step.route}${step.get ? " get" : ""}${step.set ? " set" : ""}${!step.get && !step.set ? " healed" : ""}`;
    case "restart":
      return `restart (${step.signal ?? "SIGTERM"}${step.down_ms ? `, down ${step.down_ms} ms` : ""})`;
    case "wait_online":
      return `wait_online within ${step.within_ms ?? 20_000} ms`;
    case "wait":
      return `wait ${step.ms} ms`;
  }
}

type ReportStep = Extract<Step, { do: "expect_report" }>;

function criteria(step: ReportStep): string {
  const parts = [
    step.value === undefined ? "" : `value ${step.value}`,
    step.report_status === undefined ? "" : `report_status ${step.report_status}`,
    step.desired === undefined
      ? ""
      : step.desired === true
      ? "answering a desired state"
      : step.desired === false
      ? "not answering a desired state"
      : `answering ${step.desired}`,
    step.ack === undefined ? "" : `ack ${step.ack}`,
  ].filter(Boolean);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function sameValue(seen: string, wanted: string | number): boolean {
  if (typeof wanted === "number" || (/^-?\d+(\.\d+)?$/.test(wanted) && /^-?\d+(\.\d+)?$/.test(seen))) {
    return Number(seen) === Number(wanted);
  }
  return seen === wanted;
}

function matches(report: ReportSeen, step: ReportStep, labels: ReadonlyMap<string, string>): boolean {
  if (report.route !== step.route) return false;
  if (step.value !== undefined && !sameValue(report.value, step.value)) return false;
  if (step.report_status !== undefined && report.reportStatus !== step.report_status) return false;
  if (step.desired === true && report.desiredId === undefined) return false;
  if (step.desired === false && report.desiredId !== undefined) return false;
  if (typeof step.desired === "string" && report.desiredId !== labels.get(step.desired)) return false;
  if (step.ack !== undefined && report.ack !== step.ack) return false;
  return true;
}

function describeReport(report: ReportSeen, record: ScenarioRecord): string {
  const label = [...record.labels].find(([, id]) => id === report.desiredId)?.[0];
  return `${report.value}${report.desiredId ? ` ${report.reportStatus} for ${label ?? report.desiredId}` : " (no desired_id)"}, ack ${
    report.ack ?? "none"
  } at ${record.rel(report.at)}`;
}

function levels(record: ScenarioRecord, route: string, from: number): string {
  return record.changesSince(route, from).map((point) => `${point.level} at ${record.rel(point.at)}`).join(", ");
}

/** How long after a window the rig's last observations may still arrive (the mock rig polls). */
const SETTLE_MS = 60;

async function drive(context: StepContext, route: string, level: Level): Promise<void> {
  await context.rig.drive(route, level);
  context.record.mark({ at: Date.now(), kind: "drive", text: `${route} → ${level}`, route });
}

/** Runs one step. */
export async function runStep(step: Step, context: StepContext): Promise<void> {
  const { emulator, record, rig } = context;
  switch (step.do) {
    case "set_desired": {
      const desired = await emulator.setDesired(
        context.deviceId,
        context.sourceIds.get(step.route)!,
        String(step.value),
        step.expires_in_s ?? 300,
        step.sequence,
      );
      if (step.label) record.labels.set(step.label, desired.desiredId);
      record.mark({
        at: Date.now(),
        kind: "desired",
        text: `${step.label ?? desired.desiredId}: ${step.value} (seq ${desired.sequenceNumber})`,
        route: step.route,
      });
      return;
    }
    case "drive":
      return await drive(context, step.route, step.level);
    case "pulse": {
      const level = step.level ?? 1;
      await drive(context, step.route, level);
      await sleep(step.ms);
      return await drive(context, step.route, (1 - level) as Level);
    }
    case "bounce": {
      for (let flip = 0; flip <= step.flips; flip++) {
        await drive(context, step.route, (flip % 2 === step.flips % 2 ? step.to : 1 - step.to) as Level);
        if (flip < step.flips) await sleep(step.every_ms);
      }
      return;
    }
    case "expect_line": {
      const from = Date.now();
      const within = step.within_ms ?? 2000;
      while (record.levelOf(step.route) !== step.level) {
        if (Date.now() - from > within) {
          const seen = record.levelOf(step.route);
          throw new StepFailed(
            `expected ${step.route} at ${step.level} within ${within} ms; it ${
              seen === undefined ? "was never seen" : `stayed at ${seen}`
            }${levels(record, step.route, from) ? ` (changes: ${levels(record, step.route, from)})` : ""}`,
          );
        }
        await sleep(5);
      }
      return;
    }
    case "expect_level": {
      const from = Date.now();
      const within = step.within_ms ?? 2000;
      let seen = await context.level(step.route);
      while (Number(seen) !== Number(step.value)) {
        if (Date.now() - from > within) {
          throw new StepFailed(`expected ${step.route} at level ${step.value} within ${within} ms; it stayed at ${seen}`);
        }
        await sleep(10);
        seen = await context.level(step.route);
      }
      return;
    }
    case "expect_steady": {
      const from = Date.now();
      const start = record.levelOf(step.route);
      const level = step.level ?? start;
      if (level === undefined) throw new StepFailed(`expected ${step.route} to hold its level, but the rig has not seen the line yet`);
      if (start !== level) {
        throw new StepFailed(`expected ${step.route} to hold ${level} for ${step.for_ms} ms; it was at ${start} when the step began`);
      }
      await sleep(step.for_ms + SETTLE_MS);
      const changes = record.changesSince(step.route, from).filter((point) => point.at <= from + step.for_ms);
      if (changes.length > 0) {
        throw new StepFailed(
          `expected ${step.route} to hold ${level} for ${step.for_ms} ms; it changed ${changes.length} time(s): ${
            changes.map((point) => `${point.level} at ${record.rel(point.at)}`).join(", ")
          }${rig.exact ? "" : " (sampled)"}`,
        );
      }
      return;
    }
    case "expect_report": {
      const from = Date.now();
      const within = step.within_ms ?? 5000;
      const count = step.count ?? 1;
      for (;;) {
        // In order: only reports that came after the last one an earlier step took on this route.
        const last = record.reports.findLastIndex((report) => report.consumed && report.route === step.route);
        const found = record.reports.filter((report, i) => i > last && !report.consumed && matches(report, step, record.labels));
        if (found.length >= count) {
          for (const report of found.slice(0, count)) report.consumed = true;
          return;
        }
        if (Date.now() - from > within) {
          const others = record.reports.filter((report, i) => i > last && report.route === step.route && !found.includes(report));
          throw new StepFailed(
            `expected ${count} report(s) on ${step.route}${criteria(step)} within ${within} ms; saw ${found.length}${
              others.length
                ? `; other reports on ${step.route}: ${others.slice(-5).map((report) => describeReport(report, record)).join("; ")}`
                : `; no other report on ${step.route}`
            }`,
          );
        }
        await sleep(10);
      }
    }
    case "expect_no_report": {
      const from = Date.now();
      await sleep(step.for_ms + SETTLE_MS);
      const late = record.reports.filter((report) => report.route === step.route && report.at > from && report.at <= from + step.for_ms);
      if (late.length > 0) {
        throw new StepFailed(
          `expected no report on ${step.route} for ${step.for_ms} ms; saw ${late.length}: ${
            late.slice(0, 5).map((report) => describeReport(report, record)).join("; ")
          }`,
        );
      }
      return;
    }
    case "broker":
      record.mark({ at: Date.now(), kind: "fault", text: `broker ${step.action}` });
      return await emulator.controlBroker(step.action);
    case "offline":
      record.mark({ at: Date.now(), kind: "fault", text: `offline ${step.ms} ms` });
      await emulator.controlBroker("stop");
      await sleep(step.ms);
      await emulator.controlBroker("start");
      record.mark({ at: Date.now(), kind: "fault", text: "broker back" });
      return;
    case "revoke_credentials":
      record.mark({ at: Date.now(), kind: "fault", text: "credentials revoked" });
      await emulator.issuer.revoke(context.deviceId);
      return;
    case "acks":
      record.mark({ at: Date.now(), kind: "fault", text: `acks ${step.mode}` });
      emulator.faults.ackMode = step.mode;
      return;
    case "http_burst":
      record.mark({ at: Date.now(), kind: "fault", text: `HTTP ${step.status} × ${step.count}` });
      emulator.faults.httpBurst = { status: step.status, remaining: step.count, retryAfterS: step.retry_after_s };
      return;
    case "mqtt":
      record.mark({ at: Date.now(), kind: "fault", text: step.offered ? "MQTT offered" : "MQTT withheld" });
      if (step.offered) emulator.mqttWithheld.delete(context.deviceId);
      else emulator.mqttWithheld.add(context.deviceId);
      return;
    case "subscription":
      record.mark({ at: Date.now(), kind: "fault", text: step.active ? "subscription active" : "subscription inactive (4002)" });
      emulator.faults.subscriptionInactive = !step.active;
      return;
    case "line_fault":
      record.mark({
        at: Date.now(),
        kind: "fault",
        text: `line ${step.route} ${step.get || step.set ? "failing" : "healed"}`,
        route: step.route,
      });
      return await rig.failLine(step.route, { get: step.get, set: step.set });
    case "restart": {
      const from = Date.now();
      const before = new Map((step.steady ?? []).map((route) => [route, record.levelOf(route)]));
      await context.restart(step.signal ?? "SIGTERM", step.down_ms ?? 0);
      await context.waitOnline(30_000);
      await sleep(SETTLE_MS);
      for (const [route, level] of before) {
        const changes = record.changesSince(route, from);
        if (changes.length > 0) {
          throw new StepFailed(
            `expected ${route} to hold ${level} through the restart; it showed ${
              changes.map((point) => `${point.level} at ${record.rel(point.at)}`).join(", ")
            }${rig.exact ? "" : " (sampled)"}`,
          );
        }
      }
      return;
    }
    case "wait_online":
      return await context.waitOnline(step.within_ms ?? 20_000);
    case "wait":
      return await sleep(step.ms);
  }
}
