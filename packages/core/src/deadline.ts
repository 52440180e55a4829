/** A pending deadline: fires `onExpire` once unless cancelled first. */
export interface Deadline {
  /** Stops it; `onExpire` will not run. */
  cancel(): void;
  /**
   * Lets it keep the process alive until it fires or is cancelled. A deadline starts unref'd, so that
   * a wait nobody awaits (a background refresh) never holds a process open; a caller that awaits the
   * outcome refs it, so that a short script awaiting a token is not ended by Node with the wait still
   * open.
   */
  ref(): void;
}

/**
 * Calls `onExpire` after `ms` milliseconds unless cancelled. The timer only bounds a wait: what it
 * abandons is decided by the caller.
 */
export function startDeadline(ms: number, onExpire: () => void): Deadline {
  const timer = setTimeout(onExpire, ms);
  timer.unref();
  return {
    cancel: () => clearTimeout(timer),
    ref: () => {
      timer.ref();
    },
  };
}
