// A hardware-in-the-loop scenario: the device's routes with their lines and settings, the wiring
// of a real-board rig, and the steps to run. Validated with valibot; examples/scenario.schema.json
// is generated from this schema for editors.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { type LineRouteConfig, LineSchema, parseRoute, type PwmRouteConfig, ROUTE_ENTRIES, type RouteConfig } from "../config/schema.ts";
import { controlIssues } from "../config/controls.ts";
import { RealerError } from "../errors.ts";

const NonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));
const Ms = (what: string, max = 600_000) =>
  v.pipe(
    v.number(),
    v.integer("must be a whole number of milliseconds"),
    v.minValue(0, "must not be negative"),
    v.maxValue(max),
    v.description(what),
  );
const Level = v.picklist([0, 1], "must be 0 or 1");
const RouteName = v.pipe(NonEmpty, v.description("The name of one of the scenario's routes."));

// The settings of a device route that say how its line behaves; the binding is the route's name.
const { source_id: _s, pin_port: _p, feed_data_topic: _t, file: _f, line: _l, ...LINE_SETTINGS } = ROUTE_ENTRIES;

/** One route of the scenario: a catalog route the emulator provisions and the line the device binds to it. */
export const ScenarioRouteSchema = v.strictObject({
  name: v.pipe(
    v.string(),
    v.regex(/^[a-z0-9_-]{1,32}$/, "must be 1–32 of a-z, 0-9, _ and -"),
    v.description("How the steps name this route; also its pin_port in the catalog."),
  ),
  source_type: v.pipe(
    v.picklist(["command", "sensor"], 'must be "command" (an output) or "sensor" (an input)'),
    v.description("command: the cloud drives it; sensor: the device reports it."),
  ),
  kind: v.optional(v.pipe(NonEmpty, v.description("The catalog's kind: relay, switch…"))),
  line: v.optional(v.pipe(LineSchema, v.description("The device's line, on the mock's gpiochip0 unless the rig says otherwise."))),
  ...LINE_SETTINGS,
});

const steps = {
  set_desired: v.strictObject({
    do: v.literal("set_desired"),
    route: RouteName,
    value: v.pipe(
      v.union([v.string(), v.number()], "must be a string or a number"),
      v.description('The desired value, as the cloud sends it ("1.0").'),
    ),
    sequence: v.optional(
      v.pipe(
        v.number(),
        v.integer(),
        v.minValue(0),
        v.description("The sequence number to send; by default one more than the route's last."),
      ),
    ),
    expires_in_s: v.optional(
      v.pipe(
        v.number(),
        v.integer(),
        v.minValue(-86_400),
        v.maxValue(86_400),
        v.description("Seconds until it expires; 0 or less sends one already expired. 300 by default."),
      ),
    ),
    label: v.optional(v.pipe(NonEmpty, v.description("A name for this desired state, for expect_report's `desired`."))),
  }),
  drive: v.strictObject({
    do: v.literal("drive"),
    route: RouteName,
    level: v.pipe(Level, v.description("The level to pull the input's pin to.")),
  }),
  pulse: v.strictObject({
    do: v.literal("pulse"),
    route: RouteName,
    level: v.optional(v.pipe(Level, v.description("The level of the pulse (1 by default); the pin returns to the other after."))),
    ms: Ms("How long the pulse lasts.", 60_000),
  }),
  bounce: v.strictObject({
    do: v.literal("bounce"),
    route: RouteName,
    to: v.pipe(Level, v.description("Where the contact settles.")),
    flips: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000), v.description("How many times it chatters before settling.")),
    every_ms: Ms("Time between flips.", 1000),
  }),
  expect_line: v.strictObject({
    do: v.literal("expect_line"),
    route: RouteName,
    level: v.pipe(Level, v.description("The pin level expected (after active_low).")),
    within_ms: v.optional(Ms("How long it may take (2000 by default).")),
  }),
  expect_level: v.strictObject({
    do: v.literal("expect_level"),
    route: RouteName,
    value: v.pipe(
      v.union([v.string(), v.number()], "must be a string or a number"),
      v.description("A PWM route's level expected, in the route's values: the channel's duty read by the rig, mapped back."),
    ),
    within_ms: v.optional(Ms("How long it may take (2000 by default).")),
  }),
  expect_steady: v.strictObject({
    do: v.literal("expect_steady"),
    route: RouteName,
    level: v.optional(v.pipe(Level, v.description("The level it must hold; by default the level it has when the step starts."))),
    for_ms: Ms("How long it must not change; every change the rig sees in that time fails the step."),
  }),
  expect_report: v.strictObject({
    do: v.literal("expect_report"),
    route: RouteName,
    value: v.optional(
      v.pipe(v.union([v.string(), v.number()]), v.description('The reported value ("1.0"); a number matches numerically.')),
    ),
    report_status: v.optional(v.picklist(["applied", "rejected", "stale"], 'must be "applied", "rejected" or "stale"')),
    desired: v.optional(
      v.pipe(
        v.union([v.boolean(), NonEmpty]),
        v.description("true: answers a desired state; false: a reading or local change; a label: answers that desired state."),
      ),
    ),
    ack: v.optional(
      v.pipe(
        v.picklist(["accepted", "replayed", "conflict", "rejected", "error"]),
        v.description("The application ack the emulator answered it with."),
      ),
    ),
    count: v.optional(
      v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000), v.description("How many such reports (1 by default).")),
    ),
    within_ms: v.optional(Ms("How long they may take (5000 by default).")),
  }),
  expect_no_report: v.strictObject({
    do: v.literal("expect_no_report"),
    route: RouteName,
    for_ms: Ms("How long no new report may arrive on the route."),
  }),
  broker: v.strictObject({
    do: v.literal("broker"),
    action: v.picklist(["stop", "start", "restart"], 'must be "stop", "start" or "restart"'),
  }),
  offline: v.strictObject({ do: v.literal("offline"), ms: Ms("How long the broker stays down: the device is offline meanwhile.") }),
  revoke_credentials: v.strictObject({ do: v.literal("revoke_credentials") }),
  acks: v.strictObject({
    do: v.literal("acks"),
    mode: v.picklist(["normal", "withhold", "error-retryable"], 'must be "normal", "withhold" or "error-retryable"'),
  }),
  http_burst: v.strictObject({
    do: v.literal("http_burst"),
    status: v.picklist([429, 500, 502, 503], "must be 429, 500, 502 or 503"),
    count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)),
    retry_after_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600))),
  }),
  mqtt: v.strictObject({
    do: v.literal("mqtt"),
    offered: v.pipe(v.boolean(), v.description("false: the catalog offers the device no MQTT (the HTTPS runtime serves it).")),
  }),
  subscription: v.strictObject({
    do: v.literal("subscription"),
    active: v.pipe(v.boolean(), v.description("false: every device API call is answered 4002.")),
  }),
  line_fault: v.strictObject({
    do: v.literal("line_fault"),
    route: RouteName,
    get: v.optional(v.boolean()),
    set: v.optional(v.boolean()),
  }),
  restart: v.strictObject({
    do: v.literal("restart"),
    signal: v.optional(
      v.pipe(
        v.picklist(["SIGTERM", "SIGKILL"], 'must be "SIGTERM" or "SIGKILL"'),
        v.description("SIGTERM: a clean restart; SIGKILL: a crash. SIGTERM by default."),
      ),
    ),
    down_ms: v.optional(Ms("How long the device stays stopped before it starts again.")),
    steady: v.optional(
      v.pipe(
        v.array(RouteName),
        v.description(
          "Outputs that must hold their level from the stop until the device is online again: a glitch at restart fails the step.",
        ),
      ),
    ),
  }),
  wait_online: v.strictObject({ do: v.literal("wait_online"), within_ms: v.optional(Ms("How long it may take (20000 by default).")) }),
  wait: v.strictObject({ do: v.literal("wait"), ms: Ms("How long to wait.") }),
} as const;

/** The step names, in the order the README lists them. */
export const STEP_NAMES = Object.keys(steps) as (keyof typeof steps)[];

const StepSchema = v.variant(
  "do",
  Object.values(steps),
  (issue) => `"do" must be one of ${STEP_NAMES.join(", ")} (got ${JSON.stringify(issue.input)})`,
);

/** A scenario file. */
export const ScenarioSchema = v.strictObject({
  $schema: v.optional(v.string()),
  name: v.pipe(NonEmpty, v.description("What the scenario proves, in a few words.")),
  description: v.optional(v.string()),
  routes: v.pipe(v.array(ScenarioRouteSchema), v.minLength(1, "needs at least one route")),
  wiring: v.optional(
    v.pipe(
      v.record(v.string(), LineSchema),
      v.description("Real boards: for each route name, the spare line of the rig wired to the device's line."),
    ),
  ),
  steps: v.pipe(v.array(StepSchema), v.minLength(1, "needs at least one step")),
});

/** One step, as written. */
export type Step = v.InferOutput<typeof StepSchema>;
/** One route of a scenario. */
export type ScenarioRoute = v.InferOutput<typeof ScenarioRouteSchema>;

/** A loaded scenario: its steps, and each route with its device config entry. */
export interface Scenario {
  readonly path: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly routes: readonly (ScenarioRoute & { readonly config: LineRouteConfig | PwmRouteConfig })[];
  readonly wiring: Readonly<Record<string, v.InferOutput<typeof LineSchema>>> | undefined;
  readonly steps: readonly Step[];
}

function where(path: readonly { key?: unknown }[] | undefined): string {
  return (path ?? []).map((item) => (typeof item.key === "number" ? `[${item.key}]` : `.${String(item.key)}`)).join("").replace(/^\./, "");
}

/** Validates a parsed scenario; `file` names it in errors. Throws a config RealerError naming the field or step. */
export function parseScenario(input: unknown, file: string): Scenario {
  const parsed = v.safeParse(ScenarioSchema, input);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const at = where(issue.path);
    const step = /^steps\[(\d+)\]/.exec(at);
    const stepDo = step ? (input as { steps?: { do?: unknown }[] }).steps?.[Number(step[1])]?.do : undefined;
    const named = step && typeof stepDo === "string" ? `${at} (${stepDo})` : at || "the scenario";
    throw new RealerError("config", `Cannot use scenario ${file}: ${named}: ${issue.message}`);
  }
  const scenario = parsed.output;
  const names = new Set<string>();
  const routes = scenario.routes.map((route, i) => {
    if (names.has(route.name)) {
      throw new RealerError("config", `Cannot use scenario ${file}: routes[${i}].name: "${route.name}" is used twice`);
    }
    names.add(route.name);
    const { name, source_type: _type, kind: _kind, ...settings } = route;
    let entry: RouteConfig;
    try {
      entry = parseRoute({ ...settings, pin_port: name });
    } catch (error) {
      const issues = (error as { issues?: { message: string; path?: { key?: unknown }[] }[] }).issues;
      const first = issues?.[0];
      throw new RealerError(
        "config",
        `Cannot use scenario ${file}: routes[${i}]${first?.path ? `.${where(first.path)}` : ""}: ${first?.message ?? String(error)}`,
      );
    }
    if (entry.file !== undefined) {
      throw new RealerError("config", `Cannot use scenario ${file}: routes[${i}].line: a scenario's route needs a line or a PWM channel`);
    }
    if (entry.pwm !== undefined && route.source_type !== "command") {
      throw new RealerError(
        "config",
        `Cannot use scenario ${file}: routes[${i}].pwm: a PWM channel is an output: its route must be a command route`,
      );
    }
    if (route.source_type === "command" && entry.direction === "input") {
      throw new RealerError("config", `Cannot use scenario ${file}: routes[${i}].direction: a command route drives an output`);
    }
    if (route.source_type === "sensor" && entry.direction === "output") {
      throw new RealerError("config", `Cannot use scenario ${file}: routes[${i}].direction: a sensor route reads an input`);
    }
    return {
      ...route,
      config: { ...entry, direction: entry.direction ?? (route.source_type === "command" ? "output" as const : "input" as const) },
    };
  });
  const local = controlIssues(routes.map((route) => route.config))[0];
  if (local) {
    throw new RealerError("config", `Cannot use scenario ${file}: routes[${local.index}].controls.${local.field}: ${local.message}`);
  }
  const byName = new Map(routes.map((route) => [route.name, route]));
  scenario.steps.forEach((step, i) => {
    const fail = (what: string) => {
      throw new RealerError("config", `Cannot use scenario ${file}: steps[${i}] (${step.do}): ${what}`);
    };
    if (step.do === "restart") {
      for (const name of step.steady ?? []) {
        if (byName.get(name)?.source_type !== "command") fail(`steady: "${name}" is not a command route of this scenario`);
      }
    }
    if (!("route" in step)) return;
    const route = byName.get(step.route);
    if (!route) return fail(`route "${step.route}" is not one of this scenario's routes (${[...byName.keys()].join(", ")})`);
    const needs = {
      set_desired: "command",
      drive: "sensor",
      pulse: "sensor",
      bounce: "sensor",
      line_fault: undefined,
      expect_line: undefined,
      expect_level: "command",
      expect_steady: undefined,
      expect_report: undefined,
      expect_no_report: undefined,
    }[step.do];
    if (needs && route.source_type !== needs) {
      fail(`route "${step.route}" is a ${route.source_type} route; ${step.do} needs a ${needs} route`);
    }
    const onPwm = route.config.pwm !== undefined;
    if (step.do === "expect_level" && !onPwm) {
      fail(`route "${step.route}" drives a line; expect_level reads a PWM channel (use expect_line)`);
    }
    if (onPwm && ["expect_line", "expect_steady", "line_fault", "drive", "pulse", "bounce"].includes(step.do)) {
      fail(`route "${step.route}" drives a PWM channel; ${step.do} needs a line (use expect_level)`);
    }
  });
  for (const name of Object.keys(scenario.wiring ?? {})) {
    if (!byName.has(name)) {
      throw new RealerError("config", `Cannot use scenario ${file}: wiring.${name}: not one of this scenario's routes`);
    }
  }
  return { path: file, name: scenario.name, description: scenario.description, routes, wiring: scenario.wiring, steps: scenario.steps };
}

/** Reads and validates a scenario file. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new RealerError("config", `Cannot read scenario ${file}: ${(error as { code?: string }).code ?? (error as Error).message}`);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new RealerError("config", `Cannot use scenario ${file}: not JSON (${(error as Error).message})`);
  }
  return parseScenario(input, file);
}
