// Drives a device with desired states and input edges, then checks that nothing was lost and
// nothing was applied twice, as the emulator saw it.
import assert from "node:assert/strict";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { type RunningDevice, SWITCH_LINE, waitFor } from "./harness.ts";

/** What a stream sent. */
export interface Sent {
  readonly desiredIds: string[];
  readonly pending: Promise<unknown>[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** For `ms`, every `stepMs`: a desired state on the relay and an edge on the switch. */
export async function stream(
  emulator: Emulator,
  dev: RunningDevice,
  ms: number,
  stepMs = 150,
  sent: Sent = { desiredIds: [], pending: [] },
): Promise<Sent> {
  const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
  const end = Date.now() + ms;
  let level: 0 | 1 = dev.mock.getLevel(SWITCH_LINE);
  while (Date.now() < end) {
    const value = Math.random() < 0.5 ? "1.0" : "0.0";
    // While the broker is down the publish waits; keep the stream going and collect it.
    const published = emulator.setDesired(dev.device.device_id, relay, value).then((desired) => sent.desiredIds.push(desired.desiredId));
    sent.pending.push(published);
    level = level === 1 ? 0 : 1;
    dev.mock.setPull(SWITCH_LINE, level);
    await sleep(stepMs);
  }
  return sent;
}

/** Numbers a test reports: how much flowed and how much was lost or doubled. */
export interface StreamReport {
  desired: number;
  readings: number;
  lost: number;
  appliedTwice: number;
}

/**
 * Waits until every desired state and every reading is settled at the emulator, then checks:
 * each desired_id has exactly one accepted report and was applied at most once on the device;
 * each reading is accepted exactly once; per route, accepted messages arrived in order.
 */
export async function verifyStream(emulator: Emulator, dev: RunningDevice, sent: Sent, timeoutMs = 30_000): Promise<StreamReport> {
  await Promise.all(sent.pending);
  const id = dev.device.device_id;
  const accepted = () => emulator.state.feedOf(id).filter((entry) => entry.status === "accepted");
  const acceptedReports = (desiredId: string) =>
    accepted().filter((entry) => (entry.payload as { desired_id?: string }).desired_id === desiredId);
  const readingIds = () => dev.seen.reading.map((reading) => reading.messageId);
  const missing = () => ({
    desired: sent.desiredIds.filter((desiredId) => acceptedReports(desiredId).length === 0),
    readings: readingIds().filter((messageId) =>
      !accepted().some((entry) => (entry.payload as { message_id?: string }).message_id === messageId)
    ),
    outbox: dev.runtime.outboxDepth,
  });
  try {
    await waitFor("every desired state and reading to be accepted", () => {
      const now = missing();
      return now.desired.length === 0 && now.readings.length === 0 && now.outbox === 0;
    }, timeoutMs);
  } catch (error) {
    const now = missing();
    const seen = (id: string) =>
      JSON.stringify(
        emulator.state.feedOf(id === "" ? 0 : dev.device.device_id).filter((e) => JSON.stringify(e.payload).includes(id)).map((e) =>
          e.status
        ),
      );
    throw new Error(
      `${(error as Error).message}: missing desired ${now.desired.map((d) => `${d}${seen(d)}`).join(", ")}; readings ${
        now.readings.map((r) => `${r}${seen(r)}`).join(", ")
      }; outbox ${now.outbox}`,
    );
  }

  let appliedTwice = 0;
  for (const desiredId of sent.desiredIds) {
    assert.equal(acceptedReports(desiredId).length, 1, `exactly one accepted report for ${desiredId}`);
    const applied = dev.seen.desired.filter((outcome) => outcome.desiredId === desiredId && outcome.status !== "duplicate").length;
    if (applied > 1) appliedTwice++;
  }
  assert.equal(appliedTwice, 0, "no desired_id acted on twice");
  for (const messageId of readingIds()) {
    assert.equal(
      accepted().filter((entry) => (entry.payload as { message_id?: string }).message_id === messageId).length,
      1,
      `reading ${messageId} accepted once`,
    );
  }
  // In order per route: observation times of accepted readings, sequence numbers of reports.
  const sensorTopic = dev.device.routes.find((route) => route.source_type === "sensor")!.feed_data_topic;
  const sensorId = emulator.state.routeByTopic(sensorTopic)!.route.routeId;
  const times = accepted().filter((entry) => entry.routeId === sensorId).map((entry) =>
    Date.parse((entry.payload as { value_received_at: string }).value_received_at)
  );
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "readings accepted in the order they were observed");
  const sequences = accepted().filter((entry) => entry.routeId !== sensorId).map((entry) =>
    (entry.payload as { sequence_number: number }).sequence_number
  );
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), "reports accepted in sequence order");
  return { desired: sent.desiredIds.length, readings: readingIds().length, lost: 0, appliedTwice };
}
