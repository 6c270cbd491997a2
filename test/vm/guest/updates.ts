// Runs on the board image under systemd (see realer-board-test.service): field updates the way a
// board in the field takes them. The package is installed (it adopts its binary) and runs as its
// service on gpio-sim lines against the emulator on the host; then, one at a time, releases are
// offered on an HTTPS channel on the host and taken by the updater's own units: the poll service
// stages one, the watch timer judges it. The relay is held on and sampled through every switch.
// Prints for the host:
//   UPDATES ok|fail <check>[: <why>]     UPDATES measure <name> <value>     UPDATES done
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { samplePin, simPull, simValue } from "./gpio-sim.ts";
import {
  acksOf,
  type BoardPayload,
  caFetch,
  HERE,
  journal,
  operatorApi,
  readPayload,
  reporter,
  run,
  runAsync,
  show,
  sleep,
  waitFor,
} from "./board-kit.ts";

const RELAY = 6;
/** What the host offers: each release folder on the channel, what it is, and what should become of it. */
interface Offer {
  readonly name: string;
  readonly release: number;
  /** "commit": a good release; "rollback": one built to fail; "refuse": verification must refuse it. */
  readonly expect: "commit" | "rollback" | "refuse";
  /** For "refuse": what `update status` must say; for "rollback": what the verdict names. */
  readonly reason?: string;
  readonly commit_label?: string;
}
const payload = readPayload<
  BoardPayload & { channel: string; offers: Offer[]; crash_deb: string; power_cut: { trial: Offer; download: Offer } }
>();
const operator = operatorApi(payload.operator);
const { say, check } = reporter("UPDATES");
const UPDATE = "/var/lib/realer-edge-update";
const CONFIG = "/etc/realer-edge/device.json";

interface UpdaterState {
  highest_release: number;
  floor_version: string;
  committed: { slot: string; release: number; version: string } | null;
  trial: { slot: string; release: number; version: string; attempts: number } | null;
}
const state = (): UpdaterState => JSON.parse(readFileSync(join(UPDATE, "state.json"), "utf8")) as UpdaterState;
const link = (name: string) => {
  try {
    return readlinkSync(join(UPDATE, name));
  } catch {
    return "none";
  }
};
/** The file the service's main process runs ("none" between two runs). */
const running = () => {
  const pid = show("MainPID");
  try {
    return { pid, exe: readlinkSync(`/proc/${pid}/exe`) };
  } catch {
    return { pid, exe: "none" };
  }
};
/** What a binary says it is (`--version`: its commit names a test build's label). */
const versionOf = (exe: string) => run(exe, "--version").out;
const health = (): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(readFileSync("/run/realer-edge/health.json", "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};
const connected = () => show("ActiveState") === "active" && health()?.connected === true;
const acks = () => acksOf(operator, payload.device_id);
const desire = async (value: string) =>
  (await operator("POST", `/devices/${payload.device_id}/desired`, { source_id: payload.relay, value }) as { desired_id: string })
    .desired_id;

/** Which boot this is: the first, or one after the power cut the previous boot asked the host for. */
const PHASE_FILE = join(HERE, "phase");
const phase = existsSync(PHASE_FILE) ? readFileSync(PHASE_FILE, "utf8").trim() : "first";
say(`booted (${phase}): ${run("systemctl", "is-system-running").out}, uptime ${readFileSync("/proc/uptime", "utf8").split(" ")[0]} s`);

/** Asks the host to cut the power now; the next boot goes on at `next`. */
async function cutPower(next: string): Promise<never> {
  writeFileSync(PHASE_FILE, next);
  run("sync");
  say("cut");
  return await new Promise<never>(() => {});
}

async function install(): Promise<void> {
  await check("dpkg -i adopts the installed binary: current and committed are slot a, and the service runs it", async () => {
    const installed = run("dpkg", "-i", join(HERE, payload.deb));
    if (installed.status !== 0) return `dpkg -i: ${installed.out}`;
    writeFileSync(CONFIG, readFileSync(join(HERE, "device.json")));
    writeFileSync("/etc/realer-edge/ca.crt", readFileSync(join(HERE, "ca.crt")), { mode: 0o644 });
    writeFileSync("/etc/realer-edge/client-secret", payload.secret, { mode: 0o600 });
    // The trial's clock, shortened for the test: a 60 s window (in the config), 40 s of settling
    // (past the 30 s watchdog), and a look every 5 s.
    mkdirSync("/etc/systemd/system/realer-edge-update-watch.service.d", { recursive: true });
    writeFileSync(
      "/etc/systemd/system/realer-edge-update-watch.service.d/test.conf",
      `[Service]\nExecStart=\nExecStart=${UPDATE}/committed/realer-edge update watch --config ${CONFIG} --settle-s 40\n`,
    );
    mkdirSync("/etc/systemd/system/realer-edge-update-watch.timer.d", { recursive: true });
    // (One empty assignment: it resets every timer of the unit, OnUnitActiveSec= included.)
    writeFileSync(
      "/etc/systemd/system/realer-edge-update-watch.timer.d/test.conf",
      "[Timer]\nOnActiveSec=\nOnActiveSec=3s\nOnUnitActiveSec=5s\n",
    );
    run("systemctl", "daemon-reload");
    const enabled = run("systemctl", "enable", "--now", "realer-edge.service");
    const up = await waitFor(connected, 180_000);
    const now = running();
    const s = state();
    return enabled.status === 0 && up && link("current") === "slots/a" && link("committed") === "slots/a" &&
        now.exe === `${UPDATE}/slots/a/realer-edge` && s.committed?.slot === "a" && s.trial === null &&
        show("ActiveState", "realer-edge-update-poll.timer") === "active" &&
        show("ActiveState", "realer-edge-update-watch.timer") !== "active"
      ? true
      : `enable ${enabled.status}, connected ${Boolean(up)}, current ${link("current")}, committed ${
        link("committed")
      }, runs ${now.exe}, state ${JSON.stringify(s)}, poll timer ${show("ActiveState", "realer-edge-update-poll.timer")}, watch timer ${
        show("ActiveState", "realer-edge-update-watch.timer")
      }: ${journal(20)}`;
  });

  // The relay on, and pulled up as a board's pin keeps its level between holders (see board.ts):
  // only a release's own claim can move it.
  {
    const id = await desire("1.0");
    await waitFor(async () => simValue(RELAY) === 1 && (await acks()).some((ack) => ack.desired_id === id), 60_000);
    simPull(RELAY, 1);
  }
}

/** Points the config's channel at one release folder. */
function pointChannelAt(offer: Offer): void {
  const config = JSON.parse(readFileSync(CONFIG, "utf8")) as Record<string, unknown>;
  writeFileSync(
    CONFIG,
    JSON.stringify({ ...config, updates: { ...config.updates as object, channel: `${payload.channel}${offer.name}/` } }),
  );
}

/** Points the channel at `offer` and runs the poll service, as its timer would. */
async function poll(offer: Offer) {
  pointChannelAt(offer);
  return await runAsync("systemctl", "start", "realer-edge-update-poll.service");
}

/** Takes one release through the channel; returns why it went wrong, or true. */
async function take(offer: Offer): Promise<string | true> {
  const before = state();
  const committedExe = `${UPDATE}/${link("committed")}/realer-edge`;
  const sampler = samplePin(RELAY);
  const started = performance.now();
  const polled = await poll(offer);
  const pollOutput = run("journalctl", "-u", "realer-edge-update-poll", "-n", "8", "--no-pager", "-o", "cat").out;
  if (offer.expect === "refuse") {
    const samples = await sampler.stop();
    const status = run(`${UPDATE}/committed/realer-edge`, "update", "status").out;
    const after = state();
    const problems = [
      status.includes(offer.reason!) ? "" : `update status does not say "${offer.reason}": ${status}`,
      JSON.stringify(after) === JSON.stringify(before) ? "" : `the state changed: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`,
      running().exe === committedExe ? "" : `the service runs ${running().exe}`,
      samples.every((sample) => sample.value === 1) ? "" : "the relay moved",
    ].filter((problem) => problem !== "");
    say(
      `measure ${offer.name} refused in ${(performance.now() - started).toFixed(0)} ms: ${
        status.split("\n").find((line) => line.startsWith("last:"))
      }`,
    );
    return problems.length === 0 ? true : problems.join("; ");
  }
  const trial = state().trial;
  if (polled.status !== 0 || trial?.release !== offer.release) {
    await sampler.stop();
    return `the poll did not open a trial for release ${offer.release} (exit ${polled.status}): ${pollOutput} ${polled.out}; state ${
      JSON.stringify(state())
    }`;
  }
  const stagedAt = performance.now();
  say(
    `measure ${offer.name} staged in ${(stagedAt - started).toFixed(0)} ms: ${
      pollOutput.split("\n").filter((line) => line.startsWith("staged")).join(" ")
    }`,
  );
  // A desired state while the release is on trial: a healthy release answers it; one that leaves
  // it unanswered is rolled back, and the committed release answers it.
  await waitFor(() => running().exe !== committedExe || show("ActiveState") !== "active", 60_000);
  await sleep(8_000);
  const duringTrial = await desire("1.0");
  const over = await waitFor(() => state().trial === null, 300_000);
  const verdictAt = performance.now();
  const after = state();
  const back = await waitFor(connected, 180_000);
  const answered = await waitFor(async () => (await acks()).find((ack) => ack.desired_id === duringTrial), 120_000);
  await sleep(1_000);
  const samples = await sampler.stop();
  const low = samples.filter((sample) => sample.value !== 1).length;
  const now = running();
  const status = run(`${UPDATE}/committed/realer-edge`, "update", "status").out;
  const watchTimer = show("ActiveState", "realer-edge-update-watch.timer");
  say(
    `measure ${offer.name}: staged -> ${offer.expect === "commit" ? "committed" : "rolled back"} ${
      (verdictAt - stagedAt).toFixed(0)
    } ms, verdict -> connected ${(performance.now() - verdictAt).toFixed(0)} ms; ${samples.length} relay samples, ${low} not on; ${
      status.split("\n").find((line) => line.startsWith("last:")) ?? ""
    }`,
  );
  const problems = [
    over ? "" : `the trial was still open after 300 s: ${JSON.stringify(state())}; the watch: ${journal(12, "realer-edge-update-watch")}`,
    back ? "" : `the service is not back and connected: ${show("ActiveState")}/${show("SubState")} ${journal(15)}`,
    answered?.status === "accepted" ? "" : `the desired state sent during the trial was answered ${JSON.stringify(answered)}`,
    low === 0 ? "" : `${low} of ${samples.length} relay samples not on`,
    watchTimer === "active" ? "the watch timer still runs with no trial open" : "",
  ];
  if (offer.expect === "commit") {
    problems.push(
      after.committed?.release === offer.release && link("committed") === `slots/${trial.slot}`
        ? ""
        : `not committed: ${JSON.stringify(after)}`,
      now.exe === `${UPDATE}/slots/${trial.slot}/realer-edge` && versionOf(now.exe).includes(offer.commit_label ?? "")
        ? ""
        : `the service runs ${now.exe} (${versionOf(now.exe)})`,
    );
  } else {
    problems.push(
      after.committed?.release === before.committed?.release && now.exe === committedExe
        ? ""
        : `not rolled back: ${JSON.stringify(after)}, runs ${now.exe}`,
      after.highest_release === offer.release ? "" : `the ratchet is ${after.highest_release}, not ${offer.release}`,
      status.includes("rolled back") && status.includes(offer.reason ?? "") ? "" : `update status: ${status}`,
    );
  }
  const found = problems.filter((problem) => problem !== "");
  return found.length === 0 ? true : found.join("; ");
}

async function campaign(): Promise<void> {
  for (const offer of payload.offers) {
    const name = offer.expect === "commit"
      ? `a good release over the HTTPS channel (${offer.name}) goes on trial, proves itself healthy and commits, the relay held on`
      : offer.expect === "rollback"
      ? `a release that fails (${offer.name}) rolls back by itself, the committed release answers, the relay held on`
      : `the channel's ${offer.name} is refused, with nothing changed`;
    await check(name, () => take(offer));
  }

  await check(
    "a .deb whose binary crashes goes on trial and the committed release comes back by itself; the good .deb then commits",
    async () => {
      const committedExe = `${UPDATE}/${link("committed")}/realer-edge`;
      const sampler = samplePin(RELAY);
      const installed = await runAsync("dpkg", "-i", join(HERE, payload.crash_deb));
      const onTrial = state().trial;
      const rolledBack = await waitFor(() => state().trial === null, 300_000);
      const back = await waitFor(() => connected() && running().exe === committedExe, 180_000);
      const reinstalled = await runAsync("dpkg", "-i", join(HERE, payload.deb));
      const secondTrial = state().trial;
      const committed = await waitFor(() => state().trial === null && connected(), 300_000);
      const samples = await sampler.stop();
      const low = samples.filter((sample) => sample.value !== 1).length;
      const now = running();
      say(`measure deb: ${samples.length} relay samples, ${low} not on; the good package runs ${now.exe} (${versionOf(now.exe)})`);
      const problems = [
        installed.status === 0 ? "" : `dpkg -i crash: ${installed.out}`,
        onTrial ? "" : "the crashing package was not put on trial",
        rolledBack && back ? "" : `not rolled back to ${committedExe}: ${JSON.stringify(state())}, runs ${running().exe}`,
        reinstalled.status === 0 && secondTrial ? "" : `dpkg -i good: ${reinstalled.out}, trial ${JSON.stringify(secondTrial)}`,
        committed && state().committed?.slot === secondTrial?.slot && now.exe === `${UPDATE}/slots/${secondTrial?.slot}/realer-edge`
          ? ""
          : `the good package did not commit: ${JSON.stringify(state())}, runs ${now.exe}`,
        low === 0 ? "" : `${low} relay samples not on`,
      ].filter((problem) => problem !== "");
      return problems.length === 0 ? true : problems.join("; ");
    },
  );
}

/** The trial of `release` as it runs: power is cut once its process is up. */
async function cutDuringTrial(): Promise<never> {
  const offer = payload.power_cut.trial;
  await poll(offer);
  const trial = state().trial;
  await waitFor(() => trial !== null && running().exe === `${UPDATE}/slots/${trial.slot}/realer-edge`, 120_000);
  await sleep(3_000);
  say(`measure trial-cut: cut with ${JSON.stringify(state().trial)}`);
  return await cutPower("trial-cut");
}

async function afterTrialCut(): Promise<void> {
  await check("a power cut during a trial: the board boots, the start is counted on disk, and the trial goes on to commit", async () => {
    const offer = payload.power_cut.trial;
    const up = await waitFor(() => show("ActiveState") === "active" ? state() : false, 180_000);
    const atBoot = up ? state().trial : null;
    const over = await waitFor(() => state().trial === null && connected(), 300_000);
    const after = state();
    const now = running();
    say(`measure trial-cut: after the boot ${JSON.stringify(atBoot)}; then ${JSON.stringify(after.committed)}, runs ${now.exe}`);
    const problems = [
      atBoot?.release === offer.release && atBoot.attempts >= 2 ? "" : `the trial at boot: ${JSON.stringify(atBoot)}`,
      over && after.committed?.release === offer.release && now.exe === `${UPDATE}/slots/${after.committed.slot}/realer-edge`
        ? ""
        : `not committed: ${JSON.stringify(after)}, runs ${now.exe}: ${journal(12, "realer-edge-update-watch")}`,
      // the relay's value came back from the state file: gpio-sim starts afresh at every boot
      simValue(RELAY) === 1 ? "" : "the relay did not come back on",
    ].filter((problem) => problem !== "");
    return problems.length === 0 ? true : problems.join("; ");
  });
}

/** A download from the channel, cut once part of it is on disk. */
async function cutDuringDownload(): Promise<never> {
  const offer = payload.power_cut.download;
  const spare = state().committed?.slot === "a" ? "b" : "a";
  const part = `${UPDATE}/slots/${spare}/realer-edge.part`;
  pointChannelAt(offer);
  run("systemctl", "start", "--no-block", "realer-edge-update-poll.service");
  const size = () => {
    try {
      return statSync(part).size;
    } catch {
      return 0;
    }
  };
  await waitFor(() => size() > 40 * 1024 * 1024, 120_000);
  say(`measure download-cut: cut with ${size()} bytes in ${part}`);
  return await cutPower("download-cut");
}

async function afterDownloadCut(): Promise<void> {
  await check(
    "a power cut during a download: the board boots on the committed release, and the next poll goes on from what was kept and commits",
    async () => {
      const offer = payload.power_cut.download;
      const before = state();
      const up = await waitFor(() => connected(), 180_000);
      const spare = before.committed?.slot === "a" ? "b" : "a";
      let kept = 0;
      try {
        kept = statSync(`${UPDATE}/slots/${spare}/realer-edge.part`).size;
      } catch {
        kept = 0;
      }
      const runsCommitted = running().exe === `${UPDATE}/slots/${before.committed?.slot}/realer-edge`;
      const polled = await poll(offer);
      const ranges = (await (await caFetch()(`${payload.channel}ranges`)).json()) as string[];
      const over = await waitFor(() => state().trial === null && connected(), 300_000);
      const after = state();
      say(
        `measure download-cut: ${kept} bytes kept through the cut; the channel saw ${JSON.stringify(ranges)}; committed ${
          JSON.stringify(after.committed)
        }`,
      );
      const problems = [
        up && runsCommitted && before.trial === null
          ? ""
          : `the board did not come up on the committed release: ${JSON.stringify(before)}, runs ${running().exe}`,
        kept > 8 * 1024 * 1024 ? "" : `only ${kept} bytes were kept through the cut`,
        polled.status === 0 && ranges.includes(`bytes=${kept}-`)
          ? ""
          : `the poll (exit ${polled.status}) asked for ${JSON.stringify(ranges)}, not bytes=${kept}-`,
        over && after.committed?.release === offer.release ? "" : `not committed: ${JSON.stringify(after)}`,
      ].filter((problem) => problem !== "");
      return problems.length === 0 ? true : problems.join("; ");
    },
  );
}

if (phase === "first") {
  await install();
  await campaign();
  await cutDuringTrial();
} else if (phase === "trial-cut") {
  await afterTrialCut();
  await cutDuringDownload();
} else {
  await afterDownloadCut();
  for (const unit of ["realer-edge.service", "realer-edge-update-watch.service", "realer-edge-update-poll.service"]) {
    say(`measure security ${unit}: ${run("systemd-analyze", "security", "--no-pager", unit).out.split("\n").at(-1) ?? ""}`);
  }
  run("dpkg", "--purge", "realer-edge");
  say("done");
  run("systemctl", "poweroff");
}
