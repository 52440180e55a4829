import { rdsCaCertificates } from '@rds-iam/core';
import type { TlsResult } from '../probe/conn.js';
import type { TargetArgs } from '../targets.js';
import type { Check } from './check.js';
import type { ProbeContext } from './probe.js';

/** The CAs the `tls` check trusts: `--ca-file` when given, else the RDS bundle; and how to name them. */
export function trustedCas(target: Pick<TargetArgs, 'ca' | 'caFile'>): {
  ca: string[];
  caName: string;
} {
  if (target.ca === undefined) return { ca: [...rdsCaCertificates()], caName: 'the RDS CA bundle' };
  return { ca: target.ca, caName: `--ca-file ${target.caFile}` };
}

/**
 * The `tls` check: the server offers TLS and its certificate verifies for the signing host; when not,
 * why, and what to do about it.
 */
export function tlsCheck(tls: TlsResult | undefined, ctx: ProbeContext): Check {
  if (tls?.ok) {
    return {
      id: 'tls',
      status: 'pass',
      detail: `${tls.protocol ?? 'TLS'}, certificate ${tls.subject ?? '?'} issued by ${tls.issuer ?? '?'}, valid until ${tls.validTo ?? '?'}, verified against ${ctx.caName} for ${ctx.args.signingHost}`,
    };
  }
  return tlsFailure(tls, ctx);
}

function tlsFailure(tls: TlsResult | undefined, ctx: ProbeContext): Check {
  const { args } = ctx;
  if (tls === undefined) return { id: 'tls', status: 'fail', detail: 'TLS was not negotiated' };
  if (!tls.offered) {
    return {
      id: 'tls',
      status: 'fail',
      detail: tls.message ?? 'the server does not offer TLS',
      fix: `RDS always offers TLS and requires it for IAM users, so ${args.host}:${args.port} is not RDS (or something in between strips TLS): a local server, a pooler without TLS, or the wrong port. To try IAM logins against a local server, put the emulator in front of it: rds-iam emulator --engine ${ctx.engine} --upstream ...`,
    };
  }
  const code = tls.verifyError ?? '';
  const presented = `the server presented ${tls.subject ?? 'a certificate'}${tls.issuer ? ` issued by ${tls.issuer}` : ''}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented} for ${tls.altNames ?? 'other names'}, not for ${args.signingHost}`,
      fix: args.signingOverridden
        ? '--signing-host must be the endpoint name the certificate carries (the RDS endpoint)'
        : 'when you dial a tunnel, alias or IP, pass --signing-host <the RDS endpoint name> (and --signing-port): the token and the certificate check both use it',
    };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented}, which is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} by this machine's clock (valid until ${tls.validTo ?? '?'})`,
      fix: "check this machine's clock; if it is right, rotate the instance's certificate authority (modify-db-instance --ca-certificate-identifier rds-ca-rsa2048-g1)",
    };
  }
  if (code === 'ETIMEDOUT') {
    // The probe's own bound: no certificate was presented at all.
    return {
      id: 'tls',
      status: 'fail',
      detail: `no TLS session: ${tls.message ?? 'no answer within --connect-timeout'}`,
      fix: 'the port accepted the connection but the server did not answer: check that it is the database port and that nothing in between (a firewall, a proxy, a tunnel) holds connections open; --connect-timeout sets how long the connection and login may take',
    };
  }
  if (code) {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented}; it does not verify against ${ctx.caName} (${code})`,
      fix: ctx.caName.startsWith('--ca-file')
        ? 'the --ca-file is not the CA that signed this server certificate: for the emulator use the CA file it printed'
        : "not an RDS certificate: for the rds-iam emulator or another proxy, pass its CA with --ca-file; for RDS, check the instance's certificate authority and that you reach RDS, not a TLS-intercepting proxy",
    };
  }
  return {
    id: 'tls',
    status: 'fail',
    detail: `the TLS handshake failed: ${tls.message ?? 'unknown error'}`,
    fix: 'check that the port speaks the database protocol with TLS (not a load balancer terminating something else)',
  };
}
