// A simulated /sys/class/pwm for unit tests: chips whose `export` makes a channel directory, and
// channel files that keep the kernel's rules (the duty never above the period, the polarity
// only while disabled, no enable without a period, a driver's rounding of the duty). It records
// every state the pin went through, so a test can prove a claim never showed another level.
import type { SysfsFiles } from "../../src/hal/pwm/sysfs.ts";
import type { Polarity, PwmState } from "../../src/hal/pwm/types.ts";

const fail = (code: string, what: string): never => {
  throw Object.assign(new Error(`${code}: ${what}`), { code });
};

interface FakeChannel {
  state: PwmState;
  /** Accesses that still fail with EACCES (udev has not given the files their group yet). */
  udevPending: number;
  readonly history: PwmState[];
}

interface FakeChip {
  readonly npwm: number;
  readonly stepNs: number;
  readonly channels: Map<number, FakeChannel>;
  /** Channels a kernel driver holds: their export is EBUSY. */
  readonly driverHeld: Set<number>;
}

/** The simulated class directory; pass it as `files` to the sysfs backend with `root` = {@linkcode root}. */
export class FakePwmSysfs implements SysfsFiles {
  readonly root = "/fake/sys/class/pwm";
  readonly #chips = new Map<string, FakeChip>();
  /** Every successful write, in order: "pwmchip0/pwm1/duty_cycle=500". */
  readonly writes: string[] = [];
  /** The next write to a file of this name fails with this code (one shot). */
  readonly #failNext = new Map<string, string>();
  /** Files whose reads fail with EIO while set. */
  readonly #failingReads = new Set<string>();
  /** How many accesses of a new export's files fail with EACCES. */
  udevDelay = 0;

  addChip(name: string, npwm: number, options: { stepNs?: number; driverHeld?: number[] } = {}): void {
    this.#chips.set(name, { npwm, stepNs: options.stepNs ?? 1, channels: new Map(), driverHeld: new Set(options.driverHeld ?? []) });
  }

  /** The state a channel holds (undefined when not exported). */
  state(chip: string, channel: number): PwmState | undefined {
    return this.#chips.get(chip)?.channels.get(channel)?.state;
  }

  /** Every state the channel went through since its export. */
  history(chip: string, channel: number): readonly PwmState[] {
    return this.#chips.get(chip)?.channels.get(channel)?.history ?? [];
  }

  failNextWrite(file: string, code: string): void {
    this.#failNext.set(file, code);
  }

  failReads(file: string, failing: boolean): void {
    if (failing) this.#failingReads.add(file);
    else this.#failingReads.delete(file);
  }

  exists(path: string): boolean {
    const parts = this.#parts(path);
    if (parts === undefined) return false;
    const [chipName, child] = parts;
    if (chipName === undefined) return true;
    const chip = this.#chips.get(chipName);
    if (!chip) return false;
    if (child === undefined || ["npwm", "export", "unexport"].includes(child)) return true;
    const match = /^pwm(\d+)(?:\/(period|duty_cycle|polarity|enable))?$/.exec(child);
    return match !== null && chip.channels.has(Number(match[1]));
  }

  list(path: string): string[] {
    const parts = this.#parts(path);
    if (parts?.[0] === undefined) return [...this.#chips.keys()];
    return fail("ENOTDIR", path);
  }

  read(path: string): string {
    const { chip, channel, file } = this.#resolve(path);
    if (channel === undefined) {
      if (file === "npwm") return `${chip.npwm}\n`;
      return fail("EACCES", path);
    }
    if (this.#failingReads.has(file)) fail("EIO", path);
    this.#udev(channel, path);
    const { state } = channel;
    switch (file) {
      case "period":
        return `${state.periodNs}\n`;
      case "duty_cycle":
        return `${state.dutyNs}\n`;
      case "polarity":
        return `${state.polarity}\n`;
      case "enable":
        return state.enabled ? "1\n" : "0\n";
    }
    return fail("ENOENT", path);
  }

  write(path: string, text: string): void {
    const { chip, channel, file, chipName } = this.#resolve(path);
    const code = this.#failNext.get(file);
    if (code !== undefined) {
      this.#failNext.delete(file);
      fail(code, path);
    }
    if (channel === undefined) {
      const index = Number(text.trim());
      if (!/^\d+$/.test(text.trim()) || index >= chip.npwm) fail("EINVAL", path);
      if (file === "export") {
        if (chip.channels.has(index) || chip.driverHeld.has(index)) fail("EBUSY", path);
        const state: PwmState = { periodNs: 0, dutyNs: 0, polarity: "normal", enabled: false };
        chip.channels.set(index, { state, udevPending: this.udevDelay, history: [state] });
      } else if (file === "unexport") {
        if (!chip.channels.delete(index)) fail("EINVAL", path);
      } else fail("EACCES", path);
      this.writes.push(`${chipName}/${file}=${text}`);
      return;
    }
    this.#udev(channel, path);
    const value = text.trim();
    const number = Number(value);
    const state = channel.state;
    let next: PwmState;
    switch (file) {
      case "period":
        if (!/^\d+$/.test(value) || number < state.dutyNs) fail("EINVAL", path);
        next = { ...state, periodNs: number };
        break;
      case "duty_cycle":
        if (!/^\d+$/.test(value) || number > state.periodNs) fail("EINVAL", path);
        next = { ...state, dutyNs: number - (number % chip.stepNs) };
        break;
      case "polarity":
        if (value !== "normal" && value !== "inversed") fail("EINVAL", path);
        if (state.enabled) fail("EBUSY", path);
        next = { ...state, polarity: value as Polarity };
        break;
      case "enable":
        if (value !== "0" && value !== "1") fail("EINVAL", path);
        if (value === "1" && state.periodNs === 0) fail("EINVAL", path);
        next = { ...state, enabled: value === "1" };
        break;
      default:
        return fail("EACCES", path);
    }
    channel.state = next;
    channel.history.push(next);
    this.writes.push(`${path.slice(this.root.length + 1)}=${value}`);
  }

  /** [chip, rest] under the root, [undefined] for the root itself, undefined outside it. */
  #parts(path: string): [string | undefined, string | undefined] | undefined {
    if (path === this.root) return [undefined, undefined];
    if (!path.startsWith(`${this.root}/`)) return undefined;
    const rest = path.slice(this.root.length + 1);
    const slash = rest.indexOf("/");
    return slash < 0 ? [rest, undefined] : [rest.slice(0, slash), rest.slice(slash + 1)];
  }

  #resolve(path: string): { chip: FakeChip; chipName: string; channel: FakeChannel | undefined; file: string } {
    const parts = this.#parts(path);
    const chip = parts?.[0] === undefined ? undefined : this.#chips.get(parts[0]);
    if (!parts || !chip || parts[1] === undefined) return fail("ENOENT", path);
    const match = /^pwm(\d+)\/(.+)$/.exec(parts[1]);
    if (!match) return { chip, chipName: parts[0]!, channel: undefined, file: parts[1] };
    const channel = chip.channels.get(Number(match[1]));
    if (!channel) return fail("ENOENT", path);
    return { chip, chipName: parts[0]!, channel, file: match[2]! };
  }

  #udev(channel: FakeChannel, path: string): void {
    if (channel.udevPending > 0) {
      channel.udevPending--;
      fail("EACCES", path);
    }
  }
}
