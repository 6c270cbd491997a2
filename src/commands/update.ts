// `realer-edge update status|check|apply|commit|rollback|adopt|start`: the updater's side of a
// field update, run as root by the updater unit or by an operator at the board. The device
// runtime never runs it: the hardened service cannot write the slots.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RealerError } from "../errors.ts";
import { OLDEST_READER, SCHEMA_VERSION } from "../state/schema.ts";
import { folderSource } from "../update/folder-source.ts";
import { type Manifest, parseManifest } from "../update/manifest.ts";
import { channelShown, httpsSource } from "../update/https-source.ts";
import { dailyBudget } from "../update/daily-budget.ts";
import { loadConfig, readCaFile } from "../config/load.ts";
import { MinisignError, type MinisignKey, parsePublicKey } from "../update/minisign.ts";
import { UpdateRefusal } from "../update/refusal.ts";
import { UPDATE_DIR } from "../update/board-view.ts";
import { type ServiceProbe, Updater } from "../update/updater.ts";
import { createFetch, spawnProcess } from "../platform/index.ts";
import { UpdaterStateError } from "../update/updater-state.ts";
import { VERSION } from "../version.ts";

/** Where the package puts the public keys. */
export const KEYS_DIR = "/usr/share/realer-edge/keys";

/** Where the package installs the binary: what a board adopts first. */
export const INSTALLED_BINARY = "/usr/bin/realer-edge";

/** Where the runtime writes its health under systemd. */
export const HEALTH_PATH = "/run/realer-edge/health.json";

/** Options of `realer-edge update`. */
export interface UpdateCommandOptions {
  readonly args: readonly string[];
  /** watch: how long a release has to prove itself (900 s by default). */
  readonly windowS?: string | undefined;
  /** watch: how long it must have run healthy before it commits (120 s by default, at most the window). */
  readonly settleS?: string | undefined;
  /** watch, poll, apply: what systemd says of the service, and its restarts; `systemctl` by default. */
  readonly probe?: ServiceProbe;
  /** watch: the runtime's health report; {@linkcode HEALTH_PATH} by default. */
  readonly healthPath?: string;
  /** poll: the device config, whose `updates` names the channel. */
  readonly configPath?: string | undefined;
  readonly updateDir?: string | undefined;
  readonly keys?: string | undefined;
  readonly print: (line: string) => void;
  readonly now?: () => number;
}

/** This machine's target, as releases name it. */
export function thisTarget(): Manifest["target"] {
  if (process.platform !== "linux") {
    throw new RealerError("unsupported", `Cannot update on ${process.platform}: releases are built for Linux`);
  }
  if (process.arch === "arm64") return "linux-arm64";
  if (process.arch === "x64") return "linux-x64";
  throw new RealerError("unsupported", `Cannot update on ${process.arch}: releases are built for arm64 and x64`);
}

/** The pinned keys: every `*.pub` in a folder, or one file. */
export function readKeys(path: string): MinisignKey[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((name) => name.endsWith(".pub")).sort().map((name) => join(path, name))
      : [path];
  } catch {
    throw new RealerError("config", `Cannot read the release keys at ${path}: no such file or folder`);
  }
  if (files.length === 0) throw new RealerError("config", `Cannot update: no *.pub release key in ${path}`);
  return files.map((file) => {
    try {
      return parsePublicKey(readFileSync(file, "utf8"));
    } catch (error) {
      throw new RealerError(
        "config",
        `Cannot use the release key ${file}: ${error instanceof MinisignError ? error.message : String(error)}`,
      );
    }
  });
}

/** Runs the subcommand; returns the exit code (0 done, 1 refused or failed, 2 bad usage). */
export async function updateCommand(options: UpdateCommandOptions): Promise<number> {
  const { print } = options;
  const [verb, argument] = options.args;
  const root = options.updateDir ?? UPDATE_DIR;
  const now = options.now ?? Date.now;
  const probe = () => options.probe ?? systemdProbe("realer-edge.service");
  // Only what takes a release needs the keys: a start, a watch or a rollback never fails for want of them.
  const make = (withKeys = true) =>
    new Updater({
      note: (text) => print(`note: ${text}`),
      healthPath: options.healthPath ?? HEALTH_PATH,
      root,
      installedVersion: VERSION,
      keys: withKeys ? readKeys(options.keys ?? KEYS_DIR) : [],
      board: { target: thisTarget(), schemaReader: SCHEMA_VERSION, now: now() },
    });
  try {
    switch (verb) {
      case "status": {
        const { current, state, lastRefusal } = make(false).status();
        print(`running slot: ${current ?? "none (not adopted yet)"}`);
        print(
          `committed: ${
            state.committed ? `${state.committed.version} (release ${state.committed.release}, slot ${state.committed.slot})` : "none"
          }`,
        );
        print(
          `trial: ${
            state.trial
              ? `${state.trial.version} (release ${state.trial.release}, slot ${state.trial.slot}, ${state.trial.attempts} start(s))`
              : "none"
          }`,
        );
        print(`floor: ${state.floor_version}; highest release seen: ${state.highest_release}`);
        if (lastRefusal) print(`last: ${lastRefusal}`);
        const lastPoll = readText(join(root, "last-poll"));
        print(`last poll: ${lastPoll ?? "never"}`);
        return 0;
      }
      case "check": {
        if (!argument) throw new RealerError("config", "Cannot check: name a release folder (update check DIR)");
        const manifest = await make().check(folderSource(argument));
        print(`ok: release ${manifest.release} (${manifest.version}, ${manifest.target}) would be taken; nothing was changed`);
        return 0;
      }
      case "apply": {
        if (!argument) throw new RealerError("config", "Cannot apply: name a release folder (update apply DIR)");
        const { manifest, via, fetched } = await make().apply(folderSource(argument));
        print(
          `staged: release ${manifest.release} (${manifest.version}) is on trial, from ${
            via === "patch" ? `a ${fetched}-byte patch` : `the full ${fetched}-byte binary`
          }`,
        );
        await restartOnto(probe(), print);
        return 0;
      }
      case "commit":
        make(false).commit();
        print("committed: the release on trial is now the one to come back to");
        return 0;
      case "rollback":
        make(false).rollback("asked by an operator");
        print("rolled back: the committed release runs at the next start");
        return 0;
      case "adopt":
        if (!argument) throw new RealerError("config", "Cannot adopt: name the installed binary (update adopt PATH)");
        await make(false).adopt(argument, VERSION);
        print(`adopted: ${argument} (${VERSION}) is slot a, committed`);
        return 0;
      case "poll": {
        if (options.configPath === undefined) {
          throw new RealerError("config", "Cannot poll: --config FILE (with an updates.channel) is required");
        }
        const config = loadConfig(options.configPath);
        if (!config.updates) {
          // The poll timer runs on every board; one without a channel takes updates by hand or by package.
          print(`no updates.channel in ${options.configPath}: nothing to poll`);
          return 0;
        }
        const updater = make();
        const retried = await updater.retryDue(probe(), now());
        if (retried.action === "retried") {
          print(`retried: ${retried.text ?? ""}`);
          return 0;
        }
        const state = updater.state();
        if (state.trial) {
          print(`trial: release ${state.trial.release} is on trial; \`update watch\` judges it`);
          return 0;
        }
        const budget = config.updates.byte_budget_per_day === undefined
          ? undefined
          : dailyBudget(join(root, "budget.json"), config.updates.byte_budget_per_day, now);
        const source = httpsSource(config.updates.channel, {
          fetch: createFetch(readCaFile(config, options.configPath)),
          ...(budget ? { budget } : {}),
        });
        // The release number decides whether there is anything to fetch; apply() then trusts nothing it has not verified.
        const { bytes } = await source.manifest();
        let offered: number | undefined;
        try {
          offered = parseManifest(bytes).release;
        } catch {
          offered = undefined;
        }
        // When the channel last answered, and what it offered: a channel frozen on an old release shows here.
        writeFileSync(
          join(root, "last-poll"),
          `${new Date(now()).toISOString()} ${channelShown(config.updates.channel)} offered release ${offered ?? "(unreadable)"}\n`,
        );
        if (offered !== undefined && offered <= state.highest_release) {
          print(`up to date: the channel offers release ${offered}; release ${state.highest_release} was the last taken`);
          return 0;
        }
        const { manifest, via, fetched } = await updater.apply(source);
        print(
          `staged: release ${manifest.release} (${manifest.version}) is on trial, from ${
            via === "patch" ? `a ${fetched}-byte patch` : `${fetched} bytes`
          }`,
        );
        await restartOnto(probe(), print);
        return 0;
      }
      case "watch": {
        const configured = options.configPath === undefined ? undefined : loadConfig(options.configPath).updates?.trial_window_s;
        const windowS = Number(options.windowS ?? configured ?? 900);
        if (!Number.isFinite(windowS) || windowS < 10) {
          throw new RealerError("config", `Cannot watch: --window-s ${options.windowS} must be at least 10 seconds`);
        }
        const settleS = options.settleS === undefined ? undefined : Number(options.settleS);
        if (settleS !== undefined && (!Number.isFinite(settleS) || settleS < 0)) {
          throw new RealerError("config", `Cannot watch: --settle-s ${options.settleS} must be a number of seconds`);
        }
        const updater = make(false);
        const outcome = await updater.watch(
          probe(),
          { windowMs: windowS * 1000, ...(settleS === undefined ? {} : { settleMs: settleS * 1000 }) },
          now(),
        );
        // The trial is over (or none was open): the timer stops until the next one opens.
        if (!updater.state().trial) await setWatchTimer(probe(), false, print);
        print(outcome.action === "none" ? `trial: ${outcome.text ?? "none open"}` : `${outcome.action}: ${outcome.text ?? ""}`);
        return 0;
      }
      case "take-package": {
        // The package's postinst: the binary dpkg installed goes on trial instead of being restarted onto.
        const binary = argument ?? INSTALLED_BINARY;
        await versionOf(binary, VERSION);
        const outcome = await make(false).stageInstalled(binary, VERSION, { writes: SCHEMA_VERSION, oldest_reader: OLDEST_READER });
        print(
          outcome === "adopted"
            ? `adopted: ${binary} (${VERSION}) is slot a, committed`
            : outcome === "unchanged"
            ? `unchanged: ${VERSION} is the committed release`
            : `staged: the package's ${VERSION} is on trial; the committed release comes back if it does not prove itself healthy`,
        );
        if (outcome !== "unchanged") await restartOnto(probe(), print);
        return 0;
      }
      case "start": {
        // ExecStartPre=+: a board without a committed release adopts the installed binary first.
        const updater = make(false);
        await updater.ensureAdopted(argument ?? INSTALLED_BINARY, VERSION);
        const outcome = updater.recordStart();
        // Every start of a trial (a power cut's too) brings the watch's timer back.
        if (updater.state().trial) await setWatchTimer(probe(), true, print);
        print(outcome === "rolled-back" ? "rolled back: the release on trial spent its starts" : `starting the ${outcome} release`);
        return 0;
      }
      default:
        throw new RealerError(
          "config",
          `Cannot update: say status, check DIR, apply DIR, poll, watch, commit, rollback, adopt PATH, take-package [PATH] or start [PATH] (got ${
            verb ?? "nothing"
          })`,
        );
    }
  } catch (error) {
    if (error instanceof UpdateRefusal || error instanceof UpdaterStateError) {
      print(error.message);
      return 1;
    }
    throw error;
  }
}

/** The service as systemd sees it: `systemctl show` for the facts, `systemctl restart` to act. */
export function systemdProbe(unit: string): ServiceProbe {
  const run = async (args: string[]) => {
    const child = spawnProcess("systemctl", args, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
    const code = await child.exited;
    if (code !== 0) throw new RealerError("io", `Cannot ask systemd: systemctl ${args.join(" ")} exited ${code ?? "on a signal"}`);
    return child.output().stdout;
  };
  return {
    facts: async () => {
      const fields = Object.fromEntries(
        (await run(["show", unit, "-p", "ActiveState", "-p", "NRestarts", "-p", "Result"])).trim().split("\n").map((line) => {
          const at = line.indexOf("=");
          return [line.slice(0, at), line.slice(at + 1)];
        }),
      );
      return {
        active: fields.ActiveState === "active",
        restarts: Number(fields.NRestarts ?? 0) || 0,
        watchdogKilled: fields.Result === "watchdog",
      };
    },
    // The updater's restarts are few and deliberate: a start limit meant for a boot loop (a trial's
    // crashes count against it) must not keep the service down after a rollback.
    restart: async () => {
      await run(["reset-failed", unit]).catch(() => undefined);
      await run(["restart", "--no-block", unit]);
    },
    tryRestart: async () => {
      await run(["reset-failed", unit]).catch(() => undefined);
      await run(["try-restart", "--no-block", unit]);
    },
    watchTimer: async (running) => void await run([running ? "start" : "stop", "--no-block", WATCH_TIMER]),
  };
}

/** The timer that runs `update watch` while a trial is open. */
export const WATCH_TIMER = "realer-edge-update-watch.timer";

async function setWatchTimer(probe: ServiceProbe, running: boolean, print: (line: string) => void): Promise<void> {
  try {
    await probe.watchTimer?.(running);
  } catch (error) {
    print(`note: the watch timer was not ${running ? "started" : "stopped"} (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** A running service moves onto the release just staged (a stopped one stays stopped: its next start runs it). */
async function restartOnto(probe: ServiceProbe, print: (line: string) => void): Promise<void> {
  try {
    await (probe.tryRestart ?? probe.restart)();
  } catch (error) {
    print(`note: the service was not restarted (${error instanceof Error ? error.message : String(error)}); its next start runs the trial`);
  }
}

/** Refuses a binary that does not say it is `version` (the package's binary is the one running this). */
async function versionOf(binary: string, version: string): Promise<void> {
  let child;
  try {
    child = spawnProcess(binary, ["--version"], {});
  } catch (error) {
    throw new UpdateRefusal("self-test", `${binary} does not start here (${error instanceof Error ? error.message : String(error)})`);
  }
  const code = await child.exited;
  const { stdout, stderr } = child.output();
  if (code !== 0 || !stdout.startsWith(`realer-edge ${version} `)) {
    throw new UpdateRefusal(
      "self-test",
      `${binary} --version exited ${code ?? "on a signal"} with "${
        (stdout || stderr).trim().split("\n")[0]?.slice(0, 120) ?? ""
      }", not ${version}`,
    );
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
