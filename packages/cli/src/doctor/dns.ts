import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RdsEndpoint } from '@rds-iam/core';
import { messageOf } from '../errors.js';
import type { Check } from './check.js';

/**
 * The `dns` check: the host resolves within `timeoutMs` (an IP address needs no lookup); RDS names that
 * resolve to private addresses only are pointed out.
 */
export async function dnsCheck(
  host: string,
  endpoint: RdsEndpoint | undefined,
  timeoutMs: number,
): Promise<Check> {
  if (isIP(host)) {
    return { id: 'dns', status: 'pass', detail: `${host} is an IP address (no lookup)` };
  }
  try {
    const addresses = await withTimeout(lookup(host, { all: true }), timeoutMs, 'DNS lookup');
    const list = addresses.map((a) => a.address);
    const privateOnly = endpoint !== undefined && list.every(isPrivate);
    return {
      id: 'dns',
      status: 'pass',
      detail: `${host} -> ${list.join(', ')}${privateOnly ? ' (private addresses: reachable only from the VPC, a peered network or a VPN)' : ''}`,
    };
  } catch (err) {
    return {
      id: 'dns',
      status: 'fail',
      detail: `${host} does not resolve: ${messageOf(err)}`,
      fix: 'check the spelling (copy the endpoint from the RDS console); private hosted zones resolve only inside the VPC; a deleted or renamed instance loses its name',
    };
  }
}

function isPrivate(address: string): boolean {
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|fd|fc)/i.test(address);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        done(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
}
