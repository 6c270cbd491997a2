// What the state file alone hands the disk per event at a field pace (a second between events,
// so the WAL is folded in at the quiet moments as on a board), in this process: no broker, no
// device, nothing else writing, so the figure is the same run to run. A desired state's answer
// (ledger, report, sequence, line value) or a reading, each with the delete of the previous
// one's acked row riding in its commit, as the device does. The ledger's size matters (its rows
// are keyed by desired_id, so each answer lands on a page of its own): 1,000 answers and the
// 10,000 it keeps at most.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../src/manual-clock.ts";
import type { SettledRow } from "../../src/state/outbox-table.ts";
import { DeviceStore } from "../../src/state/store.ts";

const REPORTS = "realer/devices/dev_0123456789abcdef/routes/cmd_relay/feed-data";
const READINGS = "realer/devices/dev_0123456789abcdef/routes/sen_switch/feed-data";

/** Bytes this process handed the disk so far (`write_bytes`). */
const diskBytes = () => Number(/^write_bytes: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? Number.NaN);

/** KiB to disk per event of `kind`, after `ledger` answers, over `events` more, in a state folder under `dir`. */
export async function storeWrites(dir: string, kind: "desired" | "reading", ledger: number, events: number): Promise<number> {
  const stateDir = mkdtempSync(join(dir, "store-writes-"));
  const clock = new ManualClock();
  const store = await DeviceStore.open(stateDir, { clock });
  let acked: SettledRow[] = [];
  store.outbox.carryDeletes({
    get size() {
      return acked.length;
    },
    rows: () => acked,
    deleted: () => (acked = []),
  });
  const now = Date.now();
  const event = (index: number, as: "desired" | "reading") => {
    const messageId = crypto.randomUUID();
    const at = new Date(now + index * 1000).toISOString();
    if (as === "desired") {
      const report = {
        message_id: messageId,
        desired_id: `des_${crypto.randomUUID()}`,
        value: index % 2 ? "1.0" : "0.0",
        report_status: "applied",
        value_received_at: at,
        sequence_number: index,
      } as const;
      store.ledger.record("cmd_relay", REPORTS, report, true, now + index * 1000, { route: "pin_port:6", value: index % 2 });
      acked = [{ messageId, topic: REPORTS }];
    } else {
      store.outbox.addMany([{
        topic: READINGS,
        priority: 1,
        payload: { message_id: messageId, value: String(index % 2), value_received_at: at },
        at: now + index * 1000,
      }]);
      acked = [{ messageId, topic: READINGS }];
    }
  };
  try {
    for (let index = 0; index < ledger; index++) {
      event(index, "desired");
      await clock.advance(1000);
    }
    const before = diskBytes();
    for (let index = ledger; index < ledger + events; index++) {
      event(index, kind);
      await clock.advance(1000);
    }
    return (diskBytes() - before) / events / 1024;
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
