import { Emulator, OPERATOR_PREFIX } from "../emulator/emulator.ts";
import { createLogger, type LogLevel } from "../log.ts";
import { onShutdownSignal } from "../platform/index.ts";

/** Options of `realer-edge emulator`. */
export interface EmulatorCommandOptions {
  readonly stateDir: string;
  readonly port: number;
  readonly logLevel?: LogLevel | undefined;
}

/** `realer-edge emulator`: the Realer emulator alone, until SIGINT or SIGTERM. */
export async function emulatorCommand(options: EmulatorCommandOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel ?? "info", source: "emulator" });
  const emulator = new Emulator({ stateDir: options.stateDir, port: options.port, logger });
  const stopped = new Promise<void>((resolve) => onShutdownSignal(() => resolve()));
  await emulator.start();
  logger.info("emulator.ready", {
    api: emulator.url,
    operator: `${emulator.url}${OPERATOR_PREFIX}/devices`,
    console: `${emulator.url}${OPERATOR_PREFIX}/console`,
    ca_file: emulator.caPath,
  });
  try {
    await stopped;
  } finally {
    await emulator.stop();
    logger.info("emulator.stopped");
  }
}
