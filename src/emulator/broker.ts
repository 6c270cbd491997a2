import { type ChildProcess, spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RealerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Certificates } from "./certs.ts";
import { findFreePort, isListening } from "./free-port.ts";

const MOSQUITTO_PATHS = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];
const PLUGIN_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"];
const PLUGIN = "mosquitto_dynamic_security.so";

/** The topics under which every device's topics live; the emulator's own role covers them. */
export const DEVICE_TOPIC_ROOT = "realer/iot/v1/devices";

/** Where mosquitto and its dynamic-security plugin are. */
export interface MosquittoInstall {
  readonly binary: string;
  readonly plugin: string;
}

/** Finds Debian's mosquitto and its dynamic-security plugin, or says what to install. */
export function findMosquitto(): MosquittoInstall {
  const binary = MOSQUITTO_PATHS.find((path) => existsSync(path));
  const plugin = PLUGIN_DIRS.map((dir) => join(dir, PLUGIN)).find((path) => existsSync(path));
  if (!binary || !plugin) {
    throw new RealerError(
      "unsupported",
      "Cannot start the emulator's broker: mosquitto 2 with its dynamic-security plugin is not installed (run scripts/setup.sh)",
    );
  }
  return { binary, plugin };
}

function hashPassword(password: string): { password: string; salt: string; iterations: number } {
  const salt = randomBytes(12);
  const iterations = 101;
  return {
    password: pbkdf2Sync(password, salt, iterations, 64, "sha512").toString("base64"),
    salt: salt.toString("base64"),
    iterations,
  };
}

/** Options for {@linkcode Broker}. */
export interface BrokerOptions {
  readonly dir: string;
  /** The username and password of the emulator's own client (dynsec admin and service). */
  readonly adminUsername: string;
  readonly adminPassword: string;
  readonly logger: Logger;
}

/**
 * mosquitto 2 as a child process: a TLS listener on loopback, the dynamic-security plugin with a
 * store seeded here, and nothing else. Each start writes a fresh store, so a restarted emulator
 * starts with no device credentials and devices must ask for new ones, as after a server restart.
 */
export class Broker {
  readonly #options: BrokerOptions;
  #child: ChildProcess | undefined;
  #port = 0;
  #seeded = false;
  #certificates: Certificates | undefined;

  constructor(options: BrokerOptions) {
    this.#options = options;
  }

  /** The TLS port; 0 before the first start. */
  get port(): number {
    return this.#port;
  }

  /** Whether the broker process is running. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null;
  }

  /**
   * Starts mosquitto, keeping the port and certificates it had before when there were some.
   * `preferredPort` (an earlier run's) is tried first, so devices keep their broker URL.
   */
  async start(certificates?: Certificates, preferredPort = 0): Promise<void> {
    if (this.running) return;
    if (certificates) this.#certificates = certificates;
    if (this.#port === 0) this.#port = preferredPort;
    const install = findMosquitto();
    const { dir, adminUsername, adminPassword } = this.#options;
    mkdirSync(dir, { recursive: true });
    const dynsecPath = join(dir, "dynsec.json");
    // A new emulator process has a new admin password: seed the store afresh (device credentials
    // go with it; devices ask for new ones). Sessions in mosquitto.db stay, queued messages too.
    if (!this.#seeded) {
      this.#writeStore(dynsecPath, adminUsername, adminPassword);
      this.#seeded = true;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = this.#port !== 0 && attempt < 3 ? this.#port : await findFreePort();
      const logPath = join(dir, "mosquitto.log");
      rmSync(logPath, { force: true });
      writeFileSync(join(dir, "mosquitto.conf"), this.#config(install.plugin, port, dynsecPath, logPath));
      const child = spawn(install.binary, ["-c", join(dir, "mosquitto.conf")], { stdio: "ignore" });
      this.#child = child;
      if (await this.#waitListening(child, port)) {
        this.#port = port;
        this.#options.logger.debug("broker.started", { port, pid: child.pid });
        return;
      }
      this.#options.logger.warn("broker.start_failed", { port, log: this.#tail(logPath) });
      if (this.#port !== 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new RealerError("network", `Cannot start mosquitto: it did not listen (see ${join(dir, "mosquitto.log")})`);
  }

  /** Stops mosquitto and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  async #waitListening(child: ChildProcess, port: number): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) return false;
      if (await isListening(port)) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGKILL");
    return false;
  }

  #tail(path: string): string {
    try {
      return readFileSync(path, "utf8").trim().split("\n").slice(-3).join(" | ");
    } catch {
      return "";
    }
  }

  #writeStore(path: string, username: string, password: string): void {
    const root = DEVICE_TOPIC_ROOT;
    const store = {
      defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true },
      clients: [{ username, ...hashPassword(password), roles: [{ rolename: "realer-emulator" }] }],
      roles: [{
        rolename: "realer-emulator",
        acls: [
          ...["publishClientSend", "publishClientReceive", "subscribePattern"].map((acltype) => ({
            acltype,
            topic: "$CONTROL/dynamic-security/#",
            allow: true,
          })),
          ...["publishClientSend", "publishClientReceive", "subscribePattern"].map((acltype) => ({
            acltype,
            topic: `${root}/#`,
            allow: true,
          })),
        ],
      }],
      groups: [],
    };
    writeFileSync(path, JSON.stringify(store, null, 1), { mode: 0o600 });
  }

  #config(plugin: string, port: number, dynsecPath: string, logPath: string): string {
    const certificates = this.#certificates;
    if (!certificates) throw new Error("Cannot configure mosquitto before it is given certificates");
    return [
      "# Written by the realer-edge emulator. Loopback only, TLS only.",
      "user root",
      "per_listener_settings false",
      "allow_anonymous false",
      // Sessions and queued QoS 1 messages survive a broker restart, as on a real cloud broker.
      "persistence true",
      `persistence_location ${this.#options.dir}/`,
      "autosave_interval 30",
      "set_tcp_nodelay true",
      "max_keepalive 300",
      `log_dest file ${logPath}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      "connection_messages true",
      `listener ${port} 127.0.0.1`,
      "protocol mqtt",
      `cafile ${certificates.caPath}`,
      `certfile ${certificates.certPath}`,
      `keyfile ${certificates.keyPath}`,
      "tls_version tlsv1.2",
      `plugin ${plugin}`,
      `plugin_opt_config_file ${dynsecPath}`,
      "",
    ].join("\n");
  }
}
