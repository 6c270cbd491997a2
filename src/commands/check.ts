import { readFileSync } from "node:fs";
import { ApiClient } from "../cloud/api-client.ts";
import { type Catalog, fetchCatalog } from "../cloud/catalog.ts";
import { FIRST_SCOPES, TokenSource, withToken } from "../cloud/oauth.ts";
import { systemClock } from "../clock.ts";
import { loadConfig, readCaFile, readClientSecret } from "../config/load.ts";
import { levelRange, type PwmRouteConfig, type RouteConfig, routeSource } from "../config/schema.ts";
import { createPwmBackend } from "../hal/pwm/create.ts";
import type { PwmChipInfo } from "../hal/pwm/types.ts";
import { CONTROL_WORDS, namesEntry } from "../config/controls.ts";
import { bindRoutes } from "../device/bindings.ts";
import { describeError } from "../errors.ts";
import { createBackend } from "../hal/create.ts";
import { describeLine, type GpioBackend, lineWord } from "../hal/types.ts";
import { silentLogger } from "../log.ts";
import { createFetch } from "../platform/index.ts";

/** Options of `realer-edge check`. */
export interface CheckOptions {
  readonly configPath: string;
  readonly offline: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly print: (line: string) => void;
}

const lineKey = (config: RouteConfig) =>
  config.pwm !== undefined
    ? routeSource(config)
    : config.line === undefined
    ? `file:${config.file.path}`
    : "name" in config.line
    ? `name:${config.line.name}`
    : lineWord(config.line);
const entryText = (config: RouteConfig) =>
  config.source_id ?? (config.pin_port === undefined ? config.feed_data_topic ?? "?" : `pin_port ${config.pin_port}`);

async function checkLines(
  backend: GpioBackend,
  pwmChips: () => Promise<PwmChipInfo[]>,
  routes: readonly RouteConfig[],
): Promise<{ problems: string[]; directions: Map<string, string> }> {
  const problems: string[] = [];
  const directions = new Map<string, string>();
  const seen = new Map<string, RouteConfig>();
  for (const route of routes) {
    const earlier = seen.get(lineKey(route));
    if (earlier) problems.push(`line ${routeSource(route)} is bound twice: by ${entryText(earlier)} and by ${entryText(route)}`);
    seen.set(lineKey(route), route);
    if (route.pwm !== undefined) {
      const { chip, channel } = route.pwm;
      const name = chip.replace(/^.*\//, "");
      try {
        const found = (await pwmChips()).find((info) => info.name === name);
        if (!found) problems.push(`PWM chip ${name} does not exist on this board (for ${entryText(route)})`);
        else if (channel >= found.channels) {
          problems.push(`PWM chip ${name} has ${found.channels} channels: no channel ${channel} (for ${entryText(route)})`);
        }
      } catch (error) {
        problems.push(`the PWM chips cannot be listed (${describeError(error)})`);
      }
      continue;
    }
    if (route.line === undefined) {
      try {
        readFileSync(route.file.path, "utf8");
      } catch (error) {
        problems.push(`file ${route.file.path} cannot be read (${describeError(error)})`);
      }
      continue;
    }
    try {
      const info = await backend.getLineInfo(route.line);
      directions.set(lineKey(route), info.direction);
      if (info.used) problems.push(`${describeLine(route.line)} is already held by "${info.consumer}"`);
    } catch (error) {
      problems.push(`${describeLine(route.line)} does not exist on this board (${describeError(error)})`);
    }
  }
  return { problems, directions };
}

/** A PWM route's settings in a few words: "0–100, 1000 Hz, gamma 2.2, min on 8 %". */
function levelSettings(config: PwmRouteConfig): string {
  const { min, max } = levelRange(config);
  const { pwm } = config;
  return [
    `${min}–${max}`,
    `${pwm.frequency_hz} Hz`,
    pwm.duty_min_pct === 0 && pwm.duty_max_pct === 100 ? "" : `duty ${pwm.duty_min_pct}–${pwm.duty_max_pct} %`,
    pwm.min_on_pct === undefined ? "" : `min on ${pwm.min_on_pct} %`,
    pwm.gamma === 1 ? "" : `gamma ${pwm.gamma}`,
    pwm.polarity === "inversed" ? "inversed" : "",
  ].filter((part) => part !== "").join(", ");
}

/**
 * `realer-edge check`: validates the config, checks each line on this board, and unless offline
 * reads the catalog and prints the binding table, then warnings and problems one line each.
 * Returns the exit code: 0 safe to start (warnings or not), 1 problems found, 2 the config itself
 * is bad.
 */
export async function checkCommand(options: CheckOptions): Promise<number> {
  const { print } = options;
  const config = loadConfig(options.configPath);
  const secret = readClientSecret(config, options.configPath, options.env);
  const backend = await createBackend(config.gpio.backend);
  let pwm: Promise<PwmChipInfo[]> | undefined;
  const pwmChips = () => (pwm ??= createPwmBackend(config.gpio.backend).then((chips) => chips.listChips()));
  const { problems, directions } = await checkLines(backend, pwmChips, config.routes);
  /** What is worth knowing but does not make the start unsafe. */
  const warnings: string[] = [];
  await backend.close();
  let catalog: Catalog | undefined;
  if (!options.offline) {
    const ca = readCaFile(config, options.configPath);
    const api = new ApiClient(config.api_url, createFetch(ca));
    const tokens = new TokenSource({
      api,
      clientId: config.client_id,
      clientSecret: secret,
      scopes: FIRST_SCOPES,
      clock: systemClock,
      logger: silentLogger,
    });
    try {
      catalog = await withToken(tokens, (token) => fetchCatalog(api, token, config.device_id));
    } catch (error) {
      problems.push(`cannot read the catalog: ${describeError(error)}`);
    }
  }
  if (catalog) {
    const { bindings, unbound, unused } = bindRoutes(catalog.mqtt_routes, config.routes);
    print("route                           type     pin_port  line            settings");
    for (const binding of bindings) {
      const level = binding.config.pwm === undefined ? undefined : binding.config;
      const settings = [
        level ? levelSettings(level) : "",
        binding.config.active_low ? "active-low" : "",
        binding.config.bias === "as-is" ? "" : binding.config.bias,
        binding.config.debounce_ms > 0 ? `debounce ${binding.config.debounce_ms} ms` : "",
      ].filter((s) => s !== "").join(", ");
      print(
        `${binding.name.padEnd(31)} ${binding.route.source_type.padEnd(8)} ${(binding.route.pin_port ?? "-").padEnd(9)} ${
          routeSource(binding.config).padEnd(15)
        } ${settings || "-"}`,
      );
      const line = binding.config.line;
      if (line !== undefined && binding.route.source_type === "sensor" && directions.get(lineKey(binding.config)) === "output") {
        problems.push(`${describeLine(line)} is an output but is bound to sensor route ${binding.name}`);
      }
      if (binding.route.source_type === "sensor" && binding.config.failsafe !== undefined) {
        problems.push(`config entry ${entryText(binding.config)} has a fail-safe, but the catalog makes it a sensor route`);
      }
      if (binding.route.source_type === "command" && binding.config.file !== undefined) {
        problems.push(`command route ${binding.name} is bound to a file; it needs a line or a PWM channel`);
      }
      if (binding.route.source_type === "sensor" && binding.config.pwm !== undefined) {
        problems.push(`config entry ${entryText(binding.config)} drives a PWM channel, but the catalog makes it a sensor route`);
      }
      if (
        binding.config.direction !== undefined &&
        binding.config.direction !== (binding.route.source_type === "command" ? "output" : "input")
      ) {
        problems.push(
          `config entry ${
            entryText(binding.config)
          } says direction ${binding.config.direction}, but the catalog makes it a ${binding.route.source_type} route`,
        );
      }
    }
    for (const route of unbound) {
      // Not a reason to refuse the start: the device answers what such a route is asked (rejected).
      warnings.push(
        `catalog route ${route.source_id ?? route.mqtt.feed_data_topic} (${route.source_type}${
          route.pin_port === undefined ? "" : `, pin_port ${route.pin_port}`
        }) has no line in the config: ${
          route.source_type === "command" ? "its desired states are answered rejected" : "it is never reported"
        }`,
      );
    }
    for (const entry of unused) {
      problems.push(`config entry ${entryText(entry)} names no route in the catalog: the config no longer matches it`);
    }
  }
  for (const route of config.routes) {
    if (route.controls === undefined) continue;
    const output = config.routes.find((entry) => namesEntry(entry, route.controls!.output))!;
    print(
      `local: ${entryText(route)} (${routeSource(route)}) ${CONTROL_WORDS[route.controls.mode].input} ${entryText(output)} (${
        routeSource(output)
      }) on the board, with or without the cloud`,
    );
  }
  for (const route of config.routes) {
    const failsafe = route.failsafe;
    if (failsafe === undefined) continue;
    print(
      `fail-safe: ${entryText(route)} (${routeSource(route)}) goes to ${failsafe.value} after ${failsafe.after_s} s without a working link${
        failsafe.on_subscription_inactive ? ", and at once on 4002 (subscription inactive)" : ""
      }`,
    );
  }
  for (const warning of warnings) print(`warning: ${warning}`);
  for (const problem of problems) print(`problem: ${problem}`);
  print(problems.length === 0 ? "ok: safe to start" : `${problems.length} problem${problems.length === 1 ? "" : "s"}: not safe to start`);
  return problems.length === 0 ? 0 : 1;
}
