// An output line for unit tests of what drives outputs: it records what was written, and its reads
// and writes can be made to fail, as a dead expander's would; and the hardware actuators claim on.
import { RealerError } from "../../src/errors.ts";
import { LINE_SCALE } from "../../src/device/value-scale.ts";
import type { OutputHardware } from "../../src/device/output-driver.ts";
import type { GpioBackend } from "../../src/hal/types.ts";
import { MockPwmBackend } from "../../src/hal/pwm/mock.ts";
import type { PwmBackend } from "../../src/hal/pwm/types.ts";
import type { Output } from "../../src/device/desired-handler.ts";

/** The relay on pin 6, in memory. */
export class FakeOutput implements Output {
  readonly key = "pin_port:6";
  readonly scale = LINE_SCALE;
  written = 0;
  level = 0;
  readonly writes: number[] = [];
  failSet = false;
  failGet = false;

  read(): Promise<number> {
    return this.failGet
      ? Promise.reject(new RealerError("io", "Cannot read line 6 on gpiochip0: input/output error (EIO)"))
      : Promise.resolve(this.level);
  }

  apply(value: number, _cause: "desired", settle?: (observed: number) => void): Promise<number> {
    if (this.failSet) return Promise.reject(new RealerError("io", "Cannot set line 6 on gpiochip0: input/output error (EIO)"));
    this.writes.push(value);
    this.written = value;
    this.level = value;
    try {
      settle?.(value);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(value);
  }
}

/** Outputs claimed on `gpio`, and PWM channels on `pwm` (a mock with two channels on pwmchip0 by default). */
export function outputHardware(gpio: GpioBackend, pwm: PwmBackend = new MockPwmBackend()): OutputHardware {
  return { gpio, pwm: () => Promise.resolve(pwm) };
}
