import * as v from "valibot";
import { LOG_LEVELS } from "../log.ts";
import { BACKEND_NAMES, lineWord } from "../hal/types.ts";
import { controlIssuePath, controlIssues } from "./controls.ts";

const NonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));

/** How an input drives the output it controls (see `controls`). */
export const CONTROL_MODES = ["toggle", "follow", "flip", "momentary"] as const;
/** One of {@linkcode CONTROL_MODES}. */
export type ControlMode = (typeof CONTROL_MODES)[number];

/** A line: {chip, offset} or {name}. */
export const LineSchema = v.union(
  [
    v.strictObject({
      chip: v.pipe(NonEmpty, v.description("Chip name (gpiochip0), label or path (/dev/gpiochip0).")),
      offset: v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must not be negative")),
    }),
    v.strictObject({ name: v.pipe(NonEmpty, v.description("The line's name, as gpioinfo shows it.")) }),
  ],
  "must be {chip, offset} or {name}",
);

const FileSourceSchema = v.strictObject({
  path: v.pipe(NonEmpty, v.description("A file holding a number: an IIO in_voltage0_raw, a 1-Wire temperature or w1_slave file.")),
  scale: v.optional(v.pipe(v.number(), v.description("Reported value = raw × scale + offset.")), 1),
  offset: v.optional(v.number(), 0),
  decimals: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(6), v.description("Digits after the point in the reported value.")),
    2,
  ),
});

const Percent = v.pipe(v.number(), v.minValue(0, "must be at least 0 %"), v.maxValue(100, "must be at most 100 %"));

/** A PWM channel and how a route's value becomes its duty cycle. */
const PwmSourceSchema = v.pipe(
  v.strictObject({
    chip: v.pipe(NonEmpty, v.description("The PWM chip: pwmchip0, or its path /sys/class/pwm/pwmchip0.")),
    channel: v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must not be negative")),
    frequency_hz: v.optional(
      v.pipe(
        v.number(),
        v.minValue(0.01, "must be at least 0.01 Hz"),
        v.maxValue(50_000_000, "must be at most 50 MHz"),
        v.description("The PWM frequency: 1 kHz by default (LED drivers like 1–25 kHz, servos 50 Hz, heaters a few Hz)."),
      ),
      1_000,
    ),
    polarity: v.optional(
      v.pipe(v.picklist(["normal", "inversed"]), v.description("inversed: the active part of each period drives the pin low.")),
      "normal",
    ),
    duty_min_pct: v.optional(v.pipe(Percent, v.description("The duty cycle at the range's minimum (off, or a servo's end).")), 0),
    duty_max_pct: v.optional(v.pipe(Percent, v.description("The duty cycle at the range's maximum.")), 100),
    min_on_pct: v.optional(
      v.pipe(
        Percent,
        v.description(
          "The lowest duty of any value above the minimum: a lamp or fan that does not start below it is never left dimly off. Values above the minimum are spread from here to duty_max_pct.",
        ),
      ),
    ),
    gamma: v.optional(
      v.pipe(
        v.number(),
        v.minValue(0.1, "must be at least 0.1"),
        v.maxValue(5, "must be at most 5"),
        v.description("duty ∝ value^gamma: 2.2 makes a lamp's steps look even to the eye; 1 (the default) is linear."),
      ),
      1,
    ),
  }),
  v.check((pwm) => pwm.duty_max_pct > pwm.duty_min_pct, "duty_max_pct must be above duty_min_pct"),
  v.check(
    (pwm) => pwm.min_on_pct === undefined || (pwm.min_on_pct >= pwm.duty_min_pct && pwm.min_on_pct <= pwm.duty_max_pct),
    "min_on_pct must lie between duty_min_pct and duty_max_pct",
  ),
);

/** The values a level route takes, as the catalog's NumericRange leaves them to the device. */
const RangeSchema = v.pipe(
  v.strictObject({
    min: v.optional(v.number(), 0),
    max: v.optional(v.number(), 100),
    decimals: v.optional(
      v.pipe(
        v.number(),
        v.integer(),
        v.minValue(0),
        v.maxValue(6),
        v.description("Digits after the point of the values taken and reported."),
      ),
      0,
    ),
  }),
  v.check((range) => range.max > range.min, "max must be above min"),
);

const Milliseconds = (max: number) =>
  v.pipe(v.number(), v.integer("must be a whole number of milliseconds"), v.minValue(0, "must not be negative"), v.maxValue(max));

/** The fields of a route entry; the HIL scenario schema reuses those that say how a line behaves. */
export const ROUTE_ENTRIES = {
  source_id: v.optional(v.pipe(NonEmpty, v.description("Bind the catalog route with this source_id."))),
  pin_port: v.optional(v.pipe(NonEmpty, v.description("Bind the catalog route with this pin_port."))),
  feed_data_topic: v.optional(v.pipe(NonEmpty, v.description("Bind the catalog route with this topic, when it has no id or pin_port."))),
  line: v.optional(LineSchema),
  file: v.optional(v.pipe(FileSourceSchema, v.description("Sensor routes: read a value from a file instead of a line."))),
  pwm: v.optional(
    v.pipe(PwmSourceSchema, v.description("Command routes: drive a PWM channel with a level (a dimmer, a fan speed, a valve, a heater).")),
  ),
  range: v.optional(
    v.pipe(RangeSchema, v.description("PWM routes: the values the route takes; 0 to 100 in whole steps by default.")),
  ),
  direction: v.optional(
    v.pipe(
      v.picklist(["output", "input"], 'must be "output" (a command route) or "input" (a sensor route)'),
      v.description(
        "Claim the line at boot, before the network, with this direction. Without it, the direction the catalog last gave is used; on the very first start the line waits for the catalog.",
      ),
    ),
  ),
  active_low: v.optional(v.boolean(), false),
  bias: v.optional(v.picklist(["as-is", "disabled", "pull-up", "pull-down"]), "as-is"),
  drive: v.optional(
    v.pipe(v.picklist(["push-pull", "open-drain", "open-source"]), v.description("Outputs: how the line drives.")),
    "push-pull",
  ),
  power_on: v.optional(
    v.pipe(
      v.union([v.picklist(["off", "on", "restore"]), v.number()], 'must be "off", "on", "restore" or (a PWM route) a level'),
      v.description(
        "Outputs: the value the line takes when the runtime claims it at boot, before the network; a PWM route may give a level of its range.",
      ),
    ),
    "off",
  ),
  restore_max_age_s: v.optional(
    v.pipe(
      v.number(),
      v.minValue(0),
      v.description("power_on restore: restore the last value only when it was set less than this long ago; otherwise off."),
    ),
    86_400,
  ),
  pulse_ms: v.optional(
    v.pipe(
      Milliseconds(3_600_000),
      v.minValue(1, "must be at least 1 ms"),
      v.description("Outputs: a momentary output; it goes back to inactive by itself after this long, enforced locally even offline."),
    ),
  ),
  interlock: v.optional(
    v.pipe(NonEmpty, v.description("Outputs: the interlock group; at most one output of a group is active at a time.")),
  ),
  interlock_dead_time_ms: v.optional(
    v.pipe(Milliseconds(60_000), v.description("Outputs: wait this long between switching one output of the group off and another on.")),
    0,
  ),
  shutdown: v.optional(
    v.pipe(
      v.picklist(["hold", "safe"]),
      v.description('Outputs: on a clean stop, "hold" leaves the line as it is, "safe" sets it inactive first.'),
    ),
    "hold",
  ),
  failsafe: v.optional(
    v.pipe(
      v.strictObject({
        value: v.pipe(
          v.number("must be a number"),
          v.description("The safe value: 0 inactive, 1 active; a PWM route's a level of its range."),
        ),
        after_s: v.pipe(
          v.number(),
          v.minValue(1, "must be at least 1 second"),
          v.maxValue(604_800, "must be at most a week"),
          v.description(
            "Set the safe value once the device has had no working link to the cloud this long (since start, or since the link went down).",
          ),
        ),
        on_subscription_inactive: v.optional(
          v.pipe(v.boolean(), v.description("Also set it at once when Realer answers 4002 (subscription inactive).")),
          true,
        ),
      }),
      v.description("Outputs: a safe value for when the cloud is gone (heaters, pumps, locks). Off when absent."),
    ),
  ),
  debounce_ms: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(10_000)), 0),
  latest_value: v.optional(
    v.pipe(v.boolean(), v.description("Sensor routes: when the outbox is full, keep only this route's newest reading.")),
    false,
  ),
  sample_interval_s: v.optional(
    v.pipe(
      v.number(),
      v.minValue(1, "must be at least 1 second"),
      v.description("Sensor routes: also report the value this often (a line), or read the file this often (10 s by default)."),
    ),
  ),
  deadband: v.optional(
    v.pipe(
      v.number(),
      v.minValue(0),
      v.description("File sensors: report a sample only when it moved at least this much since the last report."),
    ),
  ),
  heartbeat_s: v.optional(
    v.pipe(v.number(), v.minValue(1), v.description("File sensors: report at least this often, even inside the deadband.")),
    300,
  ),
  controls: v.optional(
    v.pipe(
      v.strictObject({
        output: v.pipe(
          NonEmpty,
          v.description("The output route this input drives: the pin_port, source_id or feed_data_topic of another entry."),
        ),
        mode: v.pipe(
          v.picklist(CONTROL_MODES, `must be one of ${CONTROL_MODES.join(", ")}`),
          v.description(
            "toggle: each press flips the output; follow: the output follows a maintained switch; flip: each change of a two-way switch flips the output; momentary: on while held.",
          ),
        ),
      }),
      v.description(
        "Input routes: drive an output on the board itself, before any network and without the cloud; both changes are reported as local physical changes.",
      ),
    ),
  ),
};

/** One route entry of the config. */
export const RouteSchema = v.pipe(
  v.strictObject(ROUTE_ENTRIES),
  v.check(
    (route) => [route.source_id, route.pin_port, route.feed_data_topic].filter((key) => key !== undefined).length === 1,
    "needs exactly one of source_id, pin_port or feed_data_topic",
  ),
  v.check(
    (route) => [route.line, route.file, route.pwm].filter((source) => source !== undefined).length === 1,
    "needs exactly one of line, file or pwm",
  ),
  v.check((route) => route.pwm === undefined || route.direction !== "input", "a PWM channel is an output: it cannot be an input"),
  v.check((route) => route.range === undefined || route.pwm !== undefined, "only a PWM route takes a range: a line is 0 or 1"),
  v.check((route) => route.pwm === undefined || route.pulse_ms === undefined, "a PWM output cannot pulse: give it a line instead"),
  v.check(
    (route) => typeof route.power_on !== "number" || (route.pwm !== undefined && inRange(route.power_on, route.range)),
    "a power_on level is for a PWM route, within its range",
  ),
  v.check(
    (route) =>
      route.failsafe === undefined ||
      (route.pwm === undefined ? route.failsafe.value === 0 || route.failsafe.value === 1 : inRange(route.failsafe.value, route.range)),
    "the fail-safe value must be 0 (inactive) or 1 (active), or for a PWM route a level within its range",
  ),
  v.check((route) => route.file === undefined || route.direction !== "output", "a file source is a sensor: it cannot be an output"),
  v.check(
    (route) => route.failsafe === undefined || (route.file === undefined && route.direction !== "input"),
    "a fail-safe is for outputs: an input or a file source cannot have one",
  ),
  v.check(
    (route) => route.failsafe === undefined || route.pulse_ms === undefined || route.failsafe.value === 0,
    "a pulse output's fail-safe value must be 0: a pulse never stays active",
  ),
  v.check(
    (route) => route.pulse_ms === undefined || route.power_on === "off",
    'a pulse output must power on "off": it never comes back active by itself',
  ),
  v.check(
    (route) => route.controls === undefined || (route.line !== undefined && route.direction !== "output"),
    "only an input line can control an output: a file source or an output cannot have controls",
  ),
  // The checks above made it one of the three; the type says so, so that no caller has to assert it.
  v.transform((route) => route as LineRouteConfig | FileRouteConfig | PwmRouteConfig),
);

function inRange(value: number, range: { min?: number | undefined; max?: number | undefined } | undefined): boolean {
  return value >= (range?.min ?? 0) && value <= (range?.max ?? 100);
}

type RouteFields = v.InferOutput<v.StrictObjectSchema<typeof ROUTE_ENTRIES, undefined>>;
type Sources = "line" | "file" | "pwm";
/** A route entry that reads or drives a GPIO line. */
export type LineRouteConfig = Omit<RouteFields, Sources> & {
  readonly line: NonNullable<RouteFields["line"]>;
  readonly file?: undefined;
  readonly pwm?: undefined;
};
/** A sensor route entry that reads a number from a file. */
export type FileRouteConfig = Omit<RouteFields, Sources> & {
  readonly file: NonNullable<RouteFields["file"]>;
  readonly line?: undefined;
  readonly pwm?: undefined;
};
/** A command route entry that drives a PWM channel with a level. */
export type PwmRouteConfig = Omit<RouteFields, Sources> & {
  readonly pwm: NonNullable<RouteFields["pwm"]>;
  readonly line?: undefined;
  readonly file?: undefined;
};

/** A PWM route's range with its defaults. */
export function levelRange(route: PwmRouteConfig): { readonly min: number; readonly max: number; readonly decimals: number } {
  return route.range ?? { min: 0, max: 100, decimals: 0 };
}

/** Where a configured route's output state is kept: its binding key, known before any catalog. */
export function routeKey(
  route: { source_id?: string | undefined; pin_port?: string | undefined; feed_data_topic?: string | undefined },
): string {
  if (route.source_id !== undefined) return `source_id:${route.source_id}`;
  if (route.pin_port !== undefined) return `pin_port:${route.pin_port}`;
  return `topic:${route.feed_data_topic}`;
}

const SecretSourceSchema = v.union(
  [
    v.strictObject({ env: v.pipe(NonEmpty, v.description("Read the client secret from this environment variable.")) }),
    v.strictObject({ file: v.pipe(NonEmpty, v.description("Read the client secret from this file (systemd LoadCredential).")) }),
  ],
  'must be {"env": NAME} or {"file": PATH}; the secret itself never goes in the config',
);

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Whether a host name or address only reaches this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

const ConsoleSchema = v.pipe(
  v.strictObject({
    enabled: v.optional(v.pipe(v.boolean(), v.description("Serve the local web console and /metrics.")), false),
    host: v.optional(v.pipe(NonEmpty, v.description("Address to listen on; anything but loopback needs a token.")), "127.0.0.1"),
    port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), 8480),
    allowed_hosts: v.optional(
      v.pipe(
        v.array(NonEmpty),
        v.description(
          "Host names (besides loopback names and addresses) the console answers to, such as the board's mDNS name; any other Host header is refused, against DNS rebinding.",
        ),
      ),
      [],
    ),
    token: v.optional(
      v.pipe(
        v.union([
          v.strictObject({ env: NonEmpty }),
          v.strictObject({ file: NonEmpty }),
        ], 'must be {"env": NAME} or {"file": PATH}'),
        v.description("The console's access token, sent as a bearer header or entered once on the page."),
      ),
    ),
  }),
  v.check(
    (console) => !console.enabled || console.token !== undefined || isLoopback(console.host),
    "a console on a non-loopback host needs a token: without one anyone on the network could switch the relays",
  ),
);

/** The device config file, validated at start. */
export const ConfigSchema = v.strictObject({
  $schema: v.optional(v.string()),
  api_url: v.pipe(
    v.string(),
    v.url("must be a URL"),
    v.startsWith("https://", "must be an https:// URL (Realer refuses plain HTTP)"),
    v.description("Realer's REST and OAuth base URL."),
  ),
  device_id: v.pipe(
    v.union([v.pipe(v.number(), v.integer()), NonEmpty], "must be a number or a string"),
    v.description("The device id, as Realer gave it."),
  ),
  client_id: v.pipe(NonEmpty, v.description("The OAuth client id (cdv_…).")),
  client_secret: SecretSourceSchema,
  ca_file: v.optional(v.pipe(NonEmpty, v.description("PEM CA bundle for HTTPS and MQTT; the system store when absent."))),
  state_dir: v.optional(NonEmpty, "/var/lib/realer-edge"),
  log: v.optional(
    v.strictObject({
      level: v.optional(v.picklist(LOG_LEVELS), "info"),
      format: v.optional(v.picklist(["text", "json"]), "text"),
    }),
    { level: "info", format: "text" },
  ),
  outbox: v.optional(
    v.strictObject({
      max_messages: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10)), 10_000),
      max_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4096)), 4 * 1024 * 1024),
    }),
    { max_messages: 10_000, max_bytes: 4 * 1024 * 1024 },
  ),
  https: v.optional(
    v.strictObject({
      poll_interval_s: v.optional(
        v.pipe(
          v.number(),
          v.minValue(1),
          v.description("HTTPS runtime: poll desired states this often (never faster than the server's cadence)."),
        ),
        10,
      ),
      catalog_check_s: v.optional(
        v.pipe(v.number(), v.minValue(1), v.description("HTTPS runtime: look for MQTT becoming available this often.")),
        300,
      ),
    }),
    { poll_interval_s: 10, catalog_check_s: 300 },
  ),
  gpio: v.strictObject({
    backend: v.picklist(BACKEND_NAMES, `must be one of: ${BACKEND_NAMES.join(", ")}`),
    control_port: v.optional(
      v.pipe(
        v.number(),
        v.integer(),
        v.minValue(0),
        v.maxValue(65535),
        v.description("mock only: serve the line control interface on 127.0.0.1 at this port."),
      ),
    ),
  }),
  updates: v.optional(
    v.pipe(
      v.strictObject({
        channel: v.pipe(
          v.string(),
          v.url("must be a URL"),
          v.startsWith("https://", "must be an https:// URL: releases come over TLS only"),
          v.description(
            "The folder of this board's target on the release server, e.g. https://releases.example.com/realer-edge/linux-arm64/.",
          ),
        ),
        byte_budget_per_day: v.optional(
          v.pipe(
            v.number(),
            v.integer(),
            v.minValue(1_048_576, "must be at least 1 MiB"),
            v.description("On a metered link: download at most this many bytes a day; a download goes on the next day."),
          ),
        ),
        trial_window_s: v.optional(
          v.pipe(v.number(), v.integer(), v.minValue(60), v.description("How long a new release has to prove itself healthy.")),
          900,
        ),
      }),
      v.description("Field updates, read by `realer-edge update poll` (the updater, as root): see docs/updates.md."),
    ),
  ),
  console: v.optional(ConsoleSchema, { enabled: false, host: "127.0.0.1", port: 8480, allowed_hosts: [] }),
  routes: v.pipe(
    v.array(RouteSchema),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      for (const issue of controlIssues(dataset.value)) addIssue({ message: issue.message, path: controlIssuePath(dataset.value, issue) });
    }),
  ),
});

/** A validated config. */
export type Config = Readonly<v.InferOutput<typeof ConfigSchema>>;
/** One route binding of the config. */
export type RouteConfig = Config["routes"][number];

/** What a route reads or drives, in a few words: "gpiochip0:6", a line name, or "file /path". */
export function routeSource(route: RouteConfig): string {
  if (route.pwm !== undefined) return `pwm ${route.pwm.chip.replace(/^.*\//, "")}/${route.pwm.channel}`;
  if (route.line === undefined) return `file ${route.file?.path}`;
  return lineWord(route.line);
}

type RouteInput = v.InferInput<typeof RouteSchema>;

/** A route entry with its defaults filled in, for code that builds configs (the demo, tests); a line's or a file's by what it was given. */
export function parseRoute(input: RouteInput & { readonly line: NonNullable<RouteInput["line"]> }): LineRouteConfig;
export function parseRoute(input: RouteInput & { readonly file: NonNullable<RouteInput["file"]> }): FileRouteConfig;
export function parseRoute(input: RouteInput): RouteConfig;
export function parseRoute(input: RouteInput): RouteConfig {
  return v.parse(RouteSchema, input);
}
