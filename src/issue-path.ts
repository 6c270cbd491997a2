// Where in a document a validation issue is, for one-line errors that name the field: shared by
// the config loader and the cloud client, which validate what they read with valibot.
import type * as v from "valibot";

/** Formats a valibot issue path as `routes[0].line.offset`. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = item.key;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}
