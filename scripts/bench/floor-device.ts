// The floor a desired state is measured against: a minimal device on the same runtime doing the
// least that one needs. MQTT.js over TLS (MQTT 5, as the device), the desired state parsed as
// JSON, its answer put in SQLite with one synced insert (the device's own database seam, WAL,
// synchronous=FULL, 1 KiB pages), a QoS 1 report, and a synced delete when the ack comes. No
// validation, no log, no timers, no outbox. Run by the benchmark as its own process:
//   bun scripts/bench/floor-device.ts JOB.json
// JOB: { login: RawLogin, topic, db }. It prints "ready" once subscribed.
import { readFileSync } from "node:fs";
import { openDatabase } from "../../src/platform/index.ts";
import { connectRawClient, type RawLogin } from "../../test/helpers/raw-mqtt.ts";

const job = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { login: RawLogin; topic: string; db: string };
const db = await openDatabase(job.db);
db.exec("CREATE TABLE IF NOT EXISTS answers (message_id TEXT PRIMARY KEY, payload TEXT NOT NULL) WITHOUT ROWID");
const insert = db.prepare("INSERT OR REPLACE INTO answers (message_id, payload) VALUES (?, ?)");
const remove = db.prepare("DELETE FROM answers WHERE message_id = ?");
const client = await connectRawClient(job.login);
const desiredTopic = `${job.topic}/desired`;
const reportTopic = `${job.topic}/report`;
const ackTopic = `${job.topic}/ack`;
client.on("message", (topic, payload) => {
  const message = JSON.parse(payload.toString("utf8")) as { desired_id?: string; value?: string; message_id?: string };
  if (topic === desiredTopic) {
    const messageId = `${message.desired_id}-report`;
    const report = JSON.stringify({
      message_id: messageId,
      value: message.value,
      value_received_at: new Date().toISOString(),
      desired_id: message.desired_id,
    });
    insert.run(messageId, report);
    client.publish(reportTopic, report, { qos: 1 });
  } else if (topic === ackTopic) {
    remove.run(String(message.message_id));
  }
});
await client.subscribeAsync([desiredTopic, ackTopic], { qos: 1 });
console.log("ready");
process.on("SIGTERM", () => {
  void client.endAsync().finally(() => {
    db.close();
    process.exit(0);
  });
});
