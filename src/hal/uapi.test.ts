import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeChipInfo,
  decodeLineEvents,
  decodeLineInfo,
  decodeLineValue,
  encodeLineConfig,
  encodeLineRequest,
  encodeLineValues,
  FLAG,
  SIZE,
} from "./uapi.ts";

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// Offsets from <linux/gpio.h> as printed by offsetof() on x86_64 and arm64 (feasibility §3).
describe("GPIO v2 uAPI encoding", () => {
  it("claims an output with its value in the same request, so the line never glitches", () => {
    const bytes = encodeLineRequest(17, "realer-edge", { direction: "output", activeLow: true, drive: "open-drain", outputValue: 1 });
    const data = view(bytes);
    assert.equal(bytes.byteLength, 592);
    assert.equal(data.getUint32(0, true), 17, "offsets[0]");
    assert.equal(new TextDecoder().decode(bytes.subarray(256, 267)), "realer-edge");
    assert.equal(data.getBigUint64(288, true), FLAG.OUTPUT | FLAG.ACTIVE_LOW | FLAG.OPEN_DRAIN, "config.flags");
    assert.equal(data.getUint32(296, true), 1, "config.num_attrs");
    assert.equal(data.getUint32(320, true), 2, "attrs[0].id = OUTPUT_VALUES");
    assert.equal(data.getBigUint64(328, true), 1n, "attrs[0].values");
    assert.equal(data.getBigUint64(336, true), 1n, "attrs[0].mask: the request's first line");
    assert.equal(data.getUint32(560, true), 1, "num_lines");
    assert.ok(bytes.subarray(300, 320).every((byte) => byte === 0), "padding stays zero, or the kernel answers EINVAL");
  });

  it("asks for edges, bias and a debounce period in microseconds", () => {
    const data = view(encodeLineRequest(3, "x", { direction: "input", bias: "pull-up", edge: "both", debounceMs: 40 }));
    assert.equal(
      data.getBigUint64(288, true),
      FLAG.INPUT | FLAG.BIAS_PULL_UP | FLAG.EDGE_RISING | FLAG.EDGE_FALLING | FLAG.EVENT_CLOCK_REALTIME,
    );
    assert.equal(data.getUint32(320, true), 3, "attrs[0].id = DEBOUNCE");
    assert.equal(data.getUint32(328, true), 40_000);
    const old = view(encodeLineRequest(3, "x", { direction: "input", edge: "rising" }, false));
    assert.equal(old.getBigUint64(288, true), FLAG.INPUT | FLAG.EDGE_RISING, "no realtime clock for kernels before 5.11");
  });

  it("cuts a long consumer name to 31 bytes and a NUL", () => {
    const bytes = encodeLineRequest(0, "c".repeat(40), { direction: "input" });
    assert.equal(bytes[256 + 30], 0x63);
    assert.equal(bytes[256 + 31], 0);
  });

  it("reconfigures with a line config of 272 bytes, and sets and reads bit 0 of the values", () => {
    const config = encodeLineConfig({ direction: "output", outputValue: 0 });
    assert.equal(config.byteLength, SIZE.lineConfig);
    assert.equal(view(config).getUint32(8, true), 1);
    assert.equal(view(config).getBigUint64(40, true), 0n, "value 0 is still sent, so the level is explicit");
    const values = encodeLineValues(1);
    assert.deepEqual([view(values).getBigUint64(0, true), view(values).getBigUint64(8, true)], [1n, 1n]);
    assert.equal(decodeLineValue(values), 1);
  });

  it("decodes chip info, line info and whole edge events", () => {
    const chip = new Uint8Array(68);
    chip.set(new TextEncoder().encode("gpiochip0"), 0);
    chip.set(new TextEncoder().encode("pinctrl-bcm2711"), 32);
    view(chip).setUint32(64, 58, true);
    assert.deepEqual(decodeChipInfo(chip), { name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58 });

    const info = new Uint8Array(256);
    info.set(new TextEncoder().encode("RELAY1"), 0);
    info.set(new TextEncoder().encode("sysfs"), 32);
    view(info).setUint32(64, 17, true);
    view(info).setUint32(68, 1, true);
    view(info).setBigUint64(72, FLAG.USED | FLAG.OUTPUT, true);
    view(info).setUint32(80, 3, true);
    view(info).setUint32(88, 5000, true);
    assert.deepEqual(decodeLineInfo(info), {
      name: "RELAY1",
      consumer: "sysfs",
      offset: 17,
      flags: FLAG.USED | FLAG.OUTPUT,
      debounceUs: 5000,
    });

    const events = new Uint8Array(48 * 2 + 10);
    view(events).setBigUint64(0, 1_700_000_000_123_000_000n, true);
    view(events).setUint32(8, 1, true);
    view(events).setUint32(12, 4, true);
    view(events).setUint32(16, 1, true);
    view(events).setUint32(48 + 8, 2, true);
    view(events).setUint32(48 + 16, 2, true);
    const decoded = decodeLineEvents(events, events.byteLength);
    assert.deepEqual(
      decoded.map((event) => [event.kind, event.offset, event.seqno]),
      [["rising", 4, 1], ["falling", 0, 2]],
      "a partial third event is ignored",
    );
    assert.equal(decoded[0]!.timestampNs, 1_700_000_000_123_000_000n);
  });
});
