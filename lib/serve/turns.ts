/**
 * One large piece of main-thread work per event-loop turn.
 *
 * Under load many request bodies finish arriving in the same poll phase; parsing them back to back (a few ms of
 * JSON.parse each for bodies of a few hundred kB) stalls the loop for all of them together — a health probe or a
 * small request then waits behind hundreds of parses (1.7 s at 512 connections with 538 kB bodies before this).
 * `nextTurn()` hands out turns in arrival order, one per loop iteration (setImmediate re-armed from the check
 * phase runs in the next iteration, after the poll phase has taken the I/O that arrived meanwhile), so the loop
 * never waits on more than one such parse at a time. Work below `TURN_BYTES` runs at once.
 */

/** Bodies of this many bytes or more wait for their turn before they are parsed on the main thread. */
export const TURN_BYTES = 64 * 1024;

const waiting: Array<() => void> = [];
let armed = false;

function pump(): void {
  const next = waiting.shift();
  if (next) next(); // its continuation (the parse) runs in this immediate's microtasks
  if (waiting.length > 0) setImmediate(pump);
  else armed = false;
}

/** Resolves when it is this caller's turn (FIFO, one per event-loop iteration). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!armed) {
      armed = true;
      setImmediate(pump);
    }
  });
}

/** How many callers wait for a turn (for tests and metrics). */
export function turnsWaiting(): number {
  return waiting.length;
}
