// The device's durable state in SQLite, one module per table: the outbox of unacknowledged feed
// data (outbox-table.ts), the desired-state ledger (ledger-table.ts) and what the lines remember
// (line-memory.ts), over one state file (state-file.ts) opened by open.ts.
import { LedgerTable } from "./ledger-table.ts";
import { LineMemory } from "./line-memory.ts";
import { openStateFile, type StoreOptions } from "./open.ts";
import { OutboxTable } from "./outbox-table.ts";
import { StateFile, type StorageHealth } from "./state-file.ts";

export { STATE_FILE, type StoreOptions } from "./open.ts";
export type { LedgerEntry } from "./ledger-table.ts";
export type { SavedLineState } from "./line-memory.ts";
export type { NewOutboxRow, OutboxRow, Priority } from "./outbox-table.ts";
export type { StorageHealth } from "./state-file.ts";

/**
 * The device's state: every write commits before the runtime acts on it, so a crash or power cut
 * loses nothing the device has observed or answered.
 */
export class DeviceStore {
  /** The database and its write health (the table modules' and test helpers' way in). */
  readonly file: StateFile;
  /** Feed messages waiting for their ack, and the clock hold. */
  readonly outbox: OutboxTable;
  /** The answers given to desired states and each route's sequence number. */
  readonly ledger: LedgerTable;
  /** Each output's last value and each route's direction. */
  readonly lines: LineMemory;

  private constructor(file: StateFile) {
    this.file = file;
    this.outbox = new OutboxTable(file);
    this.lines = new LineMemory(file);
    this.ledger = new LedgerTable(file, this.outbox, this.lines);
  }

  /**
   * Opens the store in `stateDir` (or in memory for ":memory:"): see {@linkcode openStateFile}
   * for a file that is damaged, another program's, or cannot be opened.
   */
  static async open(stateDir: string, options: StoreOptions = {}): Promise<DeviceStore> {
    return await openStateFile(stateDir, options, (db, setAside) => {
      const store = new DeviceStore(new StateFile(db, options, setAside));
      store.ledger.prune((options.now ?? Date.now)());
      return store;
    });
  }

  /** Whether writes work, and what failed when they do not. */
  get health(): StorageHealth {
    return this.file.health;
  }

  /** Whether a write would succeed now (see `StateFile.canWrite`). */
  canWrite(): boolean {
    return this.file.canWrite();
  }

  /** Closes the database. */
  close(): void {
    this.file.close();
  }
}
