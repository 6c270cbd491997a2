// What the device runtime announces, in one place of its own: the runtime emits these and the
// route lines emit some of them, so neither file has to import the other for the type.
import type { DesiredOutcome } from "./desired-handler.ts";
import type { FailSafeStatus } from "./failsafe.ts";
import type { LocalAction } from "./local-control.ts";
import type { Settled } from "../outbox/types.ts";

/** Events the runtime emits, for tests, benchmarks and the demo. */
export interface RuntimeEvents extends Record<string, unknown> {
  online: { readonly broker: string };
  offline: Record<string, never>;
  desired: DesiredOutcome;
  settled: Settled;
  reading: { readonly route: string; readonly value: string; readonly messageId: string; readonly observedAt: number };
  /** An output changed by itself (pulse end, interlock, a local switch), reported without a desired_id. */
  local: { readonly route: string; readonly value: string; readonly cause: string; readonly messageId: string; readonly at: number };
  /** An input on the board drove its output (see `controls`): the output's value read back, and how long it took. */
  control: LocalAction;
  /** A message left for the broker for the first time. */
  published: { readonly messageId: string; readonly topic: string; readonly at: number };
  /** What keeps the device from its cloud beyond a passing fault (a refused secret, 4002), or undefined once it is gone. */
  trouble: { readonly text: string | undefined };
  /** An output's fail-safe was armed, fired or disarmed. */
  failsafe: { readonly failsafes: readonly FailSafeStatus[] };
}
