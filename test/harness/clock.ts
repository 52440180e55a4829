/** Anything whose clock follows a {@link TestClock}: an emulator handle. */
export interface ClockFollower {
  setClockOffset(ms: number): void;
}

/**
 * One clock for a whole test: the emulator's clock offset and the token provider's `now` both read
 * it, so moving it moves time for the server that checks tokens and for the client that mints them.
 * It runs with real time (`Date.now() + offsetMs`): nothing waits, nothing is frozen.
 */
export interface TestClock {
  /** Wall clock in ms since the epoch: pass as a provider's `now`. */
  now(): number;
  /** How far this clock is ahead of real time, in ms. */
  readonly offsetMs: number;
  /** Moves time forward (or back, if negative) by `ms`, for every follower too. */
  advance(ms: number): void;
  /** Sets the offset from real time, for every follower too. */
  set(offsetMs: number): void;
  /** Makes `follower` (an emulator) track this clock from now on; returns a function that stops that. */
  follow(follower: ClockFollower): () => void;
}

/** A {@link TestClock} starting `offsetMs` ahead of real time (default 0). */
export function testClock(offsetMs = 0): TestClock {
  let offset = offsetMs;
  const followers = new Set<ClockFollower>();
  const publish = (): void => {
    for (const f of followers) f.setClockOffset(offset);
  };
  return {
    now: () => Date.now() + offset,
    get offsetMs() {
      return offset;
    },
    advance(ms) {
      offset += ms;
      publish();
    },
    set(ms) {
      offset = ms;
      publish();
    },
    follow(follower) {
      followers.add(follower);
      follower.setClockOffset(offset);
      return () => {
        followers.delete(follower);
      };
    },
  };
}
