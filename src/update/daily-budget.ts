// A byte budget per day for a metered link, kept in the updater's folder so that restarts and
// retries do not reset it.
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "./atomic-file.ts";
import type { ByteBudget } from "./https-source.ts";

/** `bytesPerDay` bytes each UTC day, counted in the file at `path`. */
export function dailyBudget(path: string, bytesPerDay: number, now: () => number = Date.now): ByteBudget {
  const today = () => new Date(now()).toISOString().slice(0, 10);
  const read = (): number => {
    try {
      const saved = JSON.parse(readFileSync(path, "utf8")) as { day?: unknown; spent?: unknown };
      return saved.day === today() && typeof saved.spent === "number" ? saved.spent : 0;
    } catch {
      return 0;
    }
  };
  let spent = read();
  let unsaved = 0;
  return {
    remaining: () => bytesPerDay - spent,
    spend: (bytes) => {
      spent += bytes;
      unsaved += bytes;
      // Saved every MiB and at the end of the budget: a crash loses at most that much of the count.
      if (unsaved >= 1024 * 1024 || spent >= bytesPerDay) {
        writeFileAtomic(path, JSON.stringify({ day: today(), spent }));
        unsaved = 0;
      }
    },
  };
}
