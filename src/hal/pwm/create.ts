import type { Clock } from "../../clock.ts";
import type { BackendName } from "../types.ts";
import type { PwmBackend } from "./types.ts";

/** Options for {@linkcode createPwmBackend}. */
export interface PwmBackendOptions {
  /** Where the sysfs PWM class is (`/sys/class/pwm`). */
  readonly sysfsRoot?: string;
  readonly clock?: Clock;
}

/**
 * The PWM backend that goes with a GPIO backend: the mock with the mock, the kernel's sysfs
 * class with the character device and sysfs GPIO (Linux has no other interface for PWM).
 * Loaded only when a route drives a PWM channel.
 */
export async function createPwmBackend(gpio: BackendName, options: PwmBackendOptions = {}): Promise<PwmBackend> {
  if (gpio === "mock") {
    const { MockPwmBackend } = await import("./mock.ts");
    return new MockPwmBackend();
  }
  const { SysfsPwmBackend } = await import("./sysfs.ts");
  return new SysfsPwmBackend({
    ...(options.sysfsRoot === undefined ? {} : { root: options.sysfsRoot }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
