import { randomBytes } from "node:crypto";

/** A fresh idempotency key for one physical event: readable, time-ordered, unique. */
export function newMessageId(kind: string, observedAt: number): string {
  const stamp = new Date(observedAt).toISOString().replace(/[-:.]/g, "");
  return `${kind}-${stamp}-${randomBytes(4).toString("hex")}`;
}
