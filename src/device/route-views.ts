// The bound routes as the console shows them: what each line reads now, and which input drives
// which output on the board, in words.
import { CONTROL_WORDS, namesEntry } from "../config/controls.ts";
import { levelRange, type RouteConfig, routeKey, routeSource } from "../config/schema.ts";
import type { LineRequest } from "../hal/types.ts";
import type { Actuator } from "./actuator.ts";
import type { Binding } from "./bindings.ts";
import { formatLineValue } from "./values.ts";

/** One bound route as the console shows it. */
export interface RouteView {
  /** The route's key: its feed-data topic. */
  readonly key: string;
  readonly name: string;
  readonly type: "command" | "sensor";
  readonly kind: string | undefined;
  readonly pinPort: string | undefined;
  /** The line ("gpiochip0:6", a line name), the PWM channel ("pwm pwmchip0/1") or the file it reads. */
  readonly source: string;
  /** What the line reads now ("1.0" / "0.0"); undefined for a file sensor. */
  readonly physical: string | undefined;
  /** The local binding, in words: "toggles pin_port:6" on an input, "toggled by pin_port:5" on its output. */
  readonly local: string | undefined;
  /** A level output's range (a PWM route); undefined for a line or a file. */
  readonly range: { readonly min: number; readonly max: number; readonly decimals: number } | undefined;
}

/** A route entry's local binding in words, either way round (see `RouteView.local`). */
export function localBinding(config: RouteConfig, entries: readonly RouteConfig[]): string | undefined {
  if (config.controls) return `${CONTROL_WORDS[config.controls.mode].input} ${config.controls.output}`;
  const by = entries.filter((entry) => entry.controls && namesEntry(config, entry.controls.output));
  return by.length === 0 ? undefined : by.map((entry) => `${CONTROL_WORDS[entry.controls!.mode].output} ${routeKey(entry)}`).join(", ");
}

/** Every bound route with what its line reads now: an output's actuator, an input's line, or nothing (a file). */
export async function routeViews(
  bindings: readonly Binding[],
  entries: readonly RouteConfig[],
  lines: { actuator(binding: Binding): Actuator | undefined; input(binding: Binding): LineRequest | undefined },
): Promise<RouteView[]> {
  const views: RouteView[] = [];
  for (const binding of bindings) {
    const { config, route } = binding;
    const actuator = lines.actuator(binding);
    const input = lines.input(binding);
    const value = actuator
      ? actuator.scale.format(await actuator.read())
      : input
      ? await input.getValue().then(formatLineValue, () => undefined)
      : undefined;
    views.push({
      key: binding.key,
      name: binding.name,
      type: route.source_type === "command" ? "command" : "sensor",
      kind: route.kind,
      pinPort: route.pin_port,
      source: routeSource(config),
      physical: value,
      local: localBinding(config, entries),
      range: config.pwm === undefined ? undefined : levelRange(config),
    });
  }
  return views;
}
