// Request/response over a Node IPC channel (a forked child, or `process` inside it), both ways.

/** Strips the signature and session token from anything that might quote a token. */
export function redact(text) {
  return String(text).replace(
    /(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s'"]*/gi,
    '$1[redacted]',
  );
}

/**
 * @param {{ send: Function, on: Function }} channel
 * @param {Record<string, (args: any) => unknown>} [handlers]
 */
export function rpc(channel, handlers = {}) {
  let nextId = 0;
  /** @type {Map<number, { resolve: Function, reject: Function }>} */
  const pending = new Map();
  channel.on('message', async (msg) => {
    if (msg?.rpc !== 1) return;
    if (msg.reply !== undefined) {
      const waiter = pending.get(msg.reply);
      pending.delete(msg.reply);
      if (msg.error !== undefined) waiter?.reject(new Error(msg.error));
      else waiter?.resolve(msg.result);
      return;
    }
    const handler = handlers[msg.cmd];
    try {
      if (!handler) throw new Error(`no handler for ${msg.cmd}`);
      const result = await handler(msg.args);
      channel.send({ rpc: 1, reply: msg.id, result });
    } catch (err) {
      channel.send({ rpc: 1, reply: msg.id, error: redact(err?.stack ?? err) });
    }
  });
  return {
    call(cmd, args) {
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        channel.send({ rpc: 1, id, cmd, args });
      });
    },
    rejectAll(reason) {
      for (const waiter of pending.values()) waiter.reject(reason);
      pending.clear();
    },
  };
}
