import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { HttpError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { Secret } from "../secret.ts";
import { ApiClient } from "./api-client.ts";
import { fetchCatalog } from "./catalog.ts";
import { DEVICE_SCOPES, FIRST_SCOPES, HTTPS_RUNTIME_SCOPES, TokenSource, withToken } from "./oauth.ts";
import { IN_PROCESS_URL, inProcessCloud } from "../../test/helpers/in-process-cloud.ts";

// The emulator's app in process: no network, every request recorded.
const { emulator, fetch: inProcess, remove } = inProcessCloud("oauth");
after(remove);
const device = emulator.provision([{ source_type: "command" }]);
const api = new ApiClient(IN_PROCESS_URL, inProcess);
const clock = new ManualClock(1_000_000);
const tokenRequests = () => emulator.requests.filter((request) => request.path === "/oauth/token").length;
const source = (secret = device.client_secret) =>
  new TokenSource({
    api,
    clientId: device.client_id,
    clientSecret: new Secret(secret),
    scopes: DEVICE_SCOPES,
    clock,
    logger: silentLogger,
  });

describe("TokenSource", () => {
  it("reuses its token until renew_after, then gets a new one", async () => {
    const tokens = source();
    const before = tokenRequests();
    const first = await tokens.get();
    assert.equal((await tokens.get()).reveal(), first.reveal());
    assert.equal(tokenRequests() - before, 1);
    await clock.advance(2700 * 1000);
    assert.notEqual((await tokens.get()).reveal(), first.reveal());
    assert.equal(tokenRequests() - before, 2);
  });

  it("asks for more scopes only when told to, with a new token, and not again when it has them", async () => {
    const tokens = new TokenSource({
      api,
      clientId: device.client_id,
      clientSecret: new Secret(device.client_secret),
      scopes: FIRST_SCOPES,
      clock,
      logger: silentLogger,
    });
    const first = await tokens.get();
    assert.ok(!emulator.state.tokens.get(first.reveal())?.scopes.includes("iot:feed-data:write"));
    tokens.require(HTTPS_RUNTIME_SCOPES);
    const widened = await tokens.get();
    assert.notEqual(widened.reveal(), first.reveal(), "a token without them is not used again");
    assert.ok(emulator.state.tokens.get(widened.reveal())?.scopes.includes("iot:feed-data:write"));
    const before = tokenRequests();
    tokens.require(HTTPS_RUNTIME_SCOPES);
    assert.equal((await tokens.get()).reveal(), widened.reveal());
    assert.equal(tokenRequests(), before, "nothing new to ask for: no new token");
    assert.deepEqual([...tokens.scopes].sort(), [...DEVICE_SCOPES].sort());
  });

  it("asks once for concurrent callers", async () => {
    const tokens = source();
    const before = tokenRequests();
    await Promise.all([tokens.get(), tokens.get(), tokens.get()]);
    assert.equal(tokenRequests() - before, 1);
  });

  it("fails with invalid_client on a wrong secret, without the secret in the message", async () => {
    await assert.rejects(
      source("wrong-secret").get(),
      (error: unknown) =>
        error instanceof HttpError && error.status === 401 && /invalid_client/.test(error.message) &&
        !error.message.includes("wrong-secret"),
    );
  });
});

describe("withToken()", () => {
  it("gets a new token and retries once when the server says 401 / 4001", async () => {
    const tokens = source();
    await tokens.get();
    emulator.state.tokens.clear(); // the server forgot every token (a restart, a revocation)
    const before = tokenRequests();
    const catalog = await withToken(tokens, (token) => fetchCatalog(api, token, device.device_id));
    assert.equal(catalog.mqtt.client_id, device.client_id);
    assert.equal(tokenRequests() - before, 1);
  });

  it("does not retry other failures", async () => {
    const tokens = source();
    let calls = 0;
    await assert.rejects(withToken(tokens, () => {
      calls++;
      return Promise.reject(new HttpError({ method: "GET", url: "u", status: 403, code: 4003, reason: "no" }));
    }));
    assert.equal(calls, 1);
  });
});
