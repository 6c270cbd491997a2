// The in-memory PWM backend: chips whose channels hold a period, a duty, a polarity and an
// enable as the kernel would, with a driver's rounding of the duty to its clock, I/O faults for
// failure-path tests, and the history of every state a channel took (for glitch checks).
import { RealerError } from "../../errors.ts";
import {
  channelWord,
  checkDuty,
  checkPwmSettings,
  type PwmBackend,
  type PwmChannel,
  type PwmChipInfo,
  type PwmRef,
  type PwmSettings,
  type PwmState,
} from "./types.ts";

/** The shape of one simulated chip. */
export interface MockPwmChipSpec {
  readonly name: string;
  readonly channels: number;
  /** The driver's step: duties are rounded down to a multiple of it, as hardware clocks do (1 ns by default). */
  readonly stepNs?: number;
}

/** What the simulator knows of one channel, for tests and the control interface. */
export interface MockPwmChannelState extends PwmState {
  readonly chip: string;
  readonly channel: number;
  readonly consumer: string;
  /** The share of each period the pin is high, 0 to 1 (0 while disabled). */
  readonly high: number;
}

/** Which operations on a channel fail with an I/O error (EIO). */
export interface MockPwmFault {
  readonly read?: boolean | undefined;
  readonly set?: boolean | undefined;
}

interface Channel {
  readonly chip: string;
  readonly channel: number;
  readonly stepNs: number;
  state: PwmState;
  holder: MockPwmChannel | undefined;
  faults: MockPwmFault;
  /** The next duty write fails with EIO, once. */
  failNext: boolean;
  /** Every state the channel took, oldest first (at most HISTORY_MAX). */
  readonly history: PwmState[];
}

const HISTORY_MAX = 1_000;
const DEFAULT_CHIPS: readonly MockPwmChipSpec[] = [{ name: "pwmchip0", channels: 2 }];

const highShare = (state: PwmState): number => {
  if (!state.enabled || state.periodNs === 0) return 0;
  const share = state.dutyNs / state.periodNs;
  return state.polarity === "normal" ? share : 1 - share;
};

/** PWM chips in memory. */
export class MockPwmBackend implements PwmBackend {
  readonly name = "mock" as const;
  readonly #chips: readonly MockPwmChipSpec[];
  readonly #channels = new Map<string, Channel>();

  constructor(chips: readonly MockPwmChipSpec[] = DEFAULT_CHIPS) {
    this.#chips = chips;
    for (const chip of chips) {
      for (let channel = 0; channel < chip.channels; channel++) {
        this.#channels.set(`${chip.name}/${channel}`, {
          chip: chip.name,
          channel,
          stepNs: chip.stepNs ?? 1,
          state: { periodNs: 0, dutyNs: 0, polarity: "normal", enabled: false },
          holder: undefined,
          faults: {},
          failNext: false,
          history: [],
        });
      }
    }
  }

  listChips(): Promise<PwmChipInfo[]> {
    return Promise.resolve(this.#chips.map((chip) => ({ name: chip.name, path: `/sys/class/pwm/${chip.name}`, channels: chip.channels })));
  }

  request(ref: PwmRef, settings: PwmSettings, consumer: string): Promise<PwmChannel> {
    try {
      const where = `Cannot request PWM ${channelWord(ref)}`;
      checkPwmSettings(settings, where);
      const channel = this.#find(ref, where);
      if (channel.holder) throw new RealerError("busy", `${where}: the channel is busy (held by ${channel.holder.consumer})`);
      if (channel.faults.set) throw new RealerError("io", `${where}: I/O error (EIO)`);
      // One step, as the sysfs backend orders its writes so that no state between shows at the pin.
      this.#apply(channel, {
        periodNs: settings.periodNs,
        dutyNs: settings.dutyNs,
        polarity: settings.polarity ?? "normal",
        enabled: true,
      });
      const request = new MockPwmChannel(this, channel, settings, consumer);
      channel.holder = request;
      return Promise.resolve(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The channel's state now, whoever holds it. */
  channelState(ref: PwmRef): MockPwmChannelState {
    const channel = this.#find(ref, `Cannot read PWM ${channelWord(ref)}`);
    return {
      chip: channel.chip,
      channel: channel.channel,
      consumer: channel.holder?.consumer ?? "",
      ...channel.state,
      high: highShare(channel.state),
    };
  }

  /** Every channel's state. */
  snapshot(): MockPwmChannelState[] {
    return [...this.#channels.values()].map((channel) => this.channelState(channel));
  }

  /** Every state a channel took, oldest first. */
  history(ref: PwmRef): readonly PwmState[] {
    return [...this.#find(ref, `Cannot read PWM ${channelWord(ref)}`).history];
  }

  /** Makes a channel's reads and/or writes fail with EIO; `{}` heals it. */
  failChannel(ref: PwmRef, fault: MockPwmFault): void {
    this.#find(ref, `Cannot fault PWM ${channelWord(ref)}`).faults = { ...fault };
  }

  /** Makes the channel's next duty write fail with EIO, once. */
  failNextSet(ref: PwmRef): void {
    this.#find(ref, `Cannot fault PWM ${channelWord(ref)}`).failNext = true;
  }

  /** Changes a channel's duty from outside (another program, a driver that did not hold it). */
  tamper(ref: PwmRef, dutyNs: number): void {
    const channel = this.#find(ref, `Cannot set PWM ${channelWord(ref)}`);
    this.#apply(channel, { ...channel.state, dutyNs });
  }

  /** @internal */
  apply(channel: Channel, state: PwmState): void {
    this.#apply(channel, state);
  }

  /** @internal */
  forget(channel: Channel): void {
    channel.holder = undefined;
  }

  close(): Promise<void> {
    for (const channel of this.#channels.values()) channel.holder = undefined;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #find(ref: PwmRef, where: string): Channel {
    const chip = ref.chip.replace(/^.*\//, "");
    const channel = this.#channels.get(`${chip}/${ref.channel}`);
    if (!channel) {
      const known = this.#chips.some((spec) => spec.name === chip);
      throw new RealerError("not-found", `${where}: ${known ? `no channel ${ref.channel} on ${chip}` : `no PWM chip "${ref.chip}"`}`);
    }
    return channel;
  }

  #apply(channel: Channel, state: PwmState): void {
    const dutyNs = state.dutyNs - (state.dutyNs % channel.stepNs);
    channel.state = { ...state, dutyNs };
    channel.history.push(channel.state);
    if (channel.history.length > HISTORY_MAX) channel.history.shift();
  }
}

class MockPwmChannel implements PwmChannel {
  readonly chip: string;
  readonly channel: number;
  readonly settings: Readonly<PwmSettings>;
  readonly consumer: string;
  readonly #backend: MockPwmBackend;
  readonly #channel: Channel;
  #released = false;

  constructor(backend: MockPwmBackend, channel: Channel, settings: PwmSettings, consumer: string) {
    this.#backend = backend;
    this.#channel = channel;
    this.chip = channel.chip;
    this.channel = channel.channel;
    this.settings = { ...settings };
    this.consumer = consumer;
  }

  read(): Promise<PwmState> {
    try {
      this.#check("read");
      if (this.#channel.faults.read) throw new RealerError("io", `Cannot read PWM ${channelWord(this)}: I/O error (EIO)`);
      return Promise.resolve({ ...this.#channel.state });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  setDuty(dutyNs: number): Promise<void> {
    try {
      const where = `Cannot set PWM ${channelWord(this)}`;
      this.#check("set");
      checkDuty(dutyNs, this.#channel.state.periodNs, where);
      if (this.#channel.faults.set || this.#channel.failNext) {
        this.#channel.failNext = false;
        throw new RealerError("io", `${where}: I/O error (EIO)`);
      }
      this.#backend.apply(this.#channel, { ...this.#channel.state, dutyNs, enabled: true });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  release(): Promise<void> {
    if (!this.#released && this.#channel.holder === this) this.#backend.forget(this.#channel);
    this.#released = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #check(what: string): void {
    if (this.#released || this.#channel.holder !== this) {
      throw new RealerError("released", `Cannot ${what} PWM ${channelWord(this)}: the channel was released`);
    }
  }
}
