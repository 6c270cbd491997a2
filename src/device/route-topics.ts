// Where each configured route reports, by its config key: its catalog feed-data topic once a
// catalog binds it. Before the first catalog (an input claimed at boot drives its output with no
// network yet) reports go under a placeholder the outbox moves to the real topic later; a route
// the catalog then lacks reports nowhere.
import { routeKey } from "../config/schema.ts";
import { PLACEHOLDER_PREFIX } from "../outbox/types.ts";

export { PLACEHOLDER_PREFIX } from "../outbox/types.ts";

/** The routes' topics, by config key (see the file's opening comment). */
export class RouteTopics {
  readonly #bound = new Map<string, string>();
  #catalogRead = false;

  /** The placeholder of a route key. */
  static placeholder(key: string): string {
    return `${PLACEHOLDER_PREFIX}${key}`;
  }

  /** The route key a placeholder stands for, or undefined for a real topic. */
  static keyOf(topic: string): string | undefined {
    return topic.startsWith(PLACEHOLDER_PREFIX) ? topic.slice(PLACEHOLDER_PREFIX.length) : undefined;
  }

  /** Where a route reports now: its topic, its placeholder before any catalog, or nowhere. */
  topicOf(key: string): string | undefined {
    return this.#bound.get(key) ?? (this.#catalogRead ? undefined : RouteTopics.placeholder(key));
  }

  /** Notes the catalog's bindings: from now on a route without one reports nowhere. */
  bind(
    bindings: readonly {
      readonly config: Parameters<typeof routeKey>[0];
      readonly route: { readonly mqtt: { readonly feed_data_topic: string } };
    }[],
  ): void {
    for (const binding of bindings) this.#bound.set(routeKey(binding.config), binding.route.mqtt.feed_data_topic);
    this.#catalogRead = true;
  }
}
