// One registry of the routes that take desired states: each command route's handler, found by
// its source_id (the HTTPS list's command_id) or by the desired topic of the catalog in use.
import type { Catalog, CatalogRoute } from "../cloud/catalog.ts";
import type { DesiredIntake } from "../https/link.ts";
import type { DesiredHandler } from "./desired-handler.ts";

/** The command routes' desired-state handlers, and which topic of the catalog in use reaches each. */
export class DesiredRoutes implements DesiredIntake {
  readonly #routes: { readonly route: CatalogRoute; readonly handler: DesiredHandler }[] = [];
  /** Desired topic → handler, for the catalog in use (see `useCatalog`). */
  #byTopic = new Map<string, DesiredHandler>();

  /** Registers a bound command route's handler, reachable through the catalog it came from. */
  add(route: CatalogRoute, handler: DesiredHandler): void {
    this.#routes.push({ route, handler });
    if (route.mqtt.desired_topic) this.#byTopic.set(route.mqtt.desired_topic, handler);
  }

  /** How many command routes take desired states. */
  get size(): number {
    return this.#routes.length;
  }

  /** The source ids of the registered routes (those that have one). */
  sourceIds(): string[] {
    return this.#routes.flatMap(({ route }) => (route.source_id === undefined ? [] : [route.source_id]));
  }

  /**
   * Takes a (new) catalog's desired topics: each handler is found by its route's source_id, else
   * by the topic it was bound with. Returns the topics to subscribe.
   */
  useCatalog(catalog: Catalog): string[] {
    const byTopic = new Map<string, DesiredHandler>();
    for (const route of catalog.mqtt_routes) {
      const topic = route.mqtt.desired_topic;
      if (topic === undefined) continue;
      const handler = this.#bySource(route.source_id) ?? this.#routes.find((entry) => entry.route.mqtt.desired_topic === topic)?.handler;
      if (handler) byTopic.set(topic, handler);
    }
    this.#byTopic = byTopic;
    return [...byTopic.keys()];
  }

  /** The handler a desired topic of the catalog in use reaches. */
  byTopic(topic: string): DesiredHandler | undefined {
    return this.#byTopic.get(topic);
  }

  #bySource(sourceId: string | undefined): DesiredHandler | undefined {
    return sourceId === undefined ? undefined : this.#routes.find((entry) => entry.route.source_id === sourceId)?.handler;
  }

  /** Hands an HTTPS desired state to the command it names; undefined when no route has that id. */
  deliverToCommand(commandId: string, desired: unknown): Promise<void> | undefined {
    return this.#bySource(commandId)?.handle(desired);
  }

  /** Stops every handler's retries (the runtime is stopping). */
  close(): void {
    for (const { handler } of this.#routes) handler.close();
  }
}
