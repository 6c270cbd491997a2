// What an actuator writes through: a GPIO line (0 or 1) or a PWM channel (a level of the
// route's range, as a duty cycle). Each is claimed with its first value in the same request,
// writes within the call (the moment the output switched), and reads back what the hardware
// holds, in the route's values.
import type { LineRouteConfig, PwmRouteConfig } from "../config/schema.ts";
import type { PwmBackend } from "../hal/pwm/types.ts";
import { channelWord } from "../hal/pwm/types.ts";
import { type GpioBackend, type LineRequest, lineWord } from "../hal/types.ts";
import { dutyFor, dutyMapping, valueOfState } from "./pwm-duty.ts";
import { LINE_SCALE, scaleOf, type ValueScale } from "./value-scale.ts";

/** One output's hardware, in the route's values. */
export interface OutputDriver {
  /** The hardware in one word, for logs: "gpiochip0:6", "pwmchip0/1". */
  readonly word: string;
  readonly scale: ValueScale;
  /** Writes `value`; the hardware holds it when the call returns, before the promise settles. */
  write(value: number): Promise<void>;
  /** What the hardware holds now. */
  read(): Promise<number>;
  release(): Promise<void>;
}

/** Where outputs are claimed: the GPIO backend, and the PWM backend once a route needs one. */
export interface OutputHardware {
  readonly gpio: GpioBackend;
  readonly pwm: () => Promise<PwmBackend>;
}

/** Claims the output of a line or PWM route at `initial`. */
export function openDriver(hardware: OutputHardware, config: LineRouteConfig | PwmRouteConfig, initial: number): Promise<OutputDriver> {
  return config.pwm === undefined ? openLine(hardware.gpio, config, initial) : openPwm(hardware, config, initial);
}

async function openLine(backend: GpioBackend, config: LineRouteConfig, initial: number): Promise<OutputDriver> {
  const line: LineRequest = await backend.requestLine(config.line, {
    direction: "output",
    activeLow: config.active_low,
    bias: config.bias,
    drive: config.drive,
    outputValue: initial === 1 ? 1 : 0,
  }, "realer-edge");
  return {
    word: lineWord(config.line),
    scale: LINE_SCALE,
    write: (value) => line.setValue(value === 1 ? 1 : 0),
    read: () => line.getValue(),
    release: () => line.release(),
  };
}

async function openPwm(hardware: OutputHardware, config: PwmRouteConfig, initial: number): Promise<OutputDriver> {
  const mapping = dutyMapping(config);
  const backend = await hardware.pwm();
  const channel = await backend.request(
    { chip: config.pwm.chip, channel: config.pwm.channel },
    { periodNs: mapping.periodNs, polarity: config.pwm.polarity, dutyNs: dutyFor(mapping, initial) },
    "realer-edge",
  );
  return {
    word: channelWord(channel),
    scale: scaleOf(config),
    write: (value) => channel.setDuty(dutyFor(mapping, value)),
    read: async () => valueOfState(mapping, await channel.read()),
    release: () => channel.release(),
  };
}
