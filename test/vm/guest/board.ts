// Runs on the board image under systemd (a unit of its own, see realer-board-test.service): installs
// the Debian package and runs realer-edge as its service the way a user would, against the emulator
// on the host (10.0.2.2), on gpio-sim lines. Prints for the host:
//   BOARD ok|fail <check>[: <why>]     BOARD measure <name> <value>     BOARD done
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../../src/platform/index.ts";
import { samplePin, simPull, simValue } from "./gpio-sim.ts";
import { acksOf, type BoardPayload, HERE, operatorApi, readPayload, reporter, run, runAsync, show, sleep, waitFor } from "./board-kit.ts";

const RELAY = 6;
const SWITCH = 5;
const payload = readPayload<BoardPayload & { previous_deb: string; previous_version: string }>();
const operator = operatorApi(payload.operator);
const { say, check } = reporter("BOARD");
const acks = () => acksOf(operator, payload.device_id);
const feed = async () => ((await operator("GET", `/devices/${payload.device_id}/feed-data`)).feed_data as {
  sourceId: string;
  status: string;
  payload: { value: string };
}[]);

say(
  `booted: systemd ${run("systemctl", "--version").out.split("\n")[0]}, ${run("systemctl", "is-system-running").out}, uptime ${
    readFileSync("/proc/uptime", "utf8").split(" ")[0]
  } s`,
);

await check("dpkg -i installs the arm64 package", async () => {
  const installed = run("dpkg", "-i", join(HERE, payload.deb));
  return installed.status === 0 ? true : installed.out;
});

// The user's part: a config, the CA, the client secret for LoadCredential, then enable --now.
writeFileSync("/etc/realer-edge/device.json", readFileSync(join(HERE, "device.json")));
writeFileSync("/etc/realer-edge/ca.crt", readFileSync(join(HERE, "ca.crt")), { mode: 0o644 });
writeFileSync("/etc/realer-edge/client-secret", payload.secret, { mode: 0o600 });
const enabledAt = performance.now();
await check("systemctl enable --now brings the service to READY with a status text", async () => {
  const enabled = run("systemctl", "enable", "--now", "realer-edge.service");
  if (enabled.status !== 0) {
    return `systemctl enable --now: ${enabled.out} ${run("journalctl", "-u", "realer-edge", "-n", "30", "--no-pager", "-o", "cat").out}`;
  }
  const ready = await waitFor(() => show("ActiveState") === "active" && show("StatusText") !== "", 120_000);
  say(`measure enable-to-ready ${(performance.now() - enabledAt).toFixed(0)} ms; status "${show("StatusText")}"`);
  return ready
    ? true
    : `ActiveState ${show("ActiveState")}, SubState ${show("SubState")}, status "${show("StatusText")}": ${
      run("journalctl", "-u", "realer-edge", "-n", "30", "--no-pager", "-o", "cat").out
    }`;
});

await check("a desired state turns the gpio-sim relay on and its ack comes back accepted", async () => {
  await waitFor(() => show("StatusText").includes("online") || show("StatusText").includes("connected"), 60_000);
  const desired = await operator("POST", `/devices/${payload.device_id}/desired`, { source_id: payload.relay, value: "1.0" }) as {
    desired_id: string;
  };
  const on = await waitFor(() => simValue(RELAY) === 1, 30_000);
  const ack = await waitFor(async () => (await acks()).find((candidate) => candidate.desired_id === desired.desired_id), 30_000);
  return on && ack?.status === "accepted" ? true : `relay ${simValue(RELAY)}, ack ${JSON.stringify(ack)}, status "${show("StatusText")}"`;
});

await check("an input edge reaches the cloud as an accepted reading", async () => {
  simPull(SWITCH, 1);
  const reading = await waitFor(
    async () =>
      (await feed()).find((entry) => entry.sourceId === payload.switch && entry.payload.value === "1.0" && entry.status === "accepted"),
    30_000,
  );
  return reading ? true : JSON.stringify((await feed()).slice(-3));
});

await check(
  "the service writes its health for the updater to /run/realer-edge/health.json: ready, connected, acked, every desired state answered",
  async () => {
    const path = "/run/realer-edge/health.json";
    const report = await waitFor(() => {
      try {
        const parsed = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
        return parsed.ready === true && parsed.connected === true && Number(parsed.acked) >= 1 && Number(parsed.desired_answered) >= 1
          ? parsed
          : false;
      } catch {
        return false;
      }
    }, 60_000);
    if (!report) return `${path}: ${run("cat", path).out || "missing"}`;
    const tmpfs = run("findmnt", "-n", "-o", "FSTYPE", "--target", path).out.trim();
    return report.outputs_claimed === true && report.state_opened === true && report.desired_received === report.desired_answered &&
        tmpfs === "tmpfs"
      ? true
      : `${JSON.stringify(report)} on ${tmpfs}`;
  },
);

await check("systemctl kill -s KILL: Restart=on-failure brings it back, the relay held on throughout", async () => {
  const before = Number(show("NRestarts"));
  const sampler = samplePin(RELAY);
  // gpio-sim lets a line its holder released fall to its pull; a board's pin keeps its level
  // while nobody holds it. Pull the relay up, as the pin would stay, so that only the runtime's
  // own claim at restart can move it.
  simPull(RELAY, 1);
  const killedAt = performance.now();
  run("systemctl", "kill", "-s", "KILL", "realer-edge.service");
  const back = await waitFor(() => Number(show("NRestarts")) > before && show("ActiveState") === "active", 90_000);
  say(`measure kill-to-ready ${(performance.now() - killedAt).toFixed(0)} ms (RestartSec=5)`);
  await sleep(1000);
  const samples = await sampler.stop();
  const low = samples.filter((sample) => sample.value !== 1).length;
  say(`measure relay-samples-through-restart ${samples.length}, ${low} not on`);
  return back && low === 0
    ? true
    : `restarted ${Boolean(back)}, NRestarts ${show("NRestarts")}, ${low} of ${samples.length} samples not on`;
});

await check("a hung runtime (SIGSTOP) is killed by the watchdog and restarted", async () => {
  const before = Number(show("NRestarts"));
  const pid = Number(show("MainPID"));
  const stoppedAt = performance.now();
  process.kill(pid, "SIGSTOP");
  const back = await waitFor(() => Number(show("NRestarts")) > before && show("ActiveState") === "active", 120_000);
  say(`measure sigstop-to-ready ${(performance.now() - stoppedAt).toFixed(0)} ms (WatchdogSec ${show("WatchdogUSec")})`);
  const journal = run("journalctl", "-u", "realer-edge", "--no-pager", "-o", "cat").out;
  say(`measure watchdog-journal ${journal.split("\n").filter((line) => /atchdog|Main process|timed out/.test(line)).join(" | ")}`);
  return back && /[Ww]atchdog timeout/.test(journal)
    ? true
    : `restarted ${Boolean(back)}, main pid ${pid} now ${show("MainPID")}, state ${show("ActiveState")}/${show("SubState")}`;
});

await check("the client secret arrives through LoadCredential and is in no file the service wrote", async () => {
  const credential = `/run/credentials/realer-edge.service/client-secret`;
  const delivered = run("cat", credential).out === payload.secret;
  const written: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && readFileSync(path).includes(payload.secret)) written.push(path);
    }
  };
  walk("/var/lib/realer-edge");
  const journal = run("journalctl", "-u", "realer-edge", "--no-pager", "-o", "cat").out;
  if (journal.includes(payload.secret)) written.push("the journal");
  return delivered && written.length === 0 ? true : `credential delivered ${delivered}; secret found in ${written.join(", ")}`;
});

await check("systemctl stop ends within the stop timeout, and the journal holds the service's JSON lines", async () => {
  const started = performance.now();
  const stopped = run("systemctl", "stop", "realer-edge.service");
  const took = performance.now() - started;
  say(`measure stop ${took.toFixed(0)} ms (TimeoutStopSec ${show("TimeoutStopUSec")})`);
  const lines = run("journalctl", "-u", "realer-edge", "--no-pager", "-o", "cat").out.split("\n").filter((line) => line.startsWith("{"));
  const parsed = lines.filter((line) => {
    try {
      return typeof (JSON.parse(line) as { event?: unknown }).event === "string";
    } catch {
      return false;
    }
  });
  say(`measure journal-json-lines ${parsed.length}`);
  return stopped.status === 0 && took < 15_000 && show("Result") === "success" && parsed.length > 10
    ? true
    : `stop ${stopped.status} in ${took} ms, result ${show("Result")}, ${parsed.length} JSON lines`;
});

const security = run("systemd-analyze", "security", "--no-pager", "realer-edge.service").out.split("\n").at(-1) ?? "";
say(`measure security ${security}`);

await check(
  "dpkg --purge removes the program, its units and their enable links, its config, its state, the updater's slots and its user, and leaves the gpio group",
  async () => {
    const purged = run("dpkg", "--purge", "realer-edge");
    const left = [
      "/usr/bin/realer-edge",
      "/lib/systemd/system/realer-edge.service",
      "/etc/realer-edge/device.json",
      "/var/lib/realer-edge",
      "/var/lib/realer-edge-update",
      "/lib/systemd/system/realer-edge-update-poll.timer",
      "/etc/systemd/system/multi-user.target.wants/realer-edge.service",
      "/etc/systemd/system/timers.target.wants/realer-edge-update-poll.timer",
    ].filter((path) => {
      try {
        statSync(path);
        return true;
      } catch {
        return false;
      }
    });
    const user = run("getent", "passwd", "realer-edge").out;
    // and nothing else: the gpio group may serve others (Raspberry Pi OS's own users are in it)
    const group = run("getent", "group", "gpio").out;
    return purged.status === 0 && left.length === 0 && user === "" && group !== ""
      ? true
      : `purge ${purged.status} ${purged.out}; left: ${left.join(", ")}; user "${user}"; gpio group "${group}"`;
  },
);

/** What the service keeps on its disk: the ledger's answers, the outbox and the relay's restore value. */
async function kept(): Promise<{ answers: number; outbox: number; relay: number | undefined }> {
  const db = await openDatabase("/var/lib/realer-edge/realer-edge.sqlite", "power-cut");
  try {
    const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()!.n);
    const relay = db.prepare("SELECT value FROM line_state").get();
    return { answers: count("desired_ledger"), outbox: count("outbox"), relay: relay === undefined ? undefined : Number(relay.value) };
  } finally {
    db.close();
  }
}

// The upgrade, on a board where the previous release runs: 0.1.0 shipped no udev rule, so it needs
// the one Raspberry Pi OS has (/etc/udev/rules.d/99-com.rules) to open the chips.
await check("with Raspberry Pi OS's gpio rule, the previous release installs and applies a desired state", async () => {
  writeFileSync("/etc/udev/rules.d/99-com.rules", 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"\n');
  run("udevadm", "control", "--reload-rules");
  run("udevadm", "trigger", "--subsystem-match=gpio", "--action=change");
  run("udevadm", "settle");
  const installed = run("dpkg", "-i", join(HERE, payload.previous_deb));
  if (installed.status !== 0) return `dpkg -i ${payload.previous_deb}: ${installed.out}`;
  writeFileSync("/etc/realer-edge/device.json", readFileSync(join(HERE, "device.json")));
  writeFileSync("/etc/realer-edge/client-secret", payload.secret, { mode: 0o600 });
  const enabled = run("systemctl", "enable", "--now", "realer-edge.service");
  const ready = await waitFor(() => show("ActiveState") === "active" && show("StatusText").includes("connected"), 120_000);
  if (enabled.status !== 0 || !ready) {
    return `enable --now: ${enabled.out} ${run("journalctl", "-u", "realer-edge", "-n", "20", "--no-pager", "-o", "cat").out}`;
  }
  simPull(RELAY, 0);
  await operator("POST", `/devices/${payload.device_id}/desired`, { source_id: payload.relay, value: "0.0" });
  await waitFor(() => simValue(RELAY) === 0, 30_000);
  const desired = await operator("POST", `/devices/${payload.device_id}/desired`, { source_id: payload.relay, value: "1.0" }) as {
    desired_id: string;
  };
  const ack = await waitFor(async () => (await acks()).find((candidate) => candidate.desired_id === desired.desired_id), 30_000);
  return simValue(RELAY) === 1 && ack?.status === "accepted" ? true : `relay ${simValue(RELAY)}, ack ${JSON.stringify(ack)}`;
});

await check("an upgrade to this release keeps the config, the state and a running service, with the relay held on", async () => {
  const config = readFileSync("/etc/realer-edge/device.json", "utf8");
  const before = await kept();
  const pid = show("MainPID");
  simPull(RELAY, 1); // as a board's pin keeps its level between holders (see the KILL check)
  const sampler = samplePin(RELAY);
  const upgradedAt = performance.now();
  const upgraded = await runAsync("dpkg", "-i", join(HERE, payload.deb));
  const back = await waitFor(
    () => show("ActiveState") === "active" && show("MainPID") !== pid && show("StatusText").includes("connected"),
    90_000,
  );
  say(`measure upgrade-to-ready ${(performance.now() - upgradedAt).toFixed(0)} ms`);
  const samples = await sampler.stop();
  const after = await kept();
  const version = run("dpkg-query", "-W", "-f", "${Version}", "realer-edge").out;
  const low = samples.filter((sample) => sample.value !== 1).length;
  say(
    `measure upgrade ${payload.previous_version} -> ${version}: ledger ${before.answers} -> ${after.answers} answers, outbox ${before.outbox} -> ${after.outbox}, relay restore value ${before.relay} -> ${after.relay}, ${low} of ${samples.length} relay samples not on`,
  );
  const problems = [
    upgraded.status === 0 ? "" : `dpkg -i: ${upgraded.out}`,
    version === payload.previous_version ? "the version did not change" : "",
    readFileSync("/etc/realer-edge/device.json", "utf8") === config ? "" : "the config changed",
    back ? "" : `the service is ${show("ActiveState")}/${show("SubState")}, main pid ${show("MainPID")} (was ${pid})`,
    before.answers > 0 && after.answers >= before.answers ? "" : `the ledger went from ${before.answers} to ${after.answers} answers`,
    after.relay === 1 ? "" : `the relay's restore value is ${after.relay}`,
    low === 0 ? "" : `${low} relay samples not on`,
  ].filter((problem) => problem !== "");
  return problems.length === 0 ? true : problems.join("; ");
});

run("dpkg", "--purge", "realer-edge");
say("done");
run("systemctl", "poweroff");
