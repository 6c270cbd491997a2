// Runs inside the power-cut VM at every boot: checks the state database the last power cut left on
// the disk, starts the runtime (the compiled arm64 binary, cdev backend on gpio-sim lines, state on
// the virtio disk, the cloud on the host), samples the relay from before the runtime starts until it
// is online, then flips the switch input until the host cuts the power. Prints, for the host:
//   PC integrity <result>            PRAGMA integrity_check of the database found at boot
//   PC committed <value>|none        the relay's value in the database at boot
//   PC levels <level>@<ms>,… connected@<ms>   the relay's levels (wall time of each change) from
//                                    before the start until online, and when the runtime connected
//   PC online                        the runtime connected (MQTT)
//   PC edge <level> <epoch ms>       the switch was flipped (printed after the flip)
//   PC log <line>                    a runtime log line worth keeping (readings and their sends among them)
//   PC outbox <n>                    (the final boot, every second) messages still waiting to be acked
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { openDatabase } from "../../../src/platform/index.ts";
import { simPull, simValue } from "./gpio-sim.ts";

const BINARY = "/opt/realer-edge";
const DATABASE = "/data/state/realer-edge.sqlite";
const RELAY = 6;
const SWITCH = 5;
const final = readFileSync("/proc/cmdline", "utf8").includes("realer.final=1");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (text: string) => console.log(`PC ${text}`);

say(`boot uptime=${readFileSync("/proc/uptime", "utf8").split(" ")[0]} final=${final}`);

// 1. What the cut left on the disk, read before the runtime touches it.
if (existsSync(DATABASE)) {
  try {
    const db = await openDatabase(DATABASE, "power-cut");
    const integrity = db.prepare("PRAGMA integrity_check").all().map((row) => Object.values(row)[0]).join("; ");
    const rows = db.prepare("SELECT route, value FROM line_state").all();
    db.close();
    say(`integrity ${integrity}`);
    say(`committed ${rows.length === 0 ? "none" : String(rows[0]!.value)}`);
  } catch (error) {
    say(`integrity cannot-open ${(error as Error).message}`);
    say("committed none");
  }
} else {
  say("integrity none");
  say("committed none");
}

// 2. The relay sampled in a tight loop from before the runtime starts until it is online, each
// change with its wall time, to set against the moment the runtime says it connected (from then
// on, desired states queued while the board was down may move the relay).
const runs: { level: number; at: number }[] = [];
let sampling = true;
const sampler = (async () => {
  let count = 0;
  while (sampling) {
    const level = simValue(RELAY);
    if (runs.at(-1)?.level !== level) runs.push({ level, at: Date.now() });
    if (++count % 50 === 0) await sleep(0);
  }
})();
/** The wall time of a text log line ("HH:MM:SS.mmm …", UTC), on today's date. */
const logTime = (line: string): number | undefined => {
  const match = /^(\d\d):(\d\d):(\d\d)\.(\d\d\d) /.exec(line);
  if (!match) return undefined;
  const now = new Date();
  const at = Date.UTC(
    now.getUTCFullYear(),
    now.getUTCMonth(),
    now.getUTCDate(),
    Number(match[1]),
    Number(match[2]),
    Number(match[3]),
    Number(match[4]),
  );
  return at - now.getTime() > 12 * 3_600_000 ? at - 86_400_000 : at;
};

// (a reading's feed.publish, a debug line, is proof that it was committed: the outbox sends from the disk)
const KEEP =
  /line\.claimed|line\.power_on|mqtt\.connected|desired\.(applied|duplicate|invalid|deferred)|storage\.|outbox\.|clock\.|sensor\.reading|feed\.publish| (warn|error) /;
const started = performance.now();
const runtime: ChildProcess = spawn(BINARY, ["run", "--config", "/opt/device.json"], {
  env: { ...process.env, NO_COLOR: "1", REALER_CLIENT_SECRET: readFileSync("/opt/secret", "utf8").trim() },
  stdio: ["ignore", "pipe", "pipe"],
});
let online = false;
let connectedAt: number | undefined;
let partial = "";
const onOutput = (chunk: Buffer) => {
  const lines = (partial + chunk.toString()).split("\n");
  partial = lines.pop()!;
  for (const line of lines) {
    if (KEEP.test(line)) say(`log ${line}`);
    if (line.includes("mqtt.connected")) {
      online = true;
      connectedAt ??= logTime(line);
    }
  }
};
runtime.stdout!.on("data", onOutput);
runtime.stderr!.on("data", onOutput);
runtime.on("exit", (code, signal) => say(`log runtime exited ${code ?? signal}`));

while (!online && performance.now() - started < 180_000) await sleep(20);
sampling = false;
await sampler;
say(`levels ${runs.map((run) => `${run.level}@${run.at}`).join(",")} connected@${connectedAt ?? "never"}`);
if (!online) {
  say("never-online");
} else {
  say("online");
  if (!final) {
    // 3. The switch flips every 200–450 ms until the power goes.
    let level: 0 | 1 = 0;
    for (;;) {
      await sleep(200 + Math.floor(Math.random() * 250));
      level = level === 1 ? 0 : 1;
      simPull(SWITCH, level);
      say(`edge ${level} ${Date.now()}`);
    }
  }
}
// The final boot says how many messages still wait in the outbox, until the host has seen
// everything and powers it off.
for (;;) {
  await sleep(1000);
  try {
    const db = await openDatabase(DATABASE, "power-cut");
    const waiting = Number(db.prepare("SELECT count(*) AS n FROM outbox").get()?.n ?? -1);
    db.close();
    say(`outbox ${waiting}`);
  } catch (error) {
    say(`outbox unknown ${(error as Error).message}`);
  }
}
