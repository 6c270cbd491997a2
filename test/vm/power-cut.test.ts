// A short power-cut campaign on the arm64 VM (the long one: `npm run power-cut -- --cuts N`): the
// board loses power at random moments while the cloud on the host keeps running, and every boot
// and the end are checked. Runs once, under `bun test`; the figures are printed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runtimeName } from "../../src/platform/index.ts";
import { type CampaignFigures, describeFigures, runPowerCutCampaign } from "./power-cut-campaign.ts";
import { vmUnavailable } from "./qemu.ts";

const CUTS = Number(process.env.REALER_POWER_CUTS ?? 4);
const unavailable = vmUnavailable();
const skip = runtimeName === "deno"
  ? "the VM runs compiled arm64 binaries; bun test runs it once"
  : unavailable
  ? `SKIPPED loudly: no arm64 VM here: ${unavailable}`
  : false;
if (unavailable) console.warn(`\n*** The power-cut campaign is SKIPPED: ${unavailable} ***\n`);

describe(`power cuts on the arm64 VM (${CUTS} cuts, cloud on the host)`, { skip }, () => {
  let campaign: Promise<CampaignFigures> | undefined;
  const figures = () => (campaign ??= runPowerCutCampaign({
    cuts: CUTS,
    log: (line) => console.log(`power-cut: ${line}`),
  }).then((result) => {
    console.log(describeFigures(result));
    return result;
  }));
  const options = { timeout: Math.max(1_500_000, CUTS * 90_000) };

  it("every boot finds an intact database (PRAGMA integrity_check ok)", options, async () => {
    const result = await figures();
    assert.equal(result.bootsChecked, CUTS + 1);
    assert.deepEqual(result.integrityFailures, []);
  });
  it("every boot comes online again", options, async () => {
    assert.equal((await figures()).bootsNeverOnline, 0);
  });
  it("the relay comes up in its committed state, with no other level before the runtime connects", options, async () => {
    assert.deepEqual((await figures()).glitches, []);
  });
  it("every desired state sent is answered, and none twice", options, async () => {
    const result = await figures();
    assert.ok(result.desiredSent > 0, "the cloud sent no desired state");
    assert.equal(result.desiredUnanswered, 0);
    assert.equal(result.desiredAnsweredTwice, 0);
  });
  it("no observation is delivered under two message ids", options, async () => {
    const result = await figures();
    assert.ok(result.readingsReceived > 0, "no reading arrived");
    assert.equal(result.readingDuplicates, 0);
  });
  it("readings lost are only a boot's last ones, none of them committed", options, async () => {
    const result = await figures();
    assert.ok(result.edgesDriven > 0, "no edge was driven");
    assert.equal(result.readingsLostBeforeDelivered, 0, "a reading was lost before one that arrived");
    assert.deepEqual(result.committedReadingsLost, [], "readings sent from the outbox before the cut never arrived");
  });
});
