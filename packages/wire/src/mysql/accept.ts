import type net from 'node:net';
import { type AcceptOptions, upgradeServerTls } from '../tls.js';
import {
  buildGreeting,
  type Greeting,
  type HandshakeResponse,
  parseHandshakeResponse,
} from './handshake.js';
import {
  Capability,
  frame,
  MalformedPacketError,
  type MysqlPacket,
  PacketReader,
} from './packets.js';
import { authModeNotSupported, badHandshake, packetsOutOfOrder } from './refusals.js';

/*
 * The server side of a MySQL / MariaDB connection phase, up to the client's HandshakeResponse41:
 *
 *   client                       server
 *                                <- greeting (seq 0)
 *     SSLRequest (1) ----------->   TLS upgrade (when offered)
 *     HandshakeResponse41 ------>   user, database, capabilities, attributes, auth data
 *
 * What follows (switching plugins, checking the password) is the caller's, through the
 * {@link MysqlServerSide} it gets back, which keeps the sequence ids in order.
 */

/** A refusal to send the client (an ERR packet at its sequence id), then close. */
export class MysqlRefusal extends Error {
  readonly seq: number;
  readonly payload: Buffer;
  constructor(seq: number, payload: Buffer) {
    super('refused');
    this.name = 'MysqlRefusal';
    this.seq = seq;
    this.payload = payload;
  }
}

/**
 * The server's side of one client connection during the handshake: sends at the next sequence id,
 * reads with the order checked.
 */
export class MysqlServerSide {
  socket: net.Socket;
  reader: PacketReader;
  tls = false;
  /** The sequence id of the last packet sent or received. */
  seq = 0;

  constructor(socket: net.Socket, maxPacketBytes: number) {
    this.socket = socket;
    this.reader = new PacketReader(socket, maxPacketBytes);
  }

  /** Sends `payload` as the next packet. */
  send(payload: Buffer): void {
    this.seq = (this.seq + 1) & 0xff;
    this.socket.write(frame(this.seq, payload));
  }

  /** The client's next packet; a {@link MysqlRefusal} (ERR 1156) when it is out of order. */
  async next(): Promise<MysqlPacket> {
    const packet = await this.reader.read();
    this.seq = (this.seq + 1) & 0xff;
    if (packet.seq !== this.seq) throw new MysqlRefusal(packet.seq + 1, packetsOutOfOrder());
    return packet;
  }

  /** A refusal at the next sequence id. */
  refusal(payload: Buffer): MysqlRefusal {
    return new MysqlRefusal(this.seq + 1, payload);
  }
}

/** Options of {@link acceptMysqlHandshake}. */
export interface MysqlAcceptOptions extends AcceptOptions {
  /** The greeting to send; CLIENT_SSL in it is what offers TLS. */
  readonly greeting: Greeting;
}

/**
 * Greets the client on `raw`, upgrades to TLS on its SSLRequest, and returns its
 * HandshakeResponse41 with the {@link MysqlServerSide} to continue on. Refusals (out-of-order
 * packets, a malformed response, a client without 4.1 protocol or pluggable auth) are thrown as
 * {@link MysqlRefusal}; a closed or flooding client as the reader's error.
 *
 * @example
 * ```ts
 * const { side, response } = await acceptMysqlHandshake(socket, { greeting, maxPacketBytes: 65_536 });
 * side.send(authSwitchRequest('mysql_clear_password'));
 * const token = (await side.next()).payload;
 * ```
 */
export async function acceptMysqlHandshake(
  raw: net.Socket,
  options: MysqlAcceptOptions,
): Promise<{ side: MysqlServerSide; response: HandshakeResponse }> {
  const side = new MysqlServerSide(raw, options.maxPacketBytes);
  raw.write(frame(0, buildGreeting(options.greeting)));
  for (let attempt = 0; attempt < 2; attempt++) {
    const packet = await side.next();
    let parsed: ReturnType<typeof parseHandshakeResponse>;
    try {
      parsed = parseHandshakeResponse(packet.payload);
    } catch (err) {
      if (err instanceof MalformedPacketError) throw side.refusal(badHandshake());
      throw err;
    }
    if (parsed.kind === 'response') {
      const needed = Capability.PROTOCOL_41 | Capability.PLUGIN_AUTH;
      if ((parsed.capabilities & needed) !== needed) throw side.refusal(authModeNotSupported());
      return { side, response: parsed };
    }
    if (side.tls || !options.secureContext) throw side.refusal(badHandshake());
    const secure = upgradeServerTls(raw, side.reader.detach(), options);
    side.socket = secure;
    side.tls = true;
    side.reader = new PacketReader(secure, options.maxPacketBytes);
  }
  throw side.refusal(badHandshake());
}
