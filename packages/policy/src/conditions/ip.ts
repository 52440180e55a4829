import { isIP } from 'node:net';
import { textOf } from '../variables.js';
import type { OperatorFamily } from './family.js';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  bytes: number[];
}

/** A range: an address and how many leading bits must equal it. */
export interface IpRange extends IpAddress {
  prefix: number;
}

/**
 * An IPv4 or IPv6 address as bytes. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`, as dual-stack
 * sockets report IPv4 clients) is read as IPv4.
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const t = text.trim();
  const kind = isIP(t);
  if (kind === 4) return { bytes: t.split('.').map(Number) };
  if (kind !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
  if (mapped?.[1]) return parseIpAddress(mapped[1]);
  return { bytes: ipv6Bytes(t) };
}

function ipv6Bytes(text: string): number[] {
  let groups: string[];
  let tail: number[] = [];
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4?.[1]) {
    tail = v4[1].split('.').map(Number);
    t = `${t.slice(0, -v4[1].length)}0:0`;
  }
  const [head = '', rest] = t.split('::');
  const left = head ? head.split(':') : [];
  if (rest === undefined) groups = left;
  else {
    const right = rest ? rest.split(':') : [];
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  }
  const bytes = groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or one address (`/32` or `/128`). */
export function parseIpRange(text: string): IpRange | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  // A range is written plainly: no IPv4 address in IPv6 form, no zone.
  if (isIP(address) === 0) return undefined;
  const ip = parseIpAddress(address);
  if (!ip) return undefined;
  const bits = ip.bytes.length * 8;
  if (prefixText === undefined) return { ...ip, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= bits ? { ...ip, prefix } : undefined;
}

/** Whether `address` is inside `range` (an IPv4 address is never inside an IPv6 range). */
export function inRange(address: IpAddress, range: IpRange): boolean {
  if (address.bytes.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.prefix; bit++) {
    const i = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((address.bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

const within = (request: string, range: IpRange) => {
  const address = parseIpAddress(request);
  return address !== undefined && inRange(address, range);
};

/** `IpAddress` / `NotIpAddress`: IPv4 and IPv6 addresses and CIDR ranges. */
export const IP: OperatorFamily<IpRange> = {
  expects: 'an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)',
  variables: false,
  parse: (pieces) => parseIpRange(textOf(pieces)),
  operators: {
    IpAddress: { negated: false, matches: within },
    NotIpAddress: { negated: true, matches: within },
  },
};
