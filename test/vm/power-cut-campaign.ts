// The power-cut campaign: the board (the compiled arm64 runtime in the qemu VM, its state on an ext4
// disk image) loses power at random moments, again and again, while the cloud (the emulator and its
// broker, on the host) keeps running and sending desired states. After every boot and at the end,
// what the board kept and what the cloud received are checked against what a power cut may cost.
import { provisionSimDevice } from "./sim-device.ts";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../../scripts/build.ts";
import { Emulator } from "../../src/emulator/emulator.ts";
import { seeded } from "../helpers/seeded.ts";
import { buildInitramfs, compileArm64, startVm, vmAssets } from "./qemu.ts";

/** What one campaign found. */
export interface CampaignFigures {
  readonly seed: number;
  readonly cuts: number;
  /** Cuts made before the runtime was online (while it started or connected). */
  readonly cutsWhileStarting: number;
  readonly bootsChecked: number;
  /** Boots whose `PRAGMA integrity_check` was not ok, with what it said. */
  readonly integrityFailures: readonly string[];
  /** Boots whose relay showed a level other than its committed one before the runtime was online. */
  readonly glitches: readonly string[];
  readonly bootsNeverOnline: number;
  /** Boots that found the relay committed on, so that restoring it meant driving it high. */
  readonly bootsRestoringOn: number;
  readonly desiredSent: number;
  /** Desired states with no answer by the end (the final boot is given time to answer everything). */
  readonly desiredUnanswered: number;
  /** Desired states answered under two message_ids or with two different payloads. */
  readonly desiredAnsweredTwice: number;
  readonly edgesDriven: number;
  readonly readingsReceived: number;
  /** One observation delivered under two message_ids. */
  readonly readingDuplicates: number;
  /** Edges with no reading by the end, and how long before their cut each was printed (ms). */
  readonly readingsLost: number;
  readonly lostBeforeCutMs: readonly number[];
  /** Lost readings followed by a delivered one from the same boot: a hole, not the tail a cut may cost. */
  readonly readingsLostBeforeDelivered: number;
  /** Lost readings the runtime had read from the kernel (its `sensor.reading`) but not yet committed. */
  readonly readingsLostUncommitted: number;
  /** Readings the runtime had sent from its outbox (so committed) before the cut and never delivered. */
  readonly committedReadingsLost: readonly string[];
  /** Readings that match no printed edge: the level each start reports, or a flip cut before it was printed. */
  readonly readingsUnmatched: number;
  /** Host time from QEMU's start to the runtime online, per boot (ms). */
  readonly bootToOnlineMs: readonly number[];
  readonly wallMs: number;
}

export interface CampaignOptions {
  readonly cuts: number;
  readonly seed?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Where to write everything gathered (each boot's lines, what the cloud sent and received), as JSON. */
  readonly evidenceFile?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One boot as the host saw it: the guest's `PC` lines with their arrival times. */
export interface BootRecord {
  readonly lines: { text: string; at: number }[];
  startedAt: number;
  onlineAt?: number;
  cutAt?: number;
}

/** A device publish as the cloud received it. */
export interface Received {
  readonly messageId: string;
  readonly payload: string;
  readonly value: string;
  readonly desiredId?: string;
  readonly observedAt?: string;
}

export async function runPowerCutCampaign(options: CampaignOptions): Promise<CampaignFigures> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seeded(seed);
  const began = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "realer-power-cut-"));
  const emulator = new Emulator({ stateDir: join(dir, "cloud"), publicHost: "10.0.2.2", desiredPollSeconds: 5 });
  try {
    const assets = vmAssets();
    const [binary] = build(["linux-arm64"], dir);
    compileArm64("test/vm/guest/power-cut.ts", join(dir, "driver"));
    await emulator.start();
    const { device, relay, switchSource, config } = provisionSimDevice(emulator);
    writeFileSync(
      join(dir, "device.json"),
      JSON.stringify(config({
        client_secret: { env: "REALER_CLIENT_SECRET" },
        ca_file: "/opt/ca.crt",
        state_dir: "/data/state",
        log: { level: "debug", format: "text" }, // debug: each send from the outbox is logged
      })),
    );
    writeFileSync(join(dir, "secret"), device.client_secret);
    buildInitramfs(assets, join(dir, "initrd.gz"), "#!/bin/sh\n/opt/driver\n", {
      "opt/realer-edge": binary!,
      "opt/driver": join(dir, "driver"),
      "opt/device.json": join(dir, "device.json"),
      "opt/ca.crt": emulator.caPath,
      "opt/secret": join(dir, "secret"),
    });
    const disk = join(dir, "disk.img");
    const made = spawnSync("mkfs.ext4", ["-q", "-F", disk, "64M"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    });
    if (made.status !== 0) throw new Error(`mkfs.ext4 failed: ${made.stderr}`);

    // Everything the cloud received from the device, in arrival order.
    const received = new Map<string, Received[]>([[relay, []], [switchSource, []]]);
    emulator.onFeedReceived(({ deviceId, sourceId, payload }) => {
      if (deviceId !== device.device_id) return;
      const text = payload.toString("utf8");
      try {
        const body = JSON.parse(text) as { message_id?: string; value?: unknown; desired_id?: string; value_received_at?: string };
        received.get(sourceId)?.push({
          messageId: String(body.message_id),
          payload: text,
          value: String(body.value),
          ...(body.desired_id ? { desiredId: body.desired_id } : {}),
          ...(body.value_received_at ? { observedAt: body.value_received_at } : {}),
        });
      } catch {
        received.get(sourceId)?.push({ messageId: "", payload: text, value: "" });
      }
    });

    // The cloud keeps asking for the relay to change, whether the board is up or not: every 1–2 s,
    // which the emulated board (about 15 desired states a second, each with a synced commit) can
    // catch up with in the seconds it is up between cuts.
    const sent: { desiredId: string; value: string }[] = [];
    let pumping = false;
    let pumpDone = false;
    let pumpValue = 0;
    const pump = (async () => {
      while (!pumpDone) {
        await sleep(1000 + Math.floor(random() * 1000));
        if (!pumping) continue;
        pumpValue = 1 - pumpValue;
        const desired = await emulator.setDesired(device.device_id, relay, `${pumpValue}.0`, 3600);
        sent.push({ desiredId: desired.desiredId, value: desired.value });
      }
    })();

    const boots: BootRecord[] = [];
    const boot = (final: boolean) => {
      const record: BootRecord = { lines: [], startedAt: performance.now() };
      boots.push(record);
      const vm = startVm(assets, join(dir, "initrd.gz"), {
        disk,
        network: true,
        ...(final ? { append: "realer.final=1" } : {}),
        onLine: (text, at) => {
          if (!text.startsWith("PC ")) return;
          record.lines.push({ text: text.slice(3), at });
          if (text === "PC online") record.onlineAt = at;
        },
      });
      return { vm, record };
    };
    const waitUntil = async (check: () => boolean, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (!check() && performance.now() < deadline) await sleep(20);
      return check();
    };

    let cutsWhileStarting = 0;
    for (let cut = 1; cut <= options.cuts; cut++) {
      const { vm, record } = boot(false);
      let exited = false;
      void vm.ended.then(() => (exited = true));
      // A quarter of the cuts fall anywhere from the kernel's start to the runtime online (as long
      // as the boots so far took), the rest while the stream runs.
      const onlineSoFar = boots.flatMap((earlier) => (earlier.onlineAt === undefined ? [] : [earlier.onlineAt - earlier.startedAt]));
      if (onlineSoFar.length > 0 && random() < 0.25) {
        await sleep(random() * Math.max(...onlineSoFar));
      } else {
        await waitUntil(() => record.onlineAt !== undefined || exited, 180_000);
        pumping = true;
        await sleep(300 + random() * 5700);
      }
      if (exited) log(`boot ${boots.length} ended by itself before its cut:\n${vm.output().slice(-3000)}`);
      record.cutAt = performance.now();
      if (record.onlineAt === undefined || record.onlineAt > record.cutAt) cutsWhileStarting++;
      vm.cut();
      await vm.ended;
      log(
        `cut ${cut}/${options.cuts} at ${((record.cutAt - record.startedAt) / 1000).toFixed(1)} s after power on (${
          record.onlineAt !== undefined && record.onlineAt < record.cutAt
            ? `${((record.cutAt - record.onlineAt) / 1000).toFixed(1)} s after online`
            : "before online"
        }), ${record.lines.filter((line) => line.text.startsWith("edge")).length} edges`,
      );
      await sleep(random() * 1500);
    }

    // The last boot is not cut: the board answers and delivers what it kept, the cloud stops asking.
    pumping = false;
    pumpDone = true;
    await pump;
    const { vm, record } = boot(true);
    if (!(await waitUntil(() => record.onlineAt !== undefined, 180_000))) {
      log(`the final boot never came online:\n${vm.output().slice(-3000)}`);
    }
    // It is done when every desired state is answered and its outbox is empty (all acked).
    const answered = () => sent.every((desired) => received.get(relay)!.some((report) => report.desiredId === desired.desiredId));
    const drained = () => record.lines.filter((line) => line.text.startsWith("outbox ")).at(-1)?.text === "outbox 0";
    if (!(await waitUntil(() => answered() && drained(), 600_000))) {
      log(
        `the final boot did not drain: ${record.lines.filter((line) => line.text.startsWith("outbox")).at(-1)?.text ?? "no outbox count"}`,
      );
    }
    vm.cut();
    await vm.ended;
    log(
      `final boot: online ${
        record.onlineAt !== undefined ? `after ${((record.onlineAt - record.startedAt) / 1000).toFixed(1)} s` : "never"
      }`,
    );
    const evidence: Evidence = {
      seed,
      cuts: options.cuts,
      cutsWhileStarting,
      boots,
      sent,
      reports: received.get(relay)!,
      readings: received.get(switchSource)!,
      wallMs: performance.now() - began,
    };
    if (options.evidenceFile) writeFileSync(options.evidenceFile, JSON.stringify(evidence, null, 1));
    return judge(evidence);
  } finally {
    await emulator.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a campaign gathered, for {@linkcode judge}. */
export interface Evidence {
  readonly seed: number;
  readonly cuts: number;
  readonly cutsWhileStarting: number;
  readonly boots: readonly BootRecord[];
  readonly sent: readonly { desiredId: string; value: string }[];
  readonly reports: readonly Received[];
  readonly readings: readonly Received[];
  readonly wallMs: number;
}

/** Reads the boots' lines and the cloud's records into the campaign's figures. */
export function judge(evidence: Evidence): CampaignFigures {
  const integrityFailures: string[] = [];
  const glitches: string[] = [];
  let bootsNeverOnline = 0;
  let bootsRestoringOn = 0;
  const bootToOnlineMs: number[] = [];
  evidence.boots.forEach((boot, index) => {
    const line = (prefix: string) => boot.lines.find((candidate) => candidate.text.startsWith(`${prefix} `))?.text.slice(prefix.length + 1);
    const integrity = line("integrity");
    if (integrity !== undefined && integrity !== "ok" && integrity !== "none") integrityFailures.push(`boot ${index + 1}: ${integrity}`);
    if (boot.onlineAt === undefined) bootsNeverOnline += boot.cutAt === undefined ? 1 : 0;
    else bootToOnlineMs.push(boot.onlineAt - boot.startedAt);
    const levels = line("levels");
    const committed = line("committed");
    if (levels === undefined || committed === undefined) return; // cut before the runtime started
    const [changes, connected] = levels.split(" ");
    const connectedAt = Number(connected?.split("@")[1]);
    const runs = changes!.split(",").map((change) => change.split("@").map(Number) as [number, number]);
    const expected = committed === "1" ? 1 : 0;
    bootsRestoringOn += expected;
    // Before its claim the line reads its pull (0, as an unpowered relay); from the claim until the
    // runtime connected, only the committed level. Once connected, desired states may move it.
    const beforeConnect = runs.filter(([, at]) => !(at >= connectedAt));
    const claimed = beforeConnect[0]?.[0] === 0 ? beforeConnect.slice(1) : beforeConnect;
    const ok = claimed.length === 0 ? expected === 0 : claimed.length === 1 && claimed[0]![0] === expected;
    if (!ok) glitches.push(`boot ${index + 1}: committed ${committed}, levels ${levels}`);
  });

  let desiredUnanswered = 0;
  let desiredAnsweredTwice = 0;
  for (const desired of evidence.sent) {
    const answers = evidence.reports.filter((report) => report.desiredId === desired.desiredId);
    if (answers.length === 0) desiredUnanswered++;
    else if (new Set(answers.map((answer) => answer.messageId)).size > 1 || new Set(answers.map((answer) => answer.payload)).size > 1) {
      desiredAnsweredTwice++;
    }
  }

  const byObservation = new Map<string, Set<string>>();
  for (const reading of evidence.readings) {
    const key = `${reading.observedAt}|${reading.value}`;
    byObservation.set(key, (byObservation.get(key) ?? new Set()).add(reading.messageId));
  }
  const readingDuplicates = [...byObservation.values()].filter((ids) => ids.size > 1).length;

  // Each printed edge against the readings: same level, observed within 250 ms of the flip. What a
  // cut may cost is the tail of a boot's edges, never one from before a reading that arrived.
  const readings = evidence.readings.map((reading) => ({
    value: Number.parseFloat(reading.value),
    at: Date.parse(reading.observedAt ?? ""),
    used: false,
  }));
  let edgesDriven = 0;
  let readingsLostBeforeDelivered = 0;
  let readingsLostUncommitted = 0;
  const lostBeforeCutMs: number[] = [];
  for (const boot of evidence.boots) {
    // What the runtime read in this boot: each reading's level and observed time (in its message id).
    const read = boot.lines.flatMap((line) => {
      const match = /sensor\.reading .*value=(\S+) cause=edge message_id=sensor-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z/.exec(
        line.text,
      );
      if (!match) return [];
      const [, value, year, month, day, hour, minute, second, ms] = match.map((part) => part ?? "");
      return [{
        value: Number.parseFloat(value!),
        at: Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), Number(ms)),
      }];
    });
    let lostSoFar = 0;
    for (const line of boot.lines) {
      if (!line.text.startsWith("edge ")) continue;
      edgesDriven++;
      const [, level, at] = line.text.split(" ");
      const flippedAt = Number(at);
      const match = readings.find((reading) => !reading.used && reading.value === Number(level) && Math.abs(reading.at - flippedAt) <= 250);
      if (match) {
        match.used = true;
        readingsLostBeforeDelivered += lostSoFar;
        lostSoFar = 0;
      } else {
        lostSoFar++;
        lostBeforeCutMs.push(boot.cutAt === undefined ? Number.POSITIVE_INFINITY : boot.cutAt - line.at);
        if (read.some((reading) => reading.value === Number(level) && Math.abs(reading.at - flippedAt) <= 250)) readingsLostUncommitted++;
      }
    }
  }
  // A reading sent from the outbox was on the disk: whatever the cut, it must arrive.
  const delivered = new Set(evidence.readings.map((reading) => reading.messageId));
  const committedReadingsLost = evidence.boots.flatMap((boot) =>
    boot.lines.flatMap((line) => {
      const id = /feed\.publish .*message_id="?(sensor-[^"\s]+)/.exec(line.text)?.[1];
      return id && !delivered.has(id) ? [id] : [];
    })
  );
  const unique = new Set(evidence.readings.map((reading) => `${reading.observedAt}|${reading.value}`));
  return {
    seed: evidence.seed,
    cuts: evidence.cuts,
    cutsWhileStarting: evidence.cutsWhileStarting,
    bootsChecked: evidence.boots.length,
    integrityFailures,
    glitches,
    bootsNeverOnline,
    bootsRestoringOn,
    desiredSent: evidence.sent.length,
    desiredUnanswered,
    desiredAnsweredTwice,
    edgesDriven,
    readingsReceived: unique.size,
    readingDuplicates,
    readingsLost: lostBeforeCutMs.length,
    lostBeforeCutMs,
    readingsLostBeforeDelivered,
    readingsLostUncommitted,
    committedReadingsLost,
    readingsUnmatched: readings.filter((reading) => !reading.used).length,
    bootToOnlineMs,
    wallMs: evidence.wallMs,
  };
}

/** Each promise the campaign found broken, in a line; none when the board kept them all. */
export function brokenPromises(figures: CampaignFigures): string[] {
  return [
    ...figures.integrityFailures.map((failure) => `a damaged database at ${failure}`),
    ...figures.glitches.map((glitch) => `a relay glitch at ${glitch}`),
    ...(figures.bootsNeverOnline > 0 ? [`${figures.bootsNeverOnline} boot(s) never came online`] : []),
    ...(figures.desiredUnanswered > 0 ? [`${figures.desiredUnanswered} desired state(s) never answered`] : []),
    ...(figures.desiredAnsweredTwice > 0 ? [`${figures.desiredAnsweredTwice} desired state(s) answered twice`] : []),
    ...(figures.readingDuplicates > 0 ? [`${figures.readingDuplicates} observation(s) delivered under two ids`] : []),
    ...(figures.readingsLostBeforeDelivered > 0 ? [`${figures.readingsLostBeforeDelivered} reading(s) lost before one that arrived`] : []),
    ...figures.committedReadingsLost.map((id) => `reading ${id} lost after it was committed`),
  ];
}

/** The figures as the lines a test or the script prints. */
export function describeFigures(figures: CampaignFigures): string {
  const median = (
    values: readonly number[],
  ) => (values.length === 0 ? 0 : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
  const lost = figures.lostBeforeCutMs;
  return [
    `power cuts: ${figures.cuts} (${figures.cutsWhileStarting} while the runtime started), seed ${figures.seed}, ${
      (figures.wallMs / 60_000).toFixed(1)
    } min`,
    `boots checked: ${figures.bootsChecked}; integrity failures: ${figures.integrityFailures.length}; relay glitches: ${figures.glitches.length} (${figures.bootsRestoringOn} boots restored it on); boots never online: ${figures.bootsNeverOnline}; power on → online p50 ${
      (median(figures.bootToOnlineMs) / 1000).toFixed(1)
    } s`,
    `desired states: ${figures.desiredSent} sent, ${figures.desiredUnanswered} unanswered, ${figures.desiredAnsweredTwice} answered twice`,
    `readings: ${figures.edgesDriven} edges driven, ${figures.readingsReceived} observations received, ${figures.readingDuplicates} under two ids, ${figures.readingsUnmatched} unmatched`,
    `readings lost: ${figures.readingsLost} of ${figures.edgesDriven}${
      lost.length === 0
        ? ""
        : ` (${
          figures.readingsLost - figures.readingsLostUncommitted
        } not yet read from the kernel, ${figures.readingsLostUncommitted} read but not yet committed; flipped ${
          Math.round(median(lost))
        } ms before their cut at the median, ${Math.round(Math.max(...lost))} ms at most)`
    }; lost before a delivered one: ${figures.readingsLostBeforeDelivered}; lost after being committed: ${figures.committedReadingsLost.length}`,
    ...figures.integrityFailures.map((failure) => `  integrity: ${failure}`),
    ...figures.glitches.map((glitch) => `  glitch: ${glitch}`),
  ].join("\n");
}
