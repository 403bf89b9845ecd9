/**
 * Wraps `run` so it never overlaps itself: a call while a run is in progress returns
 * that run's promise and asks for one more run after it, however many such calls
 * came. For reconciling to "the latest" state from a stream of change notices (each
 * run reads the state afresh, so the notices that landed during one fold into one
 * more). A failed run rejects the calls waiting on it; the next call runs again.
 */
export function coalesce(run: () => Promise<void>): Coalesced {
  let running: Promise<void> | undefined;
  let again = false;
  const call = (): Promise<void> => {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await run();
      } while (again);
    })().finally(() => (running = undefined));
    return running;
  };
  return Object.assign(call, { settled: () => (running ?? Promise.resolve()).catch(() => undefined) });
}

/** A coalesced run: call it to ask for a run; `settled()` waits out the one in progress (its failure ignored), as a close must. */
export type Coalesced = (() => Promise<void>) & { settled(): Promise<void> };
