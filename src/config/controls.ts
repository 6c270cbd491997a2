// The checks that span route entries: an input's `controls` must name exactly one other entry,
// that entry must be an output, and the modes must not fight over it (two maintained switches in
// follow on one output, a pulse output following a switch).
import type * as v from "valibot";

/** The fields of a route entry these checks read. */
interface EntryFields {
  readonly source_id?: string | undefined;
  readonly pin_port?: string | undefined;
  readonly feed_data_topic?: string | undefined;
  readonly file?: unknown;
  readonly direction?: "input" | "output" | undefined;
  readonly pulse_ms?: number | undefined;
  readonly controls?: { readonly output: string; readonly mode: string } | undefined;
}

/** What each mode does, in words: from the input's side ("toggles pin_port 6") and from the output's ("toggled by …"). */
export const CONTROL_WORDS = {
  toggle: { input: "toggles", output: "toggled by" },
  follow: { input: "is followed by", output: "follows" },
  flip: { input: "flips", output: "flipped by" },
  momentary: { input: "holds while pressed", output: "held by" },
} as const;

/** A problem with one entry's `controls`, and which of its fields it is about. */
export interface ControlIssue {
  readonly index: number;
  readonly field: "output" | "mode";
  readonly message: string;
}

/** Whether `entry` is the one `name` names: by its pin_port, source_id or feed_data_topic. */
export function namesEntry(entry: EntryFields, name: string): boolean {
  return entry.pin_port === name || entry.source_id === name || entry.feed_data_topic === name;
}

/** Every problem of the entries' `controls`, in entry order. */
export function controlIssues(routes: readonly EntryFields[]): ControlIssue[] {
  const issues: ControlIssue[] = [];
  const followers = new Map<number, number>();
  routes.forEach((entry, index) => {
    const controls = entry.controls;
    if (controls === undefined) return;
    const named = routes.flatMap((other, at) => (namesEntry(other, controls.output) ? [at] : []));
    const quoted = JSON.stringify(controls.output);
    if (named.length === 0) {
      issues.push({
        index,
        field: "output",
        message: `${quoted} names no route entry (give the pin_port, source_id or feed_data_topic of one)`,
      });
      return;
    }
    if (named.length > 1) {
      issues.push({ index, field: "output", message: `${quoted} names more than one route entry (routes[${named.join("], routes[")}])` });
      return;
    }
    const target = named[0]!;
    const output = routes[target]!;
    if (target === index) {
      issues.push({ index, field: "output", message: `${quoted} is this input itself: an input cannot control itself` });
    } else if (output.file !== undefined || output.direction === "input" || output.controls !== undefined) {
      issues.push({ index, field: "output", message: `${quoted} (routes[${target}]) is not an output` });
    } else if (controls.mode === "follow" && output.pulse_ms !== undefined) {
      issues.push({
        index,
        field: "mode",
        message: `follow cannot drive ${quoted} (routes[${target}]): a pulse output ends by itself and cannot follow a switch`,
      });
    } else if (controls.mode === "follow" && followers.has(target)) {
      issues.push({
        index,
        field: "mode",
        message: `${quoted} (routes[${target}]) already follows routes[${
          followers.get(target)
        }]: two maintained switches cannot both decide it`,
      });
    } else if (controls.mode === "follow") followers.set(target, index);
  });
  return issues;
}

/** The valibot path of an issue, under the `routes` array it was found in. */
export function controlIssuePath(
  routes: readonly EntryFields[],
  issue: ControlIssue,
): [v.ArrayPathItem, v.ObjectPathItem, v.ObjectPathItem] {
  const entry = routes[issue.index]!;
  const controls = entry.controls as Record<string, unknown>;
  return [
    { type: "array", origin: "value", input: routes as unknown[], key: issue.index, value: entry },
    { type: "object", origin: "value", input: entry as Record<string, unknown>, key: "controls", value: controls },
    { type: "object", origin: "value", input: controls, key: issue.field, value: controls[issue.field] },
  ];
}
