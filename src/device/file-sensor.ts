// A sensor read from a file rather than a line: an IIO ADC's in_voltage0_raw, a 1-Wire
// temperature file (millidegrees) or its older w1_slave form ("... t=23125"). Sampled on a
// timer, scaled, and reported when it leaves the deadband or when the heartbeat is due.
import { readFile } from "node:fs/promises";
import type { Clock, Timer } from "../clock.ts";
import type { FileRouteConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";

/** The number a sensor file holds, or why there is none. */
export function parseSensorFile(text: string): { ok: true; raw: number } | { ok: false; reason: string } {
  const w1 = /t=(-?\d+)/.exec(text);
  if (w1) {
    if (/crc=\S+ NO/.test(text)) return { ok: false, reason: "the 1-Wire CRC check failed" };
    return { ok: true, raw: Number(w1[1]) };
  }
  const trimmed = text.trim();
  const raw = trimmed === "" ? Number.NaN : Number(trimmed);
  return Number.isFinite(raw) ? { ok: true, raw } : { ok: false, reason: `"${trimmed.slice(0, 40)}" is not a number` };
}

/** Whether a new sample should be reported, given the last report. */
export function shouldReport(
  value: number,
  last: { value: number; at: number } | undefined,
  now: number,
  deadband: number,
  heartbeatMs: number,
): boolean {
  if (!last) return true;
  if (now - last.at >= heartbeatMs) return true;
  return Math.abs(value - last.value) >= deadband && value !== last.value;
}

/** Options for {@linkcode FileSensor}. */
export interface FileSensorOptions {
  readonly config: FileRouteConfig;
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Receives each value to report, as the catalog's numeric string, with its observation time. */
  readonly report: (value: string, observedAt: number) => void;
}

/** Samples one file source. */
export class FileSensor {
  readonly #options: FileSensorOptions;
  #timer: Timer | undefined;
  #last: { value: number; at: number } | undefined;
  #failing = false;

  constructor(options: FileSensorOptions) {
    this.#options = options;
  }

  /** Takes a first sample now, then one per `sample_interval_s` (10 s by default). */
  async start(): Promise<void> {
    await this.sample();
    const intervalS = this.#options.config.sample_interval_s ?? 10;
    this.#timer = this.#options.clock.every(intervalS * 1000, () => void this.sample());
  }

  /** Stops sampling. */
  stop(): void {
    this.#timer?.cancel();
  }

  /** Reads the file once and reports the value when it is due. */
  async sample(): Promise<void> {
    const { config, name, clock, logger, report } = this.#options;
    const file = config.file;
    const now = clock.now();
    let parsed: ReturnType<typeof parseSensorFile>;
    try {
      parsed = parseSensorFile(await readFile(file.path, "utf8"));
    } catch (error) {
      parsed = { ok: false, reason: (error as { code?: string }).code ?? String(error) };
    }
    if (!parsed.ok) {
      // One line when it starts failing, one when it recovers: a dead probe must not flood the log.
      if (!this.#failing) logger.error("sensor.file_unreadable", { route: name, path: file.path, reason: parsed.reason });
      this.#failing = true;
      return;
    }
    if (this.#failing) logger.info("sensor.file_recovered", { route: name, path: file.path });
    this.#failing = false;
    const factor = 10 ** file.decimals;
    const value = Math.round((parsed.raw * file.scale + file.offset) * factor) / factor;
    if (!shouldReport(value, this.#last, now, config.deadband ?? 0, config.heartbeat_s * 1000)) return;
    this.#last = { value, at: now };
    report(value.toFixed(file.decimals), now);
  }
}
