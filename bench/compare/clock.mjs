// A controllable wall clock for the churn scenario: replaces the global Date (constructor, Date(),
// Date.now) with the real clock plus an offset that the scenario advances. Install it before the
// libraries under test are imported so that every `new Date()` / `Date.now()` they make, including
// the AWS SDK's signing date and credential-expiry checks, sees simulated time. performance.now(),
// timers and TLS certificate checks keep real time.

export function installClock() {
  const RealDate = Date;
  let offsetMs = 0;
  const now = () => RealDate.now() + offsetMs;
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget);
    },
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return now;
      return Reflect.get(target, prop, receiver);
    },
  });
  return {
    now,
    get offsetMs() {
      return offsetMs;
    },
    advance(ms) {
      offsetMs += ms;
    },
  };
}
