// The emulator's HTTPS API, called in process through its hono app (no network, no broker).
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Emulator } from "./emulator.ts";

const emulator = new Emulator({ stateDir: mkdtempSync(join(tmpdir(), "realer-emu-")) });
const device = emulator.provision([{ source_type: "command", pin_port: "6" }, { source_type: "sensor", pin_port: "5" }]);
const sensorOnly = emulator.provision([{ source_type: "sensor" }]);

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const form = "application/x-www-form-urlencoded";

async function token(scope?: string, who = device): Promise<string> {
  const response = await emulator.app.request("/oauth/token", {
    method: "POST",
    headers: { authorization: basic(who.client_id, who.client_secret), "content-type": form },
    body: `grant_type=client_credentials${scope === undefined ? "" : `&scope=${encodeURIComponent(scope)}`}`,
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("emulator POST /oauth/token", () => {
  it("answers the five fields for good client credentials", async () => {
    const response = await emulator.app.request("/oauth/token", {
      method: "POST",
      headers: { authorization: basic(device.client_id, device.client_secret), "content-type": form },
      body: "grant_type=client_credentials&scope=iot%3Acatalog%3Aread",
    });
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "renew_after", "scope", "token_type"]);
    assert.deepEqual([body.token_type, body.expires_in, body.renew_after, body.scope], ["Bearer", 3600, 2700, "iot:catalog:read"]);
  });

  it("refuses a wrong secret with 401 invalid_client", async () => {
    const response = await emulator.app.request("/oauth/token", {
      method: "POST",
      headers: { authorization: basic(device.client_id, "wrong"), "content-type": form },
      body: "grant_type=client_credentials",
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, "invalid_client");
  });

  it("refuses other grants and unknown scopes with RFC 6749 errors", async () => {
    const headers = { authorization: basic(device.client_id, device.client_secret), "content-type": form };
    const grant = await emulator.app.request("/oauth/token", { method: "POST", headers, body: "grant_type=password" });
    assert.deepEqual([grant.status, ((await grant.json()) as { error: string }).error], [400, "unsupported_grant_type"]);
    const scope = await emulator.app.request("/oauth/token", {
      method: "POST",
      headers,
      body: "grant_type=client_credentials&scope=iot%3Aadmin",
    });
    assert.deepEqual([scope.status, ((await scope.json()) as { error: string }).error], [400, "invalid_scope"]);
  });
});

describe("emulator GET /iot/v1/devices/{device_id}/mqtt", () => {
  it("answers the catalog in the documented shape", async () => {
    const response = await emulator.app.request(`/iot/v1/devices/${device.device_id}/mqtt`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    const catalog = (await response.json()) as {
      code: number;
      mqtt: Record<string, unknown>;
      mqtt_routes: { source_type: string; mqtt: Record<string, string> }[];
    };
    assert.equal(catalog.code, 2000);
    assert.deepEqual(Object.keys(catalog.mqtt).sort(), [
      "broker_url",
      "client_id",
      "credential_endpoint",
      "feed_data_ack_topic",
      "limits",
      "protocol",
    ]);
    assert.deepEqual(catalog.mqtt.credential_endpoint, {
      endpoint: "/iot/v1/mqtt-credentials",
      http_method: "POST",
      body: {
        device_id: device.device_id,
        scopes: ["iot:mqtt:connect", "iot:mqtt:ack:read", "iot:mqtt:feed-data:write", "iot:mqtt:desired:read"],
      },
    });
    const [command, sensor] = catalog.mqtt_routes;
    assert.ok(command?.mqtt.desired_topic && !("desired_topic" in (sensor?.mqtt ?? {})));
  });

  it("leaves desired:read out of a sensor-only device's credential request", async () => {
    const response = await emulator.app.request(`/iot/v1/devices/${sensorOnly.device_id}/mqtt`, {
      headers: { authorization: `Bearer ${await token(undefined, sensorOnly)}` },
    });
    const catalog = (await response.json()) as { mqtt: { credential_endpoint: { body: { scopes: string[] } } } };
    assert.ok(!catalog.mqtt.credential_endpoint.body.scopes.includes("iot:mqtt:desired:read"));
  });

  it("answers 401 code 4001 without a token and 403 code 4003 without the scope", async () => {
    const none = await emulator.app.request(`/iot/v1/devices/${device.device_id}/mqtt`);
    assert.deepEqual([none.status, ((await none.json()) as { code: number }).code], [401, 4001]);
    const narrow = await emulator.app.request(`/iot/v1/devices/${device.device_id}/mqtt`, {
      headers: { authorization: `Bearer ${await token("iot:mqtt:connect")}` },
    });
    assert.deepEqual([narrow.status, ((await narrow.json()) as { code: number }).code], [403, 4003]);
  });

  it("keeps one device's token out of another device's catalog", async () => {
    const response = await emulator.app.request(`/iot/v1/devices/${sensorOnly.device_id}/mqtt`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    assert.deepEqual([response.status, ((await response.json()) as { code: number }).code], [403, 4003]);
  });

  it("omits credential_endpoint when MQTT is not offered to the device", async () => {
    emulator.mqttWithheld.add(device.device_id);
    try {
      const response = await emulator.app.request(`/iot/v1/devices/${device.device_id}/mqtt`, {
        headers: { authorization: `Bearer ${await token()}` },
      });
      assert.ok(!("credential_endpoint" in ((await response.json()) as { mqtt: object }).mqtt));
    } finally {
      emulator.mqttWithheld.delete(device.device_id);
    }
  });
});

describe("emulator POST /iot/v1/mqtt-credentials", () => {
  it("refuses scopes the token does not hold", async () => {
    const response = await emulator.app.request("/iot/v1/mqtt-credentials", {
      method: "POST",
      headers: { authorization: `Bearer ${await token("iot:mqtt:connect")}`, "content-type": "application/json" },
      body: JSON.stringify({ device_id: device.device_id, scopes: ["iot:mqtt:connect", "iot:mqtt:desired:read"] }),
    });
    assert.deepEqual([response.status, ((await response.json()) as { code: number }).code], [403, 4003]);
  });
});
