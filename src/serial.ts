// One lock for work that must not overlap: an actuator's writes, an interlock group's
// activations, a route's desired states. Written once instead of three promise chains.

/** Runs a task once every task given before it has settled. */
export type Serial = <T>(task: () => Promise<T> | T) => Promise<T>;

/**
 * A queue of tasks run one at a time, in the order given: each starts once the one before it has
 * settled, whether it resolved or threw, and its own result (or error) goes to its caller only.
 */
export function serial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T> | T): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => {});
    return result;
  };
}
