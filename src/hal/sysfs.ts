// The sysfs GPIO backend (/sys/class/gpio), for kernels without the character device. Global
// line numbers are resolved from the chip's label or name and the offset, never hard-coded:
// the same controller is gpiochip504 on one kernel and gpiochip512 on the next.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type Clock, systemClock, type Timer } from "../clock.ts";
import { RealerError } from "../errors.ts";
import { type LibC, loadLibc, O_CLOEXEC, O_NONBLOCK, O_RDONLY, POLLERR, POLLPRI } from "../platform/libc.ts";
import { checkSettings } from "./settings.ts";
import { errorCode, sysfsErrorKind, sysfsPhrase } from "./sysfs-errors.ts";
import { FdWatcher } from "./fd-watcher.ts";
import type { ChipInfo, EdgeEvent, GpioBackend, LineInfo, LineRef, LineRequest, LineSettings, LineValue } from "./types.ts";
import { describeLine } from "./types.ts";

interface SysfsChip extends ChipInfo {
  /** The chip's directory name in sysfs: gpiochip<base>. */
  readonly sysfsName: string;
  readonly base: number;
}

const kindOf = sysfsErrorKind;
const phrase = (error: unknown): string => sysfsPhrase(error);

const readText = (path: string): string => readFileSync(path, "utf8").trim();

/** GPIO through `/sys/class/gpio`. */
export class SysfsBackend implements GpioBackend {
  readonly name = "sysfs" as const;
  readonly #root: string;
  readonly #libc: LibC;
  readonly #watcher: FdWatcher;
  /** Lines this backend holds, by global number. */
  readonly #held = new Map<number, SysfsRequest>();

  readonly #clock: Clock;

  /** `clock` times the software debounce and stamps edges; the system's by default. */
  constructor(libc: LibC, root = "/sys/class/gpio", clock: Clock = systemClock) {
    this.#libc = libc;
    this.#root = root;
    this.#clock = clock;
    this.#watcher = new FdWatcher(libc);
  }

  /** Binds libc (for poll) and builds the backend. */
  static async open(root?: string, clock?: Clock): Promise<SysfsBackend> {
    return new SysfsBackend(await loadLibc(), root, clock);
  }

  listChips(): Promise<ChipInfo[]> {
    return Promise.resolve(this.#chips().map(({ name, label, path, lines }) => ({ name, label, path, lines })));
  }

  async getLineInfo(ref: LineRef): Promise<LineInfo> {
    const { chip, offset, global } = this.#resolve(ref, "describe");
    const mine = this.#held.get(global);
    const dir = `${this.#root}/gpio${global}`;
    const exported = existsSync(dir);
    return {
      chip: chip.name,
      offset,
      name: "",
      consumer: mine?.consumer ?? (exported ? "sysfs" : ""),
      used: mine !== undefined || exported,
      direction: exported && readText(`${dir}/direction`) === "out" ? "output" : "input",
      activeLow: exported && readText(`${dir}/active_low`) === "1",
      drive: "push-pull",
    };
  }

  async requestLine(ref: LineRef, settings: LineSettings, consumer: string): Promise<LineRequest> {
    const { chip, offset, global } = this.#resolve(ref, "request");
    const where = `line ${offset} on ${chip.name}`;
    checkSettings(settings, `Cannot request ${where}`);
    checkSysfsSettings(settings, `Cannot request ${where}`);
    const holder = this.#held.get(global);
    if (holder) throw new RealerError("busy", `Cannot request ${where}: line is busy (held by ${holder.consumer})`);
    const dir = `${this.#root}/gpio${global}`;
    // An export outlives the process that made it (a crash, an upgrade): a line still exported is
    // taken over as it is, so an output keeps its level rather than dropping to the default.
    if (!existsSync(dir)) {
      try {
        writeFileSync(`${this.#root}/export`, String(global));
      } catch (error) {
        const busy = errorCode(error) === "EBUSY";
        throw new RealerError(
          kindOf(error),
          `Cannot request ${where}: ${busy ? "line is busy (held by another consumer)" : phrase(error)}`,
        );
      }
    }
    const request = new SysfsRequest({
      libc: this.#libc,
      clock: this.#clock,
      watcher: this.#watcher,
      dir,
      chip: chip.name,
      offset,
      consumer,
      root: this.#root,
      global,
      onRelease: () => this.#held.delete(global),
    });
    try {
      await request.configure(settings, "request");
    } catch (error) {
      await request.release();
      throw error;
    }
    this.#held.set(global, request);
    return request;
  }

  async close(): Promise<void> {
    for (const request of [...this.#held.values()]) await request.release();
    this.#watcher.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #chips(): SysfsChip[] {
    let entries: string[];
    try {
      entries = readdirSync(this.#root).filter((entry) => /^gpiochip\d+$/.test(entry));
    } catch {
      return [];
    }
    return entries.map((sysfsName) => {
      const dir = `${this.#root}/${sysfsName}`;
      // The character-device name (gpiochip0) sits beside the chip in its parent device.
      let name = sysfsName;
      try {
        name = readdirSync(`${dir}/device`).find((entry) => /^gpiochip\d+$/.test(entry)) ?? sysfsName;
      } catch {
        // no device link: keep the sysfs name
      }
      return {
        sysfsName,
        name,
        label: readText(`${dir}/label`),
        path: dir,
        lines: Number(readText(`${dir}/ngpio`)),
        base: Number(readText(`${dir}/base`)),
      };
    }).sort((a, b) => a.base - b.base);
  }

  #resolve(ref: LineRef, action: string): { chip: SysfsChip; offset: number; global: number } {
    if ("name" in ref) {
      throw new RealerError(
        "unsupported",
        `Cannot ${action} ${describeLine(ref)}: sysfs does not know line names; name the chip and offset`,
      );
    }
    const devName = ref.chip.startsWith("/dev/") ? ref.chip.slice(5) : undefined;
    const chip = this.#chips().find((c) =>
      c.name === ref.chip || c.sysfsName === ref.chip || c.label === ref.chip || c.path === ref.chip || c.name === devName
    );
    if (!chip) throw new RealerError("not-found", `Cannot ${action} ${describeLine(ref)}: no such chip in ${this.#root}`);
    if (ref.offset >= chip.lines) throw new RangeError(`Cannot ${action} ${describeLine(ref)}: the chip has ${chip.lines} lines`);
    return { chip, offset: ref.offset, global: chip.base + ref.offset };
  }
}

/** What sysfs cannot do, refused rather than ignored. */
function checkSysfsSettings(settings: LineSettings, prefix: string): void {
  if ((settings.bias ?? "as-is") !== "as-is") {
    throw new RealerError("unsupported", `${prefix}: the sysfs backend cannot set bias ${settings.bias}; use the cdev backend`);
  }
  if ((settings.drive ?? "push-pull") !== "push-pull") {
    throw new RealerError("unsupported", `${prefix}: the sysfs backend cannot set drive ${settings.drive}; use the cdev backend`);
  }
}

interface SysfsRequestOptions {
  readonly libc: LibC;
  readonly clock: Clock;
  readonly watcher: FdWatcher;
  readonly dir: string;
  readonly root: string;
  readonly global: number;
  readonly chip: string;
  readonly offset: number;
  readonly consumer: string;
  readonly onRelease: () => void;
}

class SysfsRequest implements LineRequest {
  readonly chip: string;
  readonly offset: number;
  readonly consumer: string;
  readonly #options: SysfsRequestOptions;
  readonly #listeners = new Set<(event: EdgeEvent) => void>();
  #settings: LineSettings = { direction: "input" };
  #valueFd = -1;
  #unwatch: (() => void) | undefined;
  #debounce: Timer | undefined;
  /** The last logical value seen settled, so bounces and repeats cancel out. */
  #last: LineValue = 0;
  #released = false;

  constructor(options: SysfsRequestOptions) {
    this.#options = options;
    this.chip = options.chip;
    this.offset = options.offset;
    this.consumer = options.consumer;
  }

  get settings(): Readonly<LineSettings> {
    return this.#settings;
  }

  /** Applies settings in the order that never shows a wrong level: active_low, then direction with its level. */
  async configure(settings: LineSettings, action: string): Promise<void> {
    const where = `line ${this.offset} on ${this.chip}`;
    const activeLow = settings.activeLow ?? false;
    let keep: LineValue | undefined;
    if (settings.direction === "output" && settings.outputValue === undefined && this.#readDirection() === "out") keep = this.#readValue();
    this.#stopWatching();
    try {
      if (this.#readDirection() === "in") await this.#write("edge", "none");
      await this.#write("active_low", activeLow ? "1" : "0");
      if (settings.direction === "output") {
        const value = settings.outputValue ?? keep ?? 0;
        const level = activeLow ? 1 - value : value;
        // "high" and "low" set direction and level in one write, raw (before active_low).
        await this.#write("direction", level === 1 ? "high" : "low");
      } else {
        await this.#write("direction", "in");
        await this.#write("edge", settings.edge ?? "none");
      }
    } catch (error) {
      throw new RealerError(kindOf(error), `Cannot ${action} ${where}: ${phrase(error)}`, { cause: error });
    }
    this.#settings = { ...settings };
    this.#last = this.#readValue();
    if (settings.direction === "input" && (settings.edge ?? "none") !== "none") this.#startWatching();
  }

  async getValue(): Promise<LineValue> {
    this.#assertHeld("read");
    return this.#readValue();
  }

  async setValue(value: LineValue): Promise<void> {
    this.#assertHeld("set");
    if (this.#settings.direction !== "output") {
      throw new RealerError("config", `Cannot set line ${this.offset} on ${this.chip}: it is an input`);
    }
    try {
      await this.#write("value", String(value));
    } catch (error) {
      throw new RealerError(kindOf(error), `Cannot set line ${this.offset} on ${this.chip}: ${phrase(error)}`, { cause: error });
    }
  }

  async reconfigure(settings: LineSettings): Promise<void> {
    this.#assertHeld("reconfigure");
    const prefix = `Cannot reconfigure line ${this.offset} on ${this.chip}`;
    checkSettings(settings, prefix);
    checkSysfsSettings(settings, prefix);
    await this.configure(settings, "reconfigure");
  }

  onEdge(listener: (event: EdgeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#stopWatching();
    this.#listeners.clear();
    try {
      writeFileSync(`${this.#options.root}/unexport`, String(this.#options.global));
    } catch {
      // already unexported by someone else: nothing left to give back
    }
    this.#options.onRelease();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #readDirection(): "in" | "out" {
    return readText(`${this.#options.dir}/direction`) === "out" ? "out" : "in";
  }

  #readValue(): LineValue {
    try {
      return readText(`${this.#options.dir}/value`) === "1" ? 1 : 0;
    } catch (error) {
      throw new RealerError(kindOf(error), `Cannot read line ${this.offset} on ${this.chip}: ${phrase(error)}`, { cause: error });
    }
  }

  async #write(attribute: string, text: string): Promise<void> {
    // udev may change the owner of a freshly exported line's files a moment after export.
    const path = `${this.#options.dir}/${attribute}`;
    const deadline = this.#options.clock.now() + 1000;
    for (;;) {
      try {
        writeFileSync(path, text);
        return;
      } catch (error) {
        if (errorCode(error) !== "EACCES" || this.#options.clock.now() > deadline) throw error;
        await this.#options.clock.sleep(20);
      }
    }
  }

  #startWatching(): void {
    const { libc } = this.#options;
    const fd = libc.open(`${this.#options.dir}/value`, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw new RealerError("io", `Cannot watch line ${this.offset} on ${this.chip}: errno ${libc.errno()}`);
    this.#valueFd = fd;
    const buffer = new Uint8Array(4);
    libc.pread(fd, buffer, 0); // arms the notification
    this.#unwatch = this.#options.watcher.watch(fd, POLLPRI | POLLERR, () => {
      libc.pread(fd, buffer, 0); // re-arms it
      this.#woken(buffer[0] === 0x31 ? 1 : 0);
    });
  }

  #stopWatching(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#debounce?.cancel();
    if (this.#valueFd >= 0) this.#options.libc.close(this.#valueFd);
    this.#valueFd = -1;
  }

  /** The kernel saw a configured edge; debounce in software (sysfs has no debounce of its own). */
  #woken(value: LineValue): void {
    const edge = this.#settings.edge ?? "none";
    // A one-sided edge setting wakes only on that edge, so the level before it is unknown: the
    // edge counts when the line (still) reads the level it leads to.
    const oneSided = edge === "rising" || edge === "falling";
    const target: LineValue = edge === "rising" ? 1 : 0;
    const decide = (settled: LineValue) => {
      if (!oneSided) this.#emit(settled, false);
      else if (settled === target) this.#emit(settled, true);
    };
    const debounceMs = this.#settings.debounceMs ?? 0;
    if (debounceMs > 0) {
      this.#debounce?.cancel();
      this.#debounce = this.#options.clock.after(debounceMs, () => decide(this.#readValue()));
      return;
    }
    decide(oneSided ? target : value);
  }

  #emit(value: LineValue, force: boolean): void {
    if (this.#released || (!force && value === this.#last)) return;
    this.#last = value;
    const kind = value === 1 ? "rising" : "falling";
    const edge = this.#settings.edge ?? "none";
    if (edge !== "both" && edge !== kind) return;
    const event: EdgeEvent = { chip: this.chip, offset: this.offset, kind, value, observedAt: this.#options.clock.now() };
    for (const listener of this.#listeners) listener(event);
  }

  #assertHeld(action: string): void {
    if (this.#released) throw new RealerError("released", `Cannot ${action} line ${this.offset} on ${this.chip}: the request was released`);
  }
}
