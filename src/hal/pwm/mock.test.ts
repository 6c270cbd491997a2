import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePwmConformance } from "./conformance.ts";
import { MockPwmBackend } from "./mock.ts";

let current = new MockPwmBackend();
describePwmConformance({
  name: "mock",
  open: () => Promise.resolve(current = new MockPwmBackend()),
  state: (ref) => {
    const { periodNs, dutyNs, polarity, enabled } = current.channelState(ref);
    return { periodNs, dutyNs, polarity, enabled };
  },
  history: (ref) => current.history(ref),
  channels: [{ chip: "pwmchip0", channel: 0 }, { chip: "pwmchip0", channel: 1 }],
  missingChip: "pwmchip9",
  failNextSet: (ref) => current.failNextSet(ref),
});

describe("MockPwmBackend", () => {
  it("rounds the duty down to the driver's step, as a hardware clock does", async () => {
    const backend = new MockPwmBackend([{ name: "pwmchip0", channels: 1, stepNs: 52 }]);
    await using channel = await backend.request({ chip: "pwmchip0", channel: 0 }, { periodNs: 1_000_000, dutyNs: 0 }, "test");
    await channel.setDuty(1_000);
    assert.equal((await channel.read()).dutyNs, 988);
  });

  it("shows the share of each period the pin is high, inversed or not", async () => {
    const backend = new MockPwmBackend();
    await backend.request({ chip: "pwmchip0", channel: 0 }, { periodNs: 1_000, dutyNs: 250 }, "test");
    await backend.request({ chip: "pwmchip0", channel: 1 }, { periodNs: 1_000, dutyNs: 250, polarity: "inversed" }, "test");
    assert.equal(backend.channelState({ chip: "pwmchip0", channel: 0 }).high, 0.25);
    assert.equal(backend.channelState({ chip: "pwmchip0", channel: 1 }).high, 0.75);
  });

  it("fails reads and writes with EIO while faulted, and heals", async () => {
    const backend = new MockPwmBackend();
    const ref = { chip: "pwmchip0", channel: 0 };
    await using channel = await backend.request(ref, { periodNs: 1_000, dutyNs: 0 }, "test");
    backend.failChannel(ref, { read: true, set: true });
    await assert.rejects(channel.read(), /EIO/);
    await assert.rejects(channel.setDuty(10), /EIO/);
    backend.failChannel(ref, {});
    await channel.setDuty(10);
    assert.equal((await channel.read()).dutyNs, 10);
  });
});
