// A feed payload as the state file keeps it: the exact text that was (or will be) published, so a
// resend carries the same bytes. Read back, it is parsed here once, not cast where it is used.
import * as v from "valibot";
import { RealerError } from "../errors.ts";
import type { FeedPayload } from "../mqtt/messages.ts";

const StoredPayloadSchema = v.object({
  message_id: v.string(),
  value: v.string(),
  value_received_at: v.string(),
  desired_id: v.optional(v.string()),
  report_status: v.optional(v.picklist(["applied", "rejected", "stale"])),
  sequence_number: v.optional(v.number()),
});

/**
 * The payload stored as `text`. A row that is not one (written by another program, or damaged
 * past SQLite's checks) throws a storage error that names the row.
 */
export function parseStoredPayload(text: string, where: string): FeedPayload {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RealerError("storage", `Cannot read the stored payload of ${where}: it is not JSON`);
  }
  const result = v.safeParse(StoredPayloadSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const field = issue.path?.map((item) => String(item.key)).join(".") || "payload";
    throw new RealerError("storage", `Cannot read the stored payload of ${where}: ${field}: ${issue.message}`);
  }
  const { desired_id, report_status, sequence_number, ...rest } = result.output;
  return {
    ...rest,
    ...(desired_id === undefined ? {} : { desired_id }),
    ...(report_status === undefined ? {} : { report_status }),
    ...(sequence_number === undefined ? {} : { sequence_number }),
  };
}
