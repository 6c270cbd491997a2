// PWM through the kernel's sysfs class (/sys/class/pwm): the Raspberry Pi's hardware PWM and
// every chip Linux drives. A channel is exported once and then driven by writing its files; the
// writes are ordered by the kernel's rules (the duty never above the period, the polarity only
// while disabled), so that a claim moves the pin straight to its first duty. An export outlives
// the process that made it: a channel still exported is taken over as it stands.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { type Clock, systemClock } from "../../clock.ts";
import { RealerError } from "../../errors.ts";
import { errorCode, sysfsErrorKind, sysfsPhrase } from "../sysfs-errors.ts";
import {
  channelWord,
  checkDuty,
  checkPwmSettings,
  type Polarity,
  type PwmBackend,
  type PwmChannel,
  type PwmChipInfo,
  type PwmRef,
  type PwmSettings,
  type PwmState,
} from "./types.ts";

/** The file operations the backend needs; node:fs by default, a simulated kernel in tests. */
export interface SysfsFiles {
  exists(path: string): boolean;
  read(path: string): string;
  write(path: string, text: string): void;
  list(path: string): string[];
}

const nodeFiles: SysfsFiles = {
  exists: (path) => existsSync(path),
  read: (path) => readFileSync(path, "utf8"),
  write: (path, text) => writeFileSync(path, text),
  list: (path) => readdirSync(path),
};

const kindOf = sysfsErrorKind;
/** The PWM class's words for what differs from a GPIO line's. */
const phrase = (error: unknown): string =>
  sysfsPhrase(error, { EBUSY: "the channel is busy", EIO: "I/O error (EIO)", ENODEV: "no such channel (ENODEV)" });

/** Options for {@linkcode SysfsPwmBackend}. */
export interface SysfsPwmOptions {
  /** Where the class is (`/sys/class/pwm`). */
  readonly root?: string;
  readonly files?: SysfsFiles;
  /** Waits while udev gives a new export's files their group (Raspberry Pi OS's `gpio`). */
  readonly clock?: Clock;
  /** How long a new export's files may refuse us (EACCES) before the claim fails; 2 s by default. */
  readonly permissionWaitMs?: number;
}

/** PWM through `/sys/class/pwm`. */
export class SysfsPwmBackend implements PwmBackend {
  readonly name = "sysfs" as const;
  readonly #root: string;
  readonly #files: SysfsFiles;
  readonly #clock: Clock;
  readonly #permissionWaitMs: number;
  readonly #held = new Map<string, SysfsPwmChannel>();

  constructor(options: SysfsPwmOptions = {}) {
    this.#root = options.root ?? "/sys/class/pwm";
    this.#files = options.files ?? nodeFiles;
    this.#clock = options.clock ?? systemClock;
    this.#permissionWaitMs = options.permissionWaitMs ?? 2_000;
  }

  listChips(): Promise<PwmChipInfo[]> {
    try {
      const names = this.#files.exists(this.#root) ? this.#files.list(this.#root).filter((name) => name.startsWith("pwmchip")) : [];
      names.sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
      return Promise.resolve(names.map((name) => ({
        name,
        path: `${this.#root}/${name}`,
        channels: Number(this.#files.read(`${this.#root}/${name}/npwm`).trim()),
      })));
    } catch (error) {
      return Promise.reject(new RealerError(kindOf(error), `Cannot list PWM chips in ${this.#root}: ${phrase(error)}`));
    }
  }

  async request(ref: PwmRef, settings: PwmSettings, consumer: string): Promise<PwmChannel> {
    const chip = ref.chip.replace(/^.*\//, "");
    const where = `Cannot request PWM ${chip}/${ref.channel}`;
    checkPwmSettings(settings, where);
    const chipDir = `${this.#root}/${chip}`;
    if (!this.#files.exists(chipDir)) throw new RealerError("not-found", `${where}: no PWM chip "${ref.chip}" in ${this.#root}`);
    const channels = Number(this.#read(`${chipDir}/npwm`, where));
    if (!Number.isInteger(ref.channel) || ref.channel < 0 || ref.channel >= channels) {
      throw new RealerError("not-found", `${where}: ${chip} has ${channels} channel${channels === 1 ? "" : "s"} (0 to ${channels - 1})`);
    }
    const key = `${chip}/${ref.channel}`;
    const holder = this.#held.get(key);
    if (holder) throw new RealerError("busy", `${where}: the channel is busy (held by ${holder.consumer})`);
    const dir = `${chipDir}/pwm${ref.channel}`;
    if (!this.#files.exists(dir)) {
      try {
        this.#files.write(`${chipDir}/export`, String(ref.channel));
      } catch (error) {
        // EBUSY: a driver or another program holds it through the kernel (a backlight, a fan).
        throw new RealerError(
          kindOf(error),
          `${where}: ${errorCode(error) === "EBUSY" ? "the channel is busy (held by a kernel driver)" : phrase(error)}`,
        );
      }
    }
    const channel = new SysfsPwmChannel(this, { chip, channel: ref.channel, dir, settings, consumer });
    await this.#untilWritable(() => channel.take(settings), where);
    this.#held.set(key, channel);
    return channel;
  }

  /** Runs `take` until udev has given a new export's files their permissions, or the wait is over. */
  async #untilWritable(take: () => void, where: string): Promise<void> {
    const deadline = this.#clock.now() + this.#permissionWaitMs;
    for (;;) {
      try {
        take();
        return;
      } catch (error) {
        if (error instanceof RealerError && error.kind === "permission" && this.#clock.now() < deadline) {
          await this.#clock.sleep(20);
          continue;
        }
        if (error instanceof RealerError) throw new RealerError(error.kind, `${where}: ${error.message}`, { cause: error });
        throw error;
      }
    }
  }

  /** @internal */
  files(): SysfsFiles {
    return this.#files;
  }

  /** @internal */
  forget(channel: SysfsPwmChannel): void {
    if (this.#held.get(`${channel.chip}/${channel.channel}`) === channel) this.#held.delete(`${channel.chip}/${channel.channel}`);
  }

  async close(): Promise<void> {
    for (const channel of [...this.#held.values()]) await channel.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #read(path: string, where: string): string {
    try {
      return this.#files.read(path).trim();
    } catch (error) {
      throw new RealerError(kindOf(error), `${where}: cannot read ${path}: ${phrase(error)}`);
    }
  }
}

interface ChannelInit {
  readonly chip: string;
  readonly channel: number;
  readonly dir: string;
  readonly settings: PwmSettings;
  readonly consumer: string;
}

class SysfsPwmChannel implements PwmChannel {
  readonly chip: string;
  readonly channel: number;
  readonly settings: Readonly<PwmSettings>;
  readonly consumer: string;
  readonly #dir: string;
  readonly #backend: SysfsPwmBackend;
  #released = false;

  constructor(backend: SysfsPwmBackend, init: ChannelInit) {
    this.#backend = backend;
    this.chip = init.chip;
    this.channel = init.channel;
    this.#dir = init.dir;
    this.settings = { ...init.settings };
    this.consumer = init.consumer;
  }

  /**
   * Moves the channel from whatever it holds (a fresh export: all zero; a takeover: the last run's
   * state) to `settings`, each write legal in the kernel's eyes: the duty never above the period
   * in between, the polarity changed only while disabled (the one case that must stop the output).
   */
  take(settings: PwmSettings): void {
    const now = this.#state();
    const polarity = settings.polarity ?? "normal";
    if (now.polarity !== polarity) {
      if (now.enabled) this.#write("enable", "0");
      this.#write("polarity", polarity);
    }
    if (settings.periodNs === now.periodNs) {
      // A takeover with the same period (a restart): only the duty moves, if it does.
      if (settings.dutyNs !== now.dutyNs) this.#write("duty_cycle", String(settings.dutyNs));
    } else if (settings.periodNs >= now.dutyNs) {
      this.#write("period", String(settings.periodNs));
      this.#write("duty_cycle", String(settings.dutyNs));
    } else {
      // The new period is shorter than the duty held: the duty comes down first.
      this.#write("duty_cycle", String(settings.dutyNs));
      this.#write("period", String(settings.periodNs));
    }
    if (!now.enabled || now.polarity !== polarity) this.#write("enable", "1");
  }

  read(): Promise<PwmState> {
    try {
      this.#check("read");
      return Promise.resolve(this.#state());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  setDuty(dutyNs: number): Promise<void> {
    try {
      this.#check("set");
      checkDuty(dutyNs, this.settings.periodNs, `Cannot set PWM ${channelWord(this)}`);
      this.#write("duty_cycle", String(dutyNs));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  release(): Promise<void> {
    if (!this.#released) this.#backend.forget(this);
    this.#released = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #state(): PwmState {
    const read = (name: string) => {
      try {
        return this.#backend.files().read(`${this.#dir}/${name}`).trim();
      } catch (error) {
        throw new RealerError(kindOf(error), `Cannot read PWM ${channelWord(this)} ${name}: ${phrase(error)}`);
      }
    };
    const polarity = read("polarity");
    return {
      periodNs: Number(read("period")),
      dutyNs: Number(read("duty_cycle")),
      polarity: (polarity === "inversed" ? "inversed" : "normal") satisfies Polarity,
      enabled: read("enable") === "1",
    };
  }

  #write(name: string, text: string): void {
    try {
      this.#backend.files().write(`${this.#dir}/${name}`, text);
    } catch (error) {
      throw new RealerError(kindOf(error), `Cannot write PWM ${channelWord(this)} ${name} ${text}: ${phrase(error)}`);
    }
  }

  #check(what: string): void {
    if (this.#released) throw new RealerError("released", `Cannot ${what} PWM ${channelWord(this)}: the channel was released`);
  }
}
