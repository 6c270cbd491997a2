// The updater: verifies a release, stages it into the spare slot, opens a trial and switches
// to it; counts the trial's starts on disk; commits it (the floor rises) or rolls back to the
// committed slot. Every step is ordered so that a crash or a power cut between any two leaves a
// slot that starts: the state file (with the trial) is written before the link flips, and the
// committed slot is never written.
import { createReadStream, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inheritedEnv, spawnProcess } from "../platform/index.ts";
import type { StepHook } from "./atomic-file.ts";
import { compareVersions, type Manifest } from "./manifest.ts";
import type { MinisignKey } from "./minisign.ts";
import { UpdateRefusal } from "./refusal.ts";
import { hashFile, Slots, StageLimitError } from "./slots.ts";
import { readUpdaterState, type Slot, type UpdaterState, writeUpdaterState } from "./updater-state.ts";
import { type BoardFacts, verifyManifest } from "./verify-manifest.ts";
import { type HealthReport, judgeTrial } from "./trial-verdict.ts";

/** Where a release's files come from: a folder, a bundle, an HTTPS channel. */
export interface ReleaseSource {
  /** Where, in a few words, for messages. */
  readonly name: string;
  manifest(): Promise<{ readonly bytes: Uint8Array; readonly signature: string }>;
  /** The file's bytes from `offset` on (0 by default), at most `limit` of them in all (a source that has more stops one byte past). */
  open(file: string, limit: number, offset?: number): AsyncIterable<Uint8Array>;
  /** Whether a download cut off is kept to go on from (an HTTPS channel); a local folder starts again. */
  readonly resumable?: boolean;
}

/** What {@linkcode Updater} works with. */
export interface UpdaterOptions {
  /** The updater's folder (root-owned): its state, the slots, the `current` link. */
  readonly root: string;
  /** The version the package installed, the floor before the first update. */
  readonly installedVersion: string;
  /** The pinned public keys (the online release key and the offline backup key). */
  readonly keys: readonly MinisignKey[];
  /** The board's target, its clock, and the schema reader of the binary running the updater (taken for an adopted release). */
  readonly board: Omit<BoardFacts, "highestRelease" | "floorVersion" | "runningVersion">;
  /** How many starts a trial gets before it rolls back (a power cut counts as one). */
  readonly maxAttempts?: number;
  /** Runs the candidate before it is trusted; throws an UpdateRefusal. By default its `--version`. */
  readonly selfTest?: (binary: string, manifest: Manifest) => Promise<void>;
  readonly step?: StepHook;
  /** Take an app-only patch when the release has one for the running binary (true by default). */
  readonly patches?: boolean;
  /** Applies a patch: writes `output` from `base` and `patch`; by default Debian's zstd. Throws when it cannot. */
  readonly applyPatch?: (base: string, patch: string, output: string) => Promise<void>;
  /** The memory the board has free for applying a patch, in bytes (MemAvailable by default). */
  readonly memoryAvailable?: () => number | undefined;
  /** The running release's health report (`/run/realer-edge/health.json` under systemd). */
  readonly healthPath?: string;
  /** Called with what the updater chose and why (the patch taken, or why not), for the log. */
  readonly note?: (text: string) => void;
}

/** How a staged release reached the slot. */
export interface Staged {
  readonly manifest: Manifest;
  /** "patch": an app-only patch applied to the running binary; "full": the whole binary. */
  readonly via: "patch" | "full";
  /** The bytes read from the source for the binary (the patch's, or the whole file's). */
  readonly fetched: number;
}

/** What systemd says of the service, and the one thing the watch asks of it. */
export interface ServiceProbe {
  /** Whether it runs, its automatic restarts so far (NRestarts), and whether its last run ended on the watchdog. */
  facts(): Promise<{ readonly active: boolean; readonly restarts: number; readonly watchdogKilled: boolean }>;
  /** Restarts the service (onto whatever `current` points to now). */
  restart(): Promise<void>;
  /** Restarts it only if it runs (a stopped service stays stopped); `restart` where there is none. */
  tryRestart?(): Promise<void>;
  /** Starts or stops the watch's timer: it runs only while a trial is open. */
  watchTimer?(running: boolean): Promise<void>;
}

/** How a trial is judged: its window, its settling time (see judgeTrial), and when an inconclusive one is tried again. */
export interface TrialTiming {
  readonly windowMs: number;
  readonly settleMs?: number;
  /** After an inconclusive trial (6 h by default). */
  readonly retryMs?: number;
}

/** What one watch did. */
export interface WatchOutcome {
  readonly action: "none" | "committed" | "rolled-back" | "inconclusive" | "retried";
  readonly text?: string;
}

/** What `update status` shows. */
export interface UpdateStatus {
  readonly current: Slot | undefined;
  readonly state: UpdaterState;
  readonly lastRefusal: string | undefined;
}

/** One board's updater (see the file's opening comment). */
export class Updater {
  readonly slots: Slots;
  readonly #options: UpdaterOptions;
  readonly #statePath: string;
  readonly #refusalPath: string;
  readonly #step: StepHook;

  constructor(options: UpdaterOptions) {
    this.#options = options;
    this.#step = options.step ?? (() => {});
    this.slots = new Slots(options.root, this.#step);
    this.#statePath = join(options.root, "state.json");
    this.#refusalPath = join(options.root, "last-refusal");
  }

  state(): UpdaterState {
    return readUpdaterState(this.#statePath, this.#options.installedVersion);
  }

  status(): UpdateStatus {
    let lastRefusal: string | undefined;
    try {
      lastRefusal = readFileSync(this.#refusalPath, "utf8").trim() || undefined;
    } catch {
      lastRefusal = undefined;
    }
    return { current: this.slots.current(), state: this.state(), lastRefusal };
  }

  /** The path of the file that exists while a trial is open: the watch timer runs only then (ConditionPathExists). */
  get trialMarker(): string {
    return join(this.#options.root, "trial-open");
  }

  /**
   * Writes the state, with the trial marker in step: made before a trial is written, removed
   * after it is closed, so that a crash between the two leaves at most a watch with nothing to do.
   */
  #write(state: UpdaterState): void {
    if (state.trial) writeFileSync(this.trialMarker, `${state.trial.release}\n`);
    writeUpdaterState(this.#statePath, state, this.#step);
    if (!state.trial) rmSync(this.trialMarker, { force: true });
  }

  /**
   * The first time: the binary the package installed becomes slot a, committed, and `current`
   * points at it. Later calls do nothing.
   */
  async adopt(binary: string, version: string): Promise<void> {
    const state = this.state();
    if (state.committed) return;
    await this.slots.stage("a", () => createReadStream(binary) as AsyncIterable<Uint8Array>, Number.MAX_SAFE_INTEGER);
    this.slots.promote("a", {});
    this.#write({
      ...state,
      committed: { slot: "a", release: 0, version, schema_reader: this.#options.board.schemaReader },
    });
    this.slots.switchTo("a");
    this.slots.switchTo("a", "committed");
  }

  /**
   * Before each start of the service: a board the package installed before it had an updater (or
   * whose update folder was lost) adopts `binary` first, so that `current` always has a release.
   */
  async ensureAdopted(binary: string, version: string): Promise<void> {
    if (!this.state().committed) await this.adopt(binary, version);
  }

  /**
   * The Debian package's way in: `binary` (what dpkg just installed, trusted as the operator's own
   * choice, so neither signed nor held to the floor) goes into the spare slot and runs on trial,
   * judged and rolled back like any release. A board with nothing committed adopts it instead
   * (there is nothing to fall back to); the committed binary again is nothing to do. Returns what
   * became of it.
   */
  async stageInstalled(binary: string, version: string, schema: Manifest["schema"]): Promise<"adopted" | "unchanged" | "trial"> {
    let state = this.state();
    if (!state.committed) {
      await this.adopt(binary, version);
      return "adopted";
    }
    const offered = await hashFile(binary);
    const committedHash = (await hashFile(this.slots.binary(state.committed.slot))).sha256;
    if (offered.sha256 === committedHash) {
      if (state.trial) this.rollback(`the package went back to the committed ${state.committed.version}`);
      return "unchanged";
    }
    if (state.trial) {
      this.rollback(`release ${state.trial.release} (${state.trial.version}) was replaced by the package's ${version}`);
      state = this.state();
    }
    const committed = state.committed!;
    const reader = committed.schema_reader ?? this.#options.board.schemaReader;
    if (schema.oldest_reader > reader) {
      throw new UpdateRefusal(
        "schema",
        `the package's ${version} writes a state file only schema ${schema.oldest_reader} or later can open; the committed ${committed.version} reads up to ${reader}, so it could not roll back: it stays`,
      );
    }
    const spare: Slot = committed.slot === "a" ? "b" : "a";
    const written = await this.slots.stage(spare, () => createReadStream(binary) as AsyncIterable<Uint8Array>, offered.length);
    if (written.sha256 !== offered.sha256) {
      this.slots.clean(spare);
      throw new UpdateRefusal("hash", `${binary} changed while it was copied: run the package's configure again`);
    }
    this.slots.promote(spare, {});
    this.#write({
      ...state,
      trial: {
        slot: spare,
        release: state.highest_release,
        version,
        started_at: Date.now(),
        attempts: 0,
        schema_writes: schema.writes,
        committed_was_connected: this.#readHealth()?.connected === true,
      },
      retry: null,
    });
    this.slots.switchTo(spare);
    return "trial";
  }

  /**
   * Verifies the release at `source` and stages it into the spare slot, then opens its trial and
   * switches to it. A refusal throws an UpdateRefusal and changes neither the slots nor the state
   * (it is written to `last-refusal` for `update status`).
   */
  async apply(source: ReleaseSource): Promise<Staged> {
    try {
      return await this.#apply(source);
    } catch (error) {
      if (error instanceof UpdateRefusal) {
        writeFileSync(this.#refusalPath, `${new Date().toISOString()} ${source.name}: ${error.message}\n`);
      }
      throw error;
    }
  }

  /**
   * Runs the manifest's checks at `source` as `apply` would, and changes nothing: the manifest,
   * or an UpdateRefusal.
   */
  async check(source: ReleaseSource): Promise<Manifest> {
    return (await this.#verified(source)).manifest;
  }

  /** The state, the committed release and the manifest at `source`, verified against them. */
  async #verified(source: ReleaseSource) {
    const state = this.state();
    const committed = state.committed;
    if (!committed) throw new UpdateRefusal("floor", "the updater has adopted no running release yet (run `realer-edge update adopt`)");
    if (state.trial) throw new UpdateRefusal("ratchet", `release ${state.trial.release} is on trial: commit or roll it back first`);
    const { bytes, signature } = await source.manifest();
    const manifest = verifyManifest(bytes, signature, this.#options.keys, {
      ...this.#options.board,
      // A rollback goes to the committed release: what matters is whether it can open the new state.
      schemaReader: committed.schema_reader ?? this.#options.board.schemaReader,
      runningVersion: committed.version,
      highestRelease: state.highest_release,
      floorVersion: state.floor_version,
    });
    return { state, committed, bytes, signature, manifest };
  }

  async #apply(source: ReleaseSource): Promise<Staged> {
    const { state, committed, bytes, signature, manifest } = await this.#verified(source);
    const spare: Slot = committed.slot === "a" ? "b" : "a";
    let written: { sha256: string; length: number } | undefined;
    let fetched = 0;
    let via: Staged["via"] = "full";
    const patch = this.#options.patches === false ? undefined : await this.#patch(manifest, committed.slot);
    if (patch) {
      written = await this.#patched(spare, source, committed.slot, patch, manifest.binary);
      if (written) [fetched, via] = [patch.length, "patch"];
    }
    try {
      if (!written) {
        written = await this.slots.stage(
          spare,
          (offset) => source.open(manifest.binary.file, manifest.binary.length, offset),
          manifest.binary.length,
          source.resumable ? { resumeKey: manifest.binary.sha256 } : {},
        );
        fetched = written.length;
      }
    } catch (error) {
      // A short read, a longer file than promised, a full disk: the slot is as it was, but for
      // what an HTTPS download kept to go on from next time.
      const kept = source.resumable && !(error instanceof StageLimitError);
      if (!kept) this.slots.clean(spare);
      const reason = error instanceof StageLimitError
        ? error.message
        : error instanceof Error
        ? error.message.split("\n")[0]
        : String(error);
      throw new UpdateRefusal("download", `${manifest.binary.file}: ${reason}${kept ? "; the next try goes on from there" : ""}`);
    }
    try {
      if (written.length !== manifest.binary.length || written.sha256 !== manifest.binary.sha256) {
        throw new UpdateRefusal(
          "hash",
          `${manifest.binary.file} is ${written.length} bytes with sha256 ${
            written.sha256.slice(0, 16)
          }…; the manifest says ${manifest.binary.length} bytes, ${manifest.binary.sha256.slice(0, 16)}…`,
        );
      }
      await (this.#options.selfTest ?? versionSelfTest)(this.slots.part(spare), manifest);
    } catch (error) {
      this.slots.clean(spare);
      throw error instanceof UpdateRefusal ? error : new UpdateRefusal("self-test", error instanceof Error ? error.message : String(error));
    }
    this.slots.promote(spare, { "manifest.json": new TextDecoder().decode(bytes), "manifest.json.minisig": signature });
    // The trial is on disk before the link flips: a crash in between resumes it (see recover()).
    this.#write({
      ...state,
      highest_release: manifest.release,
      trial: {
        slot: spare,
        release: manifest.release,
        version: manifest.version,
        started_at: Date.now(),
        attempts: 0,
        schema_writes: manifest.schema.writes,
        committed_was_connected: this.#readHealth()?.connected === true,
      },
      retry: null,
    });
    this.slots.switchTo(spare);
    rmSync(this.#refusalPath, { force: true });
    return { manifest, via, fetched };
  }

  /** The release's patch for the running binary, if it has one. */
  async #patch(manifest: Manifest, running: Slot): Promise<NonNullable<Manifest["patches"]>[number] | undefined> {
    if (!manifest.patches || manifest.patches.length === 0) return undefined;
    const base = (await hashFile(this.slots.binary(running))).sha256;
    const patch = manifest.patches.find((candidate) => candidate.from_sha256 === base);
    if (!patch) {
      this.#options.note?.(`no patch from the running binary (${base.slice(0, 16)}…): taking the full binary`);
      return undefined;
    }
    // zstd holds the base and the result's window at once: about twice the binary (226 MiB for
    // our 109 MiB x64 binary). A board with less to spare takes the full file instead.
    const needed = 2 * manifest.binary.length + 32 * 1024 * 1024;
    const available = (this.#options.memoryAvailable ?? memAvailable)();
    if (available !== undefined && available < needed) {
      this.#options.note?.(
        `applying the patch needs about ${Math.round(needed / 1048576)} MiB, and ${
          Math.round(available / 1048576)
        } MiB are free: taking the full binary`,
      );
      return undefined;
    }
    return patch;
  }

  /**
   * Fetches and applies the patch into the spare slot's `.part`; returns what it wrote, or
   * undefined (and says why) when the full binary must be taken instead: a patch that is not the
   * manifest's, or that does not apply. The result is checked like a full download.
   */
  async #patched(
    spare: Slot,
    source: ReleaseSource,
    running: Slot,
    patch: NonNullable<Manifest["patches"]>[number],
    binary: Manifest["binary"],
  ): Promise<{ sha256: string; length: number } | undefined> {
    const note = this.#options.note ?? (() => {});
    try {
      const got = await this.slots.stage(spare, (offset) => source.open(patch.file, patch.length, offset), patch.length, {
        part: this.slots.patch(spare),
      });
      if (got.sha256 !== patch.sha256 || got.length !== patch.length) {
        note(`the patch ${patch.file} is not the manifest's (sha256 ${got.sha256.slice(0, 16)}…): taking the full binary`);
        return undefined;
      }
      await (this.#options.applyPatch ?? zstdPatch)(this.slots.binary(running), this.slots.patch(spare), this.slots.part(spare));
      const result = await hashFile(this.slots.part(spare));
      if (result.sha256 !== binary.sha256 || result.length !== binary.length) {
        note(`the patch ${patch.file} did not give the manifest's binary: taking the full binary`);
        this.slots.clean(spare);
        return undefined;
      }
      note(`applied ${patch.file} (${patch.length} bytes) to the running binary`);
      return result;
    } catch (error) {
      note(
        `the patch ${patch.file} could not be applied (${
          error instanceof Error ? error.message.split("\n")[0] : String(error)
        }): taking the full binary`,
      );
      this.slots.clean(spare);
      return undefined;
    } finally {
      rmSync(this.slots.patch(spare), { force: true });
    }
  }

  /**
   * Called before each start of the service: counts a start of the release on trial, and rolls
   * back once its attempts are spent. Returns what runs now.
   */
  recordStart(): "committed" | "trial" | "rolled-back" {
    this.recover();
    const state = this.state();
    if (!state.trial) return "committed";
    const attempts = state.trial.attempts + 1;
    if (attempts > (this.#options.maxAttempts ?? 3)) {
      this.rollback(`release ${state.trial.release} did not prove itself healthy in ${attempts - 1} starts`);
      return "rolled-back";
    }
    // Each start has the whole window to prove itself: a power cut late in a window must not fail a good release.
    this.#write({ ...state, trial: { ...state.trial, attempts, started_at: Date.now() } });
    return "trial";
  }

  /**
   * The release on trial proved itself healthy: it becomes the committed one, and the floor rises
   * to its version (never falls: a package an operator downgraded to commits below it).
   */
  commit(): void {
    const state = this.state();
    if (!state.trial) throw new Error("Cannot commit: no release is on trial");
    const { slot, release, version, schema_writes } = state.trial;
    this.#write({
      ...state,
      committed: { slot, release, version, ...(schema_writes === undefined ? {} : { schema_reader: schema_writes }) },
      floor_version: compareVersions(version, state.floor_version) > 0 ? version : state.floor_version,
      trial: null,
    });
    this.slots.switchTo(slot, "committed");
  }

  /** Back to the committed release: the link first, then the trial closed (the ratchet stays where it rose). */
  rollback(reason: string): void {
    const state = this.state();
    if (!state.committed) throw new Error("Cannot roll back: no release is committed");
    this.slots.switchTo(state.committed.slot);
    this.#write({ ...state, trial: null });
    writeFileSync(this.#refusalPath, `${new Date().toISOString()} rolled back: ${reason}\n`);
  }

  /**
   * Brings the link in line with the state after a crash: a trial recorded but not yet switched
   * to is switched to (its slot was complete before the trial was written); with no trial, the
   * link points at the committed slot. A spare slot's `.part` is removed, but for a download
   * kept to go on from.
   */
  recover(): void {
    const state = this.state();
    if (!state.committed) return;
    const wanted = state.trial?.slot ?? state.committed.slot;
    if (this.slots.current() !== wanted) this.slots.switchTo(wanted);
    if (this.slots.linked("committed") !== state.committed.slot) this.slots.switchTo(state.committed.slot, "committed");
    this.slots.clean(wanted === "a" ? "b" : "a", { keepResumable: true });
    if (existsSync(this.trialMarker) !== Boolean(state.trial)) this.#write(state);
  }

  /** The running release's health report, if it wrote one that parses. */
  #readHealth(): HealthReport | undefined {
    if (!this.#options.healthPath) return undefined;
    try {
      const report = JSON.parse(readFileSync(this.#options.healthPath, "utf8")) as Partial<HealthReport>;
      return typeof report.version === "string" && typeof report.connected === "boolean" ? report as HealthReport : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * One look at the release on trial (the updater's timer runs it every few seconds): judges it
   * from its health report and systemd's facts, and commits it, or rolls back and restarts the
   * service onto the committed release. An inconclusive trial (no cloud, as before it) rolls back
   * too, keeping its slot to try again at `retryMs` later; so does the watch once that time comes.
   */
  async watch(probe: ServiceProbe, timing: TrialTiming, now = Date.now()): Promise<WatchOutcome> {
    const { windowMs, settleMs, retryMs = 6 * 3600_000 } = timing;
    this.recover();
    const state = this.state();
    if (!state.trial) return await this.retryDue(probe, now);
    const facts = await probe.facts();
    let trial = state.trial;
    if (trial.restarts_at_start === undefined) {
      trial = { ...trial, restarts_at_start: facts.restarts };
      this.#write({ ...state, trial });
    }
    const verdict = judgeTrial(
      {
        version: trial.version,
        startedAt: trial.started_at,
        windowMs,
        committedWasConnected: trial.committed_was_connected,
        ...(settleMs === undefined ? {} : { settleMs }),
      },
      {
        active: facts.active,
        restarts: facts.restarts - (trial.restarts_at_start ?? facts.restarts),
        watchdogKilled: facts.watchdogKilled,
      },
      this.#readHealth(),
      now,
    );
    switch (verdict.kind) {
      case "pending":
        return { action: "none", text: `waiting for ${verdict.waiting}` };
      case "healthy":
        this.commit();
        return { action: "committed", text: `release ${trial.release} (${trial.version}) proved itself healthy` };
      case "unhealthy":
        this.rollback(`release ${trial.release} (${trial.version}): ${verdict.reason}`);
        await probe.restart();
        return { action: "rolled-back", text: verdict.reason };
      case "inconclusive": {
        this.rollback(`release ${trial.release} (${trial.version}) inconclusive: ${verdict.reason}; tried again later`);
        const after = this.state();
        this.#write({
          ...after,
          retry: { slot: trial.slot, release: trial.release, version: trial.version, retry_at: now + retryMs },
        });
        await probe.restart();
        return { action: "inconclusive", text: verdict.reason };
      }
    }
  }

  /**
   * A release whose trial was inconclusive goes on trial again once its time has come (the poll
   * timer asks, hours apart; the watch timer runs only while a trial is open).
   */
  async retryDue(probe: ServiceProbe, now = Date.now()): Promise<WatchOutcome> {
    const state = this.state();
    const retry = state.retry;
    if (state.trial || !retry || now < retry.retry_at || !state.committed) return { action: "none" };
    this.#write({
      ...state,
      retry: null,
      trial: {
        slot: retry.slot,
        release: retry.release,
        version: retry.version,
        started_at: now,
        attempts: 0,
        committed_was_connected: this.#readHealth()?.connected === true,
      },
    });
    this.slots.switchTo(retry.slot);
    await probe.restart();
    return { action: "retried", text: `release ${retry.release} on trial again` };
  }

  /** The sha256 of the binary `current` runs, for a patch's base. */
  async runningHash(): Promise<string | undefined> {
    const slot = this.slots.current();
    return slot === undefined ? undefined : (await hashFile(this.slots.binary(slot))).sha256;
  }
}

/** The default self-test: the candidate runs here and says it is the version the manifest names. */
async function versionSelfTest(binary: string, manifest: Manifest): Promise<void> {
  let child;
  try {
    child = spawnProcess(binary, ["--version"], {});
  } catch (error) {
    throw new UpdateRefusal(
      "self-test",
      `${manifest.binary.file} does not start here (${error instanceof Error ? error.message : String(error)}): the wrong architecture?`,
    );
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await child.exited.finally(() => clearTimeout(timer));
  const { stdout, stderr } = child.output();
  if (code !== 0 || !stdout.startsWith(`realer-edge ${manifest.version} `)) {
    throw new UpdateRefusal(
      "self-test",
      `${manifest.binary.file} --version exited ${code ?? "on a signal"} with "${
        (stdout || stderr).trim().split("\n")[0]?.slice(0, 120) ?? ""
      }", not version ${manifest.version}`,
    );
  }
}

/** Applies a zstd `--patch-from` patch with Debian's zstd (its window covers a whole binary). */
async function zstdPatch(base: string, patch: string, output: string): Promise<void> {
  let child;
  try {
    child = spawnProcess("zstd", ["-q", "-d", "-f", "--long=31", `--patch-from=${base}`, patch, "-o", output], inheritedEnv());
  } catch (error) {
    throw new Error(`zstd is not installed (${error instanceof Error ? error.message : String(error)})`);
  }
  const code = await child.exited;
  if (code !== 0) throw new Error(`zstd exited ${code ?? "on a signal"}: ${child.output().stderr.trim().split("\n")[0] ?? ""}`);
}

/** MemAvailable from /proc/meminfo, in bytes; undefined where there is none. */
function memAvailable(): number | undefined {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
