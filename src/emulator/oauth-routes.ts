import { Hono } from "hono";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { type EmulatorDeps } from "./context.ts";
import { hashSecret } from "./state.ts";

/** Every scope of section 2; the emulator lets each device hold all of them. */
export const ALL_SCOPES = [
  "iot:catalog:read",
  "iot:mqtt:connect",
  "iot:mqtt:ack:read",
  "iot:mqtt:feed-data:write",
  "iot:mqtt:desired:read",
  "iot:feed-data:write",
  "iot:desired-state:read",
] as const;

const TOKEN_LIFETIME = { expiresIn: 3600, renewAfter: 2700 };

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** `POST /oauth/token` (client credentials, HTTP Basic) and `POST /oauth/revoke`, RFC 6749/7009 shaped. */
export function oauthRoutes(deps: EmulatorDeps): Hono {
  const app = new Hono();

  const authenticate = (header: string | undefined) => {
    const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
    if (!match) return undefined;
    const decoded = Buffer.from(match[1] ?? "", "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const clientId = decodeURIComponent(decoded.slice(0, colon));
    const secret = decodeURIComponent(decoded.slice(colon + 1));
    const device = [...deps.state.devices.values()].find((candidate) => candidate.clientId === clientId);
    return device && sameSecret(device.secretHash, hashSecret(secret)) ? device : undefined;
  };

  app.post("/oauth/token", async (c) => {
    const device = authenticate(c.req.header("authorization"));
    if (!device) {
      c.header("WWW-Authenticate", 'Basic realm="realer"');
      return c.json({ error: "invalid_client", error_description: "client authentication failed" }, 401);
    }
    const type = c.req.header("content-type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      return c.json({ error: "invalid_request", error_description: "the body must be application/x-www-form-urlencoded" }, 400);
    }
    const form = new URLSearchParams(await c.req.text());
    if (form.get("grant_type") !== "client_credentials") {
      return c.json({ error: "unsupported_grant_type", error_description: "only client_credentials is supported" }, 400);
    }
    const asked = (form.get("scope") ?? "").split(" ").filter((scope) => scope.length > 0);
    const unknown = asked.filter((scope) => !(ALL_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) {
      return c.json({ error: "invalid_scope", error_description: `scope not allowed: ${unknown.join(" ")}` }, 400);
    }
    const scopes = asked.length > 0 ? asked : [...ALL_SCOPES];
    const token = `rat_${randomBytes(32).toString("base64url")}`;
    deps.state.tokens.set(token, {
      deviceId: device.deviceId,
      scopes,
      expiresAt: deps.now() + TOKEN_LIFETIME.expiresIn * 1000,
    });
    deps.logger.info("token.issued", { device_id: device.deviceId, scope: scopes.join(" ") });
    return c.json({
      access_token: token,
      token_type: "Bearer",
      expires_in: TOKEN_LIFETIME.expiresIn,
      renew_after: TOKEN_LIFETIME.renewAfter,
      scope: scopes.join(" "),
    });
  });

  app.post("/oauth/revoke", async (c) => {
    if (!authenticate(c.req.header("authorization"))) {
      return c.json({ error: "invalid_client", error_description: "client authentication failed" }, 401);
    }
    const token = new URLSearchParams(await c.req.text()).get("token");
    if (token) deps.state.tokens.delete(token);
    return c.body(null, 200);
  });

  return app;
}
