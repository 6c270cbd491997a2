// What keeps a web page elsewhere from driving the console through the user's browser: the Host
// a request names (DNS rebinding turns a foreign name into 127.0.0.1), the Origin of anything
// that changes state, a bound on request bodies, and headers that keep the page in its frame.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

/** The largest request body the console reads: a local change is a few dozen bytes. */
export const MAX_BODY_BYTES = 4096;

/** The Content-Security-Policy: no inline script, nothing from elsewhere, never in a frame. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A Host or Origin host name without port and brackets, lower case. */
function hostName(hostAndPort: string): string {
  const host = hostAndPort.trim().toLowerCase();
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]") > 0 ? host.indexOf("]") : undefined);
  const colon = host.lastIndexOf(":");
  return colon > 0 && host.indexOf(":") === colon ? host.slice(0, colon) : host;
}

/**
 * Whether a Host header's name may reach the console. An address literal cannot be a rebinding
 * (the browser sends the name the page used, and no attacker's page is served from a bare
 * address of this device); names must be loopback ones, the bound host, or `allowed`.
 */
export function isAllowedHost(hostHeader: string, bound: string, allowed: readonly string[]): boolean {
  const name = hostName(hostHeader);
  if (name === "") return false;
  if (IPV4.test(name) || name.includes(":")) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  return name === bound.toLowerCase() || allowed.some((entry) => entry.toLowerCase() === name);
}

/** Refuses requests whose Host is not this console's (421), and state changes from another origin (403). */
export function requestGuard(bound: string, allowed: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const host = c.req.header("host") ?? url.host;
    if (!isAllowedHost(host, bound, allowed)) {
      return c.json({ error: "this console does not answer to that host name (add it to console.allowed_hosts)" }, 421);
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      const site = c.req.header("sec-fetch-site");
      // No Origin: a script or curl, not a browser page. An Origin must be this console itself;
      // "null" (a privacy-minded navigation) passes only with the browser's own word,
      // Sec-Fetch-Site, which no page can set.
      const ownNull = origin === "null" && site === "same-origin";
      const foreignOrigin = origin !== undefined && !ownNull && safeHost(origin) !== host.toLowerCase();
      const foreignSite = site !== undefined && site !== "same-origin" && site !== "none";
      if (foreignOrigin || foreignSite) {
        return c.json({ error: "changes are taken only from this console's own page" }, 403);
      }
    }
    await next();
  };
}

function safeHost(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return "";
  }
}

/** Bodies over {@linkcode MAX_BODY_BYTES} are refused unread, with 413. */
export function bodyBound(): MiddlewareHandler {
  return bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: `the request body is over ${MAX_BODY_BYTES} bytes` }, 413) });
}

/** The headers every answer carries. */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set("content-security-policy", CONTENT_SECURITY_POLICY);
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("x-frame-options", "DENY");
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the token form.
    c.res.headers.set("referrer-policy", "same-origin");
    c.res.headers.set("cache-control", "no-store");
  };
}
