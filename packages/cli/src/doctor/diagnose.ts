import { parseRdsEndpoint } from '@rds-iam/core';
import type { Io } from '../io.js';
import { probeMysql } from '../probe/mysql.js';
import { probePostgres } from '../probe/postgres.js';
import type { TargetArgs } from '../targets.js';
import { type AuthorizationInput, authorizationCheck } from './authorization.js';
import type { Check } from './check.js';
import { clockCheck } from './clock.js';
import { dnsCheck } from './dns.js';
import { endpointCheck } from './endpoint.js';
import { probeChecks } from './probe.js';
import type { Reporter } from './report.js';
import { trustedCas } from './tls.js';
import { mintChecks } from './token.js';

/** How `doctor` (or `proxy --check`) checks a target, beyond the target itself. */
export interface DiagnoseOptions {
  /** The bound on the credential source; core's default when absent. */
  readonly credentialsTimeoutMs?: number | undefined;
  /** The bound on the DNS lookup, then on the connection and login together. */
  readonly connectTimeoutMs: number;
  /** With `--resource-id`: the `authorization` check (region, user and profile come from the target). */
  readonly authorization?: Omit<AuthorizationInput, 'region' | 'user' | 'profile'> | undefined;
}

/**
 * Runs every check against one target, in the order a login goes (endpoint, credentials, token,
 * authorization, clock, DNS, TCP, TLS, login, server clock), adds each to `report`, and returns the
 * exit code: 0 when nothing failed.
 */
export async function diagnose(
  target: TargetArgs,
  options: DiagnoseOptions,
  report: Reporter,
  io: Io,
): Promise<number> {
  const { engine } = target;
  const { ca, caName } = trustedCas(target);
  const database = target.database ?? (engine === 'postgres' ? 'postgres' : undefined);
  report.header(
    `rds-iam doctor: ${target.user}@${target.host}:${target.port} (${engine})${target.signingOverridden ? `, signed for ${target.signingHost}:${target.signingPort}` : ''}`,
  );

  // 1. The endpoint name.
  const endpoint = parseRdsEndpoint(target.signingHost);
  const regionMismatch =
    endpoint !== undefined && target.region !== undefined && target.region !== endpoint.region;
  report.add(endpointCheck(target.signingHost, target.host, endpoint, target.region));

  // 2, 3. Credentials and a token.
  const minted = await mintChecks(target, io, options.credentialsTimeoutMs);
  for (const check of minted.checks) report.add(check);
  const { token, info } = minted;

  // 3b. May the caller connect as the user (the IAM policy)?
  let authorization: Check | undefined;
  const policyRegion = info?.region ?? target.region ?? endpoint?.region;
  if (options.authorization !== undefined && policyRegion !== undefined) {
    authorization = await authorizationCheck({
      ...options.authorization,
      region: policyRegion,
      user: target.user,
      profile: target.profile,
    });
    report.add(authorization);
  } else if (options.authorization !== undefined) {
    report.add({
      id: 'authorization',
      status: 'skip',
      detail: 'no region for the dbuser ARN: pass --region',
    });
  }

  // 4. The local clock.
  report.add(clockCheck(info, minted.mintedAt));

  // 5. DNS.
  const dns = await dnsCheck(target.host, endpoint, options.connectTimeoutMs);
  report.add(dns);

  // 6-9. TCP, TLS, login, server clock: one connection.
  if (dns.status === 'fail') {
    for (const id of ['tcp', 'tls', 'login', 'server-clock'])
      report.add({ id, status: 'skip', detail: 'the host does not resolve' });
  } else {
    const probe = engine === 'postgres' ? probePostgres : probeMysql;
    const result = await probe({
      host: target.host,
      port: target.port,
      user: target.user,
      ...(database ? { database } : {}),
      tls: { ca, identity: target.signingHost },
      timeoutMs: options.connectTimeoutMs,
      ...(token ? { token } : {}),
    });
    for (const check of probeChecks(result, {
      engine,
      args: target,
      caName,
      info,
      endpoint,
      regionMismatch,
      tokenMinted: token !== undefined,
      authorization,
    })) {
      report.add(check);
    }
  }
  return report.finish({
    engine,
    host: target.host,
    port: target.port,
    user: target.user,
    signingHost: target.signingHost,
    signingPort: target.signingPort,
  });
}
