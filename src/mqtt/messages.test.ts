import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AckSchema, decodeJson, DesiredSchema, isFinal, parseMessage } from "./messages.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("decodeJson()", () => {
  it("decodes a JSON payload once, and says so in one line when it is not JSON", () => {
    assert.deepEqual(decodeJson(bytes('{"desired_id":"d1"}')), { ok: true, value: { desired_id: "d1" } });
    for (const text of ["", "not json", "{", '{"desired_id":']) {
      assert.deepEqual(decodeJson(bytes(text)), { ok: false, error: "payload is not JSON" }, text);
    }
  });
});

describe("parseMessage()", () => {
  it("names the first bad field", () => {
    const result = parseMessage(DesiredSchema, { desired_id: "d1", value: "1.0", sequence_number: 1.5 });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error, "sequence_number: sequence_number must be an integer");
    const missing = parseMessage(DesiredSchema, { value: "1.0", sequence_number: 1 });
    assert.equal(!missing.ok && missing.error, "desired_id: is required");
  });
});

describe("AckSchema", () => {
  it("takes the five statuses of the contract and nothing else, naming them", () => {
    for (const status of ["accepted", "replayed", "rejected", "conflict", "error"]) {
      assert.ok(parseMessage(AckSchema, { message_id: "m1", status }).ok, status);
    }
    const unknown = parseMessage(AckSchema, { message_id: "m1", status: "created" });
    assert.equal(!unknown.ok && unknown.error, "status: status must be one of accepted, replayed, rejected, conflict, error");
  });

  it("keeps fields it does not know out of the way (a newer server may add some)", () => {
    const ack = parseMessage(AckSchema, { message_id: "m1", status: "accepted", extra: { nested: true } });
    assert.ok(ack.ok);
    assert.equal(ack.ok && ack.value.status, "accepted");
  });

  it("treats every status but error as final", () => {
    assert.deepEqual((["accepted", "replayed", "rejected", "conflict", "error"] as const).filter(isFinal), [
      "accepted",
      "replayed",
      "rejected",
      "conflict",
    ]);
  });
});
