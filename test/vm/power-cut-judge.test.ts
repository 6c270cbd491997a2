// The power-cut campaign's judge, on evidence made by hand: each fault it must find, it finds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BootRecord, type Evidence, judge, type Received } from "./power-cut-campaign.ts";

const boot = (cutAt: number | undefined, ...texts: string[]): BootRecord =>
  ({
    lines: texts.map((text, index) => ({ text, at: index * 100 })),
    startedAt: 0,
    onlineAt: texts.includes("online") ? texts.indexOf("online") * 100 : undefined,
    ...(cutAt === undefined ? {} : { cutAt }),
  }) as BootRecord;
const report = (messageId: string, desiredId: string, value = "1.0"): Received => ({
  messageId,
  desiredId,
  value,
  payload: JSON.stringify({ messageId, desiredId, value }),
});
const reading = (messageId: string, value: string, observedAt: number): Received => ({
  messageId,
  value,
  observedAt: new Date(observedAt).toISOString(),
  payload: JSON.stringify({ messageId, value, observedAt }),
});
const evidence = (parts: Partial<Evidence>): Evidence => ({
  seed: 1,
  cuts: 1,
  cutsWhileStarting: 0,
  boots: [],
  sent: [],
  reports: [],
  readings: [],
  wallMs: 0,
  ...parts,
});

describe("power-cut judge", () => {
  it("passes a clean campaign: restored on, answered once, every edge read", () => {
    const figures = judge(evidence({
      boots: [
        boot(5000, "integrity none", "committed none", "levels 0@1 connected@500", "online", "edge 1 1000000", "edge 0 1000300"),
        boot(undefined, "integrity ok", "committed 1", "levels 0@1,1@200 connected@500", "online"),
      ],
      sent: [{ desiredId: "d1", value: "1.0" }],
      reports: [report("m1", "d1"), report("m1", "d1")], // the same report redelivered is not a second answer
      readings: [reading("r1", "1.0", 1000010), reading("r2", "0.0", 1000305)],
    }));
    assert.deepEqual(figures.glitches, []);
    assert.deepEqual(figures.integrityFailures, []);
    assert.equal(figures.desiredUnanswered, 0);
    assert.equal(figures.desiredAnsweredTwice, 0);
    assert.equal(figures.readingsLost, 0);
    assert.equal(figures.readingDuplicates, 0);
    assert.equal(figures.bootsRestoringOn, 1);
    assert.equal(figures.edgesDriven, 2);
  });

  it("finds a relay that showed another level than its committed one before the runtime connected", () => {
    const figures = judge(evidence({
      boots: [
        boot(1, "integrity ok", "committed 0", "levels 0@1,1@200,0@210 connected@500", "online"),
        boot(1, "integrity ok", "committed 1", "levels 0@1,1@200,0@210,1@220 connected@500", "online"),
        boot(1, "integrity ok", "committed 1", "levels 0@1 connected@500", "online"),
        boot(1, "integrity ok", "committed 1", "levels 0@1,1@600 connected@500", "online"),
        boot(1, "integrity ok", "committed 0", "levels 0@1,1@200 connected@500", "online"),
        // not glitches: the committed level at the claim, then desired states once connected
        boot(1, "integrity ok", "committed 1", "levels 1@1 connected@500", "online"),
        boot(1, "integrity ok", "committed 0", "levels 0@1,1@600,0@700 connected@500", "online"),
        boot(1, "integrity ok", "committed 1", "levels 0@1,1@200,0@600 connected@500", "online"),
      ],
    }));
    assert.deepEqual(figures.glitches.map((glitch) => glitch.split(":")[0]), ["boot 1", "boot 2", "boot 3", "boot 4", "boot 5"]);
  });

  it("finds a damaged database and a boot that never came online", () => {
    const figures = judge(
      evidence({
        boots: [
          boot(
            undefined,
            "integrity *** in database main *** Page 7: btreeInitPage() returns error code 11",
            "committed none",
            "levels 0@1 connected@500",
          ),
        ],
      }),
    );
    assert.equal(figures.integrityFailures.length, 1);
    assert.equal(figures.bootsNeverOnline, 1);
  });

  it("finds a desired state answered under two message ids, and one never answered", () => {
    const figures = judge(evidence({
      sent: [{ desiredId: "d1", value: "1.0" }, { desiredId: "d2", value: "0.0" }],
      reports: [report("m1", "d1"), report("m2", "d1")],
    }));
    assert.equal(figures.desiredAnsweredTwice, 1);
    assert.equal(figures.desiredUnanswered, 1);
  });

  it("finds one observation delivered under two ids, and says how close to its cut a lost reading was flipped", () => {
    const figures = judge(evidence({
      boots: [boot(900, "online", "edge 1 2000000", "edge 0 2000400")],
      readings: [reading("r1", "1.0", 2000002), reading("r9", "1.0", 2000002)],
    }));
    assert.equal(figures.readingDuplicates, 1);
    assert.equal(figures.readingsLost, 1);
    assert.deepEqual(figures.lostBeforeCutMs, [900 - 200]);
    assert.equal(figures.readingsLostBeforeDelivered, 0, "the boot's last reading is what a cut may cost");
  });

  it("tells a lost reading the runtime had read (not yet committed) from one it never read", () => {
    const figures = judge(evidence({
      boots: [
        boot(
          900,
          "online",
          "edge 1 1796019344214",
          "log 06:15:44.230 info  [device] sensor.reading route=r value=1.0 cause=edge message_id=sensor-20261130T061544219Z-79058f6c",
          "edge 0 1796019344600",
        ),
      ],
    }));
    assert.equal(figures.readingsLost, 2);
    assert.equal(figures.readingsLostUncommitted, 1);
  });

  it("finds a hole: a reading lost before one that arrived", () => {
    const figures = judge(evidence({
      boots: [boot(900, "online", "edge 1 2000000", "edge 0 2000400")],
      readings: [reading("r2", "0.0", 2000401)],
    }));
    assert.equal(figures.readingsLost, 1);
    assert.equal(figures.readingsLostBeforeDelivered, 1);
  });

  it("finds a reading lost after the runtime sent it from its outbox", () => {
    const figures = judge(evidence({
      boots: [
        boot(900, "online", 'log 06:15:44.300 debug [device] feed.publish topic="t" message_id="sensor-20261130T061544219Z-79058f6c"'),
      ],
      readings: [reading("sensor-20261130T061544475Z-a83d7e8a", "0.0", 1)],
    }));
    assert.deepEqual(figures.committedReadingsLost, ["sensor-20261130T061544219Z-79058f6c"]);
  });
});
