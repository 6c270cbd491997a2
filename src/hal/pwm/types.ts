// The PWM contract every backend implements (the kernel's sysfs class, the mock), in the
// kernel's words: a channel of a chip has a period, a duty cycle (both in nanoseconds), a
// polarity and an enable. A level output is driven by the duty alone: "off" is a duty of 0 with
// the channel still enabled, since a disabled channel leaves the pin where the hardware likes
// (the Raspberry Pi's keeps its last level).

/** How the channel's active part of the period drives the pin: high (normal) or low (inversed). */
export type Polarity = "normal" | "inversed";

/** A channel: the chip by name (pwmchip0) or path (/sys/class/pwm/pwmchip0), and its number there. */
export interface PwmRef {
  readonly chip: string;
  readonly channel: number;
}

/** What a channel is claimed with: it takes all of it in the claim, so the pin never shows another level. */
export interface PwmSettings {
  readonly periodNs: number;
  readonly polarity?: Polarity;
  /** The duty the channel runs at once claimed, at most `periodNs`. */
  readonly dutyNs: number;
}

/** What the kernel holds for a channel. */
export interface PwmState {
  readonly periodNs: number;
  readonly dutyNs: number;
  readonly polarity: Polarity;
  readonly enabled: boolean;
}

/** What a chip says about itself. */
export interface PwmChipInfo {
  readonly name: string;
  readonly path: string;
  readonly channels: number;
}

/** A claimed channel. Release it, or let `await using` release it. */
export interface PwmChannel extends AsyncDisposable {
  readonly chip: string;
  readonly channel: number;
  readonly settings: Readonly<PwmSettings>;
  /** What the kernel holds now: the duty the driver really set (it may round to its clock). */
  read(): Promise<PwmState>;
  /** Sets the duty in nanoseconds (0 to the period); the channel stays enabled. */
  setDuty(dutyNs: number): Promise<void>;
  /**
   * Gives the channel back and leaves it running as it is, so that its level holds across a
   * restart; the next claim takes it over as it stands.
   */
  release(): Promise<void>;
}

/** A PWM backend: the PWM chips of one board, reached one way. */
export interface PwmBackend extends AsyncDisposable {
  readonly name: "sysfs" | "mock";
  /** Lists the chips. */
  listChips(): Promise<PwmChipInfo[]>;
  /** Claims a channel with `settings` for `consumer`; throws a `busy` error when this backend already holds it. */
  request(ref: PwmRef, settings: PwmSettings, consumer: string): Promise<PwmChannel>;
  /** Releases every channel this backend still holds. */
  close(): Promise<void>;
}

/** A channel as one word for log fields and tables: "pwmchip0/1". */
export function channelWord(ref: PwmRef): string {
  return `${ref.chip.replace(/^.*\//, "")}/${ref.channel}`;
}

/** Checks settings before any backend touches the hardware; throws a TypeError naming the field. */
export function checkPwmSettings(settings: PwmSettings, where: string): void {
  const { periodNs, dutyNs } = settings;
  if (!Number.isSafeInteger(periodNs) || periodNs < 1) throw new TypeError(`${where}: periodNs must be a whole number of ns, at least 1`);
  checkDuty(dutyNs, periodNs, where);
}

/** Checks a duty against its period; throws a TypeError. */
export function checkDuty(dutyNs: number, periodNs: number, where: string): void {
  if (!Number.isSafeInteger(dutyNs) || dutyNs < 0 || dutyNs > periodNs) {
    throw new TypeError(`${where}: the duty must be a whole number of ns from 0 to the period (${periodNs}), got ${dutyNs}`);
  }
}
