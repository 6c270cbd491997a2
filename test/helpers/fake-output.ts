// An output line for unit tests of what drives outputs: it records what was written, and its reads
// and writes can be made to fail, as a dead expander's would.
import { RealerError } from "../../src/errors.ts";
import type { LineValue } from "../../src/hal/types.ts";
import type { Output } from "../../src/device/desired-handler.ts";

/** The relay on pin 6, in memory. */
export class FakeOutput implements Output {
  readonly key = "pin_port:6";
  written: LineValue = 0;
  level: LineValue = 0;
  readonly writes: LineValue[] = [];
  failSet = false;
  failGet = false;

  read(): Promise<LineValue> {
    return this.failGet
      ? Promise.reject(new RealerError("io", "Cannot read line 6 on gpiochip0: input/output error (EIO)"))
      : Promise.resolve(this.level);
  }

  apply(value: LineValue, _cause: "desired", settle?: (observed: LineValue) => void): Promise<LineValue> {
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
