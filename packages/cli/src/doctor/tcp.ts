import type { TcpResult } from '../probe/conn.js';
import type { Check } from './check.js';
import type { ProbeContext } from './probe.js';

/** The `tcp` check: the port accepts a connection, and what a refusal or a timeout usually means. */
export function tcpCheck(tcp: TcpResult, ctx: Pick<ProbeContext, 'args'>): Check {
  const { args } = ctx;
  const target = `${args.host}:${args.port}`;
  if (tcp.ok) {
    return {
      id: 'tcp',
      status: 'pass',
      detail: `connected to ${tcp.address ?? target} in ${tcp.ms ?? 0} ms`,
    };
  }
  const code = tcp.error?.code ?? 'ERROR';
  return {
    id: 'tcp',
    status: 'fail',
    detail: `cannot connect to ${target}: ${code} ${tcp.error?.message ?? ''}`.trim(),
    fix:
      code === 'ECONNREFUSED'
        ? `nothing accepts connections on port ${args.port} there: check the port (the instance's port, 5432 / 3306 by default), that the instance is available, or that your tunnel is up`
        : code === 'ETIMEDOUT'
          ? `packets are dropped: the security group must allow inbound TCP ${args.port} from this machine, the instance must be publicly accessible (or you inside its VPC / VPN), and network ACLs / firewalls must let it through`
          : 'check the network path to the host (VPN, proxy, firewall)',
  };
}
