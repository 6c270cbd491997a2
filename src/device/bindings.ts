import type { CatalogRoute } from "../cloud/catalog.ts";
import type { RouteConfig } from "../config/schema.ts";
import { RealerError } from "../errors.ts";

/** A catalog route bound to a line from the config. */
export interface Binding {
  readonly route: CatalogRoute;
  readonly config: RouteConfig;
  /** The route's stable key in the device store: its feed-data topic. */
  readonly key: string;
  /** A short name for logs: source id, pin port or topic. */
  readonly name: string;
}

/** The result of binding: what is bound, and what is left over on either side. */
export interface BindResult {
  readonly bindings: readonly Binding[];
  /** Catalog routes no config entry names. */
  readonly unbound: readonly CatalogRoute[];
  /** Config entries that name no catalog route. */
  readonly unused: readonly RouteConfig[];
}

function matches(config: RouteConfig, route: CatalogRoute): boolean {
  if (config.source_id !== undefined) return route.source_id === config.source_id;
  if (config.pin_port !== undefined) return route.pin_port === config.pin_port;
  return route.mqtt.feed_data_topic === config.feed_data_topic;
}

function describeConfig(config: RouteConfig): string {
  if (config.source_id !== undefined) return `source_id ${config.source_id}`;
  if (config.pin_port !== undefined) return `pin_port ${config.pin_port}`;
  return `feed_data_topic ${config.feed_data_topic}`;
}

/** Binds catalog routes to config lines by `source_id`, `pin_port` or `feed_data_topic`. */
export function bindRoutes(routes: readonly CatalogRoute[], configs: readonly RouteConfig[]): BindResult {
  const bindings: Binding[] = [];
  const unused: RouteConfig[] = [];
  const taken = new Map<CatalogRoute, RouteConfig>();
  for (const config of configs) {
    const found = routes.filter((route) => matches(config, route));
    if (found.length === 0) {
      unused.push(config);
      continue;
    }
    if (found.length > 1) {
      throw new RealerError(
        "config",
        `Cannot bind routes: ${describeConfig(config)} matches ${found.length} catalog routes; bind by source_id instead`,
      );
    }
    const route = found[0]!;
    const earlier = taken.get(route);
    if (earlier) {
      throw new RealerError(
        "config",
        `Cannot bind routes: ${describeConfig(config)} and ${describeConfig(earlier)} both name route ${route.mqtt.feed_data_topic}`,
      );
    }
    taken.set(route, config);
    bindings.push({
      route,
      config,
      key: route.mqtt.feed_data_topic,
      name: route.source_id ?? (route.pin_port === undefined ? route.mqtt.feed_data_topic : `pin_port ${route.pin_port}`),
    });
  }
  return { bindings, unbound: routes.filter((route) => !taken.has(route)), unused };
}
