// The MQTT link with no broker and no waiting: the emulator's HTTPS app answers in process (its
// credential endpoint stubbed, since that one administers a broker), sessions are fakes, and a
// manual clock moves renewals and backoff.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fetchCatalog } from "../cloud/catalog.ts";
import { RealerError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { deviceApi, inProcessCloud, turnsUntil } from "../../test/helpers/in-process-cloud.ts";
import { type LinkSession, MqttLink } from "./link.ts";
import type { SessionEnd, SessionOptions, SubscribeResult } from "./session.ts";

const RENEW_AFTER_S = 600;

/** A broker session that stays up until the test drops it or the link ends it. */
class FakeSession implements LinkSession {
  readonly closed: Promise<SessionEnd>;
  readonly subscribed: string[] = [];
  ended = 0;
  #close: (end: SessionEnd) => void = () => {};

  constructor(readonly options: SessionOptions) {
    this.closed = new Promise((resolve) => (this.#close = resolve));
  }

  publish(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(topics: readonly string[]): Promise<SubscribeResult[]> {
    this.subscribed.push(...topics);
    return Promise.resolve(topics.map((topic) => ({ topic, granted: true, reasonCode: 1 })));
  }

  end(): Promise<void> {
    this.ended++;
    this.#close({ reason: "ended by the device", reasonCode: undefined });
    return Promise.resolve();
  }

  /** The broker goes away (a keepalive timeout, a restart). */
  drop(): void {
    this.#close({ reason: "connection lost", reasonCode: undefined });
  }
}

const { emulator, fetch: inProcess, remove } = inProcessCloud("link");
after(remove);

async function setup(options: { failConnects?: number } = {}) {
  const device = emulator.provision([{ source_type: "command", kind: "relay", pin_port: "6" }]);
  const clock = new ManualClock(Date.now());
  let issued = 0;
  const fetchStub = ((input: string | URL | Request, init?: RequestInit) => {
    if (String(input).endsWith("/mqtt-credentials")) {
      issued++;
      return Promise.resolve(
        Response.json({
          mqtt: {
            mqtt_client_id: `client-${issued}`,
            mqtt_username: `user-${issued}`,
            mqtt_credential: `password-${issued}`,
            renew_after: RENEW_AFTER_S,
            expires_in: 900,
          },
        }),
      );
    }
    return inProcess(input, init);
  }) as typeof fetch;
  const { api, tokens } = deviceApi(device, fetchStub, clock);
  const catalog = await fetchCatalog(api, await tokens.get(), device.device_id);
  const sessions: FakeSession[] = [];
  const events: string[] = [];
  let failures = options.failConnects ?? 0;
  const link = new MqttLink({
    api,
    tokens,
    catalog,
    ca: undefined,
    clock,
    logger: silentLogger,
    topics: ["acks", "desired"],
    onOnline: () => events.push("online"),
    onOffline: () => events.push("offline"),
    onMessage: () => {},
    backoff: { baseMs: 1000, capMs: 8000, slowMs: 60_000, random: () => 1 },
    connect: (sessionOptions) => {
      if (failures-- > 0) return Promise.reject(new RealerError("network", "Cannot connect: connection refused"));
      const session = new FakeSession(sessionOptions);
      sessions.push(session);
      return Promise.resolve(session);
    },
  });
  const stop = new AbortController();
  const running = link.run(stop.signal);

  return { clock, link, sessions, events, running, stop, issued: () => issued };
}

describe("MqttLink", () => {
  it("connects with exactly the credential it was issued, subscribes every topic, and is online", async () => {
    const { link, sessions, events, stop, running } = await setup();
    await turnsUntil("online", () => events.includes("online"));
    const [session] = sessions;
    assert.deepEqual([
      session?.options.credential.clientId,
      session?.options.credential.username,
      session?.options.credential.password.reveal(),
    ], ["client-1", "user-1", "password-1"]);
    assert.deepEqual(session?.subscribed, ["acks", "desired"]);
    assert.equal(link.status.connected, true);
    stop.abort();
    await running;
    assert.equal(session?.ended, 1, "the session is ended on stop");
  });

  it("renews at renew_after (plus at most 10% jitter): a new credential, a new connection, the old one ended", async () => {
    const { clock, link, sessions, issued, stop, running } = await setup();
    await turnsUntil("online", () => sessions.length === 1);
    await clock.advance(RENEW_AFTER_S * 1000 - 1);
    assert.equal(sessions.length, 1, "not before renew_after");
    // The jitter is drawn from the injected random (1 here: the most, 10% of the lifetime up to 30 s).
    await clock.advance(30_000 - 1);
    await turnsUntil("a renewal that is not due", () => true);
    assert.equal(sessions.length, 1, "the jitter comes from the injected random, not Math.random");
    await clock.advance(RENEW_AFTER_S * 100 + 1 - (30_000 - 1));
    await turnsUntil("the renewed connection", () => sessions.length === 2);
    assert.equal(sessions[0]?.ended, 1);
    assert.equal(sessions[1]?.options.credential.clientId, "client-2");
    assert.deepEqual(sessions[1]?.subscribed, ["acks", "desired"], "subscribed again");
    assert.deepEqual([link.status.renewals, link.status.reconnects, issued()], [1, 1, 2]);
    stop.abort();
    await running;
  });

  it("after a lost connection asks for a new credential, waits its backoff, reconnects and resubscribes", async () => {
    const { clock, link, sessions, events, issued, stop, running } = await setup();
    await turnsUntil("online", () => sessions.length === 1);
    sessions[0]!.drop();
    await turnsUntil("offline", () => events.includes("offline"));
    await clock.advance(999);
    assert.equal(sessions.length, 1, "waits the first backoff step (1 s)");
    await clock.advance(1);
    await turnsUntil("reconnected", () => sessions.length === 2);
    assert.deepEqual(events, ["online", "offline", "online"]);
    assert.deepEqual([sessions[1]?.options.credential.clientId, issued()], ["client-2", 2], "never the old password again");
    assert.deepEqual(sessions[1]?.subscribed, ["acks", "desired"]);
    assert.equal(link.status.reconnects, 1);
    stop.abort();
    await running;
  });

  it("keeps trying a broker that refuses, doubling its wait up to the cap, and connects when it answers", async () => {
    const { clock, sessions, issued, stop, running } = await setup({ failConnects: 4 });
    // Refused at once, then after waits of 1, 2, 4 and 8 s (the cap).
    for (const waitMs of [1000, 2000, 4000, 8000]) {
      await turnsUntil("the link to wait", () => clock.sleeping > 0);
      await clock.advance(waitMs - 1);
      assert.equal(sessions.length, 0, `still waiting out ${waitMs} ms`);
      await clock.advance(1);
    }
    await turnsUntil("connected", () => sessions.length === 1);
    assert.equal(issued(), 5, "a credential for every attempt: none is reused after a failure");
    stop.abort();
    await running;
  });
});
