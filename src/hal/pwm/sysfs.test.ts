import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { RealerError } from "../../errors.ts";
import { ManualClock } from "../../manual-clock.ts";
import { FakePwmSysfs } from "../../../test/helpers/fake-pwm-sysfs.ts";
import { describePwmConformance } from "./conformance.ts";
import { SysfsPwmBackend } from "./sysfs.ts";

/** Moves the clock on in 20 ms steps until `promise` settles (at most 1,000 steps): however many turns the claim takes between its sleeps. */
async function advanceUntil(clock: ManualClock, promise: Promise<unknown>): Promise<void> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 1_000 && !settled; i++) {
    await clock.advance(20);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

const fresh = () => {
  const kernel = new FakePwmSysfs();
  kernel.addChip("pwmchip0", 2);
  return kernel;
};

let kernel = fresh();
describePwmConformance({
  name: "sysfs over a simulated kernel",
  open: () => Promise.resolve(new SysfsPwmBackend({ root: (kernel = fresh()).root, files: kernel })),
  state: (ref) => kernel.state(ref.chip, ref.channel),
  history: (ref) => kernel.history(ref.chip, ref.channel),
  channels: [{ chip: "pwmchip0", channel: 0 }, { chip: "pwmchip0", channel: 1 }],
  missingChip: "pwmchip9",
  failNextSet: () => kernel.failNextWrite("duty_cycle", "EIO"),
});

describe("SysfsPwmBackend", () => {
  const ref = { chip: "pwmchip0", channel: 1 };

  it("exports, sets period and duty with the channel disabled, then enables: in that order", async () => {
    const sysfs = fresh();
    const backend = new SysfsPwmBackend({ root: sysfs.root, files: sysfs });
    await backend.request(ref, { periodNs: 20_000, dutyNs: 5_000 }, "test");
    assert.deepEqual(sysfs.writes, [
      "pwmchip0/export=1",
      "pwmchip0/pwm1/period=20000",
      "pwmchip0/pwm1/duty_cycle=5000",
      "pwmchip0/pwm1/enable=1",
    ]);
  });

  it("takes over a channel an earlier run left running with one duty write, never stopping it", async () => {
    const sysfs = fresh();
    await new SysfsPwmBackend({ root: sysfs.root, files: sysfs }).request(ref, { periodNs: 20_000, dutyNs: 5_000 }, "old run");
    sysfs.writes.length = 0;
    await new SysfsPwmBackend({ root: sysfs.root, files: sysfs }).request(ref, { periodNs: 20_000, dutyNs: 8_000 }, "new run");
    assert.deepEqual(sysfs.writes, ["pwmchip0/pwm1/duty_cycle=8000"]);
  });

  it("changing polarity on a running channel must disable it first (the kernel refuses otherwise)", async () => {
    const sysfs = fresh();
    await new SysfsPwmBackend({ root: sysfs.root, files: sysfs }).request(ref, { periodNs: 20_000, dutyNs: 5_000 }, "old run");
    sysfs.writes.length = 0;
    await new SysfsPwmBackend({ root: sysfs.root, files: sysfs }).request(
      ref,
      { periodNs: 20_000, dutyNs: 5_000, polarity: "inversed" },
      "new",
    );
    assert.deepEqual(sysfs.writes, ["pwmchip0/pwm1/enable=0", "pwmchip0/pwm1/polarity=inversed", "pwmchip0/pwm1/enable=1"]);
  });

  it("waits while udev gives a new export's files their group, then claims", async () => {
    const sysfs = fresh();
    sysfs.udevDelay = 3;
    const clock = new ManualClock(0);
    const backend = new SysfsPwmBackend({ root: sysfs.root, files: sysfs, clock });
    const claiming = backend.request(ref, { periodNs: 1_000, dutyNs: 0 }, "test");
    await advanceUntil(clock, claiming);
    await claiming;
    assert.equal(sysfs.state("pwmchip0", 1)?.enabled, true);
  });

  it("gives up on files that stay unwritable, with one line naming the channel", async () => {
    const sysfs = fresh();
    sysfs.udevDelay = 1_000;
    const clock = new ManualClock(0);
    const backend = new SysfsPwmBackend({ root: sysfs.root, files: sysfs, clock, permissionWaitMs: 100 });
    const claiming = assert.rejects(backend.request(ref, { periodNs: 1_000, dutyNs: 0 }, "test"), (error: unknown) => {
      assert.ok(error instanceof RealerError && error.kind === "permission", String(error));
      assert.match(error.message, /^Cannot request PWM pwmchip0\/1: .*permission denied$/);
      return true;
    });
    await advanceUntil(clock, claiming);
    await claiming;
  });

  it("a channel a kernel driver holds is busy", async () => {
    const sysfs = new FakePwmSysfs();
    sysfs.addChip("pwmchip0", 2, { driverHeld: [1] });
    const backend = new SysfsPwmBackend({ root: sysfs.root, files: sysfs });
    await assert.rejects(backend.request(ref, { periodNs: 1_000, dutyNs: 0 }, "test"), /busy \(held by a kernel driver\)/);
  });

  it("reads back the duty the driver really set", async () => {
    const sysfs = new FakePwmSysfs();
    sysfs.addChip("pwmchip0", 2, { stepNs: 52 });
    const backend = new SysfsPwmBackend({ root: sysfs.root, files: sysfs });
    await using channel = await backend.request(ref, { periodNs: 1_000_000, dutyNs: 0 }, "test");
    await channel.setDuty(1_000);
    assert.equal((await channel.read()).dutyNs, 988);
  });

  it("lists chips in number order with their channel counts", async () => {
    const sysfs = new FakePwmSysfs();
    sysfs.addChip("pwmchip10", 1);
    sysfs.addChip("pwmchip2", 4);
    const chips = await new SysfsPwmBackend({ root: sysfs.root, files: sysfs }).listChips();
    assert.deepEqual(chips.map((chip) => [chip.name, chip.channels]), [["pwmchip2", 4], ["pwmchip10", 1]]);
  });
});

describe("SysfsPwmBackend on real files", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("drives an exported channel's files with node:fs", async () => {
    dir = mkdtempSync(join(tmpdir(), "pwm-"));
    const channelDir = join(dir, "pwmchip0", "pwm0");
    mkdirSync(channelDir, { recursive: true });
    writeFileSync(join(dir, "pwmchip0", "npwm"), "1\n");
    for (const [name, text] of [["period", "0"], ["duty_cycle", "0"], ["polarity", "normal"], ["enable", "0"]]) {
      writeFileSync(join(channelDir, name!), `${text}\n`);
    }
    const backend = new SysfsPwmBackend({ root: dir });
    await using channel = await backend.request({ chip: "pwmchip0", channel: 0 }, { periodNs: 10_000, dutyNs: 2_500 }, "test");
    assert.equal(readFileSync(join(channelDir, "period"), "utf8"), "10000");
    assert.equal(readFileSync(join(channelDir, "enable"), "utf8"), "1");
    await channel.setDuty(7_500);
    assert.equal((await channel.read()).dutyNs, 7_500);
  });
});
