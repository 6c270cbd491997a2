import { BUILD_FAULT } from "../build-fault.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { AF_UNIX, type LibC, loadLibc, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, unixAddress } from "../platform/libc.ts";

/** Talks to systemd for a `Type=notify` unit with a watchdog. */
export interface ServiceNotifier {
  /** READY=1 with a status line. */
  ready(status: string): void;
  /** STATUS=… */
  status(status: string): void;
  /** STOPPING=1 */
  stopping(): void;
  /** Stops the watchdog pings. */
  close(): void;
}

const silent: ServiceNotifier = { ready: () => {}, status: () => {}, stopping: () => {}, close: () => {} };

/**
 * The sd_notify protocol over the AF_UNIX datagram socket in `NOTIFY_SOCKET`, through libc (neither
 * runtime's networking opens Unix datagram sockets). Without `NOTIFY_SOCKET` it does nothing. With
 * `WATCHDOG_USEC` it pings at half that interval from the event loop, so a stuck loop misses its
 * pings and systemd restarts the service.
 */
export async function createNotifier(env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<ServiceNotifier> {
  const path = env.NOTIFY_SOCKET;
  if (path === undefined || path === "") return silent;
  let libc: LibC;
  let address: Uint8Array;
  let fd: number;
  try {
    libc = await loadLibc();
    address = unixAddress(path);
    fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket() failed with errno ${libc.errno()}`);
  } catch (error) {
    logger.warn("systemd.notify_unavailable", { error: describeError(error), note: "running without sd_notify" });
    return silent;
  }
  const send = (message: string) => {
    if (libc.sendto(fd, new TextEncoder().encode(message), MSG_DONTWAIT, address) < 0) {
      logger.warn("systemd.notify_failed", { message: message.split("\n")[0], errno: libc.errno() });
    }
  };
  const watchdogUs = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  // A test release built to stall its watchdog pings after READY, or never to say READY (src/build-fault.ts).
  const timer = Number.isFinite(watchdogUs) && watchdogUs > 0 && forUs
    ? setInterval(() => BUILD_FAULT === "watchdog-stall" && ready ? undefined : send("WATCHDOG=1"), Math.max(100, watchdogUs / 2000))
    : undefined;
  let ready = false;
  return {
    ready: (status) => {
      ready = true;
      if (BUILD_FAULT !== "never-ready") send(`READY=1\nSTATUS=${status}`);
    },
    status: (status) => send(`STATUS=${status}`),
    stopping: () => send("STOPPING=1"),
    close: () => {
      clearInterval(timer);
      libc.close(fd);
    },
  };
}
