// The long power-cut campaign on the arm64 VM:
//   npm run power-cut -- --cuts 50 [--seed N] [--evidence FILE.json]
// Prints each cut as it happens, then the campaign's figures; exits 1 when any promise broke.
import { parseArgs } from "node:util";
import { brokenPromises, describeFigures, runPowerCutCampaign } from "../test/vm/power-cut-campaign.ts";
import { vmUnavailable } from "../test/vm/qemu.ts";

const { values } = parseArgs({
  options: { cuts: { type: "string", default: "50" }, seed: { type: "string" }, evidence: { type: "string" } },
});
const cuts = Number(values.cuts);
if (!Number.isInteger(cuts) || cuts < 1) {
  console.error(`power-cut: --cuts must be a whole number of at least 1, got "${values.cuts}"`);
  process.exit(2);
}
const unavailable = vmUnavailable();
if (unavailable) {
  console.error(`power-cut: no arm64 VM here: ${unavailable}`);
  process.exit(2);
}
const figures = await runPowerCutCampaign({
  cuts,
  ...(values.seed ? { seed: Number(values.seed) } : {}),
  ...(values.evidence ? { evidenceFile: values.evidence } : {}),
  log: (line) => console.log(line),
});
console.log(describeFigures(figures));
const broken = brokenPromises(figures);
for (const line of broken) console.log(`power-cut: broken: ${line}`);
console.log(broken.length === 0 ? "power-cut: every promise held" : `power-cut: ${broken.length} broken promise(s)`);
process.exit(broken.length === 0 ? 0 : 1);
