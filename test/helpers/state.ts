// What tests ask of the state file that the device never does: one message added as it is, the
// table's depth and the ledger's size counted, and the file capped at a page count so a test can
// fill the "disk" without root or a small file system.
import type { FeedPayload } from "../../src/mqtt/messages.ts";
import type { DeviceStore, Priority } from "../../src/state/store.ts";

/** Adds one message in its own commit; the same topic and message id again is a no-op. */
export function addToOutbox(store: DeviceStore, topic: string, priority: Priority, payload: FeedPayload, now: number): boolean {
  return store.outbox.addMany([{ topic, priority, payload, at: now }]) === 1;
}

/** How many messages wait for their ack. */
export function outboxDepth(store: DeviceStore): number {
  return store.outbox.size().messages;
}

/** How many answers the ledger holds. */
export function ledgerSize(store: DeviceStore): number {
  return Number(store.file.db.prepare("SELECT COUNT(*) AS n FROM desired_ledger").get()?.n ?? 0);
}

/** Caps the database at `pages` pages (SQLite's max_page_count). */
export function limitPages(store: DeviceStore, pages: number): void {
  store.file.db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(pages))}`);
}

/** How many pages the database uses now. */
export function pageCount(store: DeviceStore): number {
  return Number(store.file.db.prepare("PRAGMA page_count").get()?.page_count ?? 0);
}
