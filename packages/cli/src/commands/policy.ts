import { COMMON_OPTIONS, noExtraPositionals, parse } from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { EXIT } from '../errors.js';
import { CONTEXT_HELP } from '../request-context.js';
import { runPolicyCheck } from './policy-check.js';
import {
  POLICY_TARGET_HELP,
  POLICY_TARGET_OPTIONS,
  policyDocument,
  resolvePolicyTarget,
} from './policy-target.js';

export const policyCommand: Command = {
  name: 'policy',
  summary: 'print the IAM policy that allows rds-db:connect for database users',
  help: `Usage: rds-iam policy --region <region> --account <id> --resource-id <id> --user <user> [--user ...]
       rds-iam policy (--instance <name> | --cluster <name>) --user <user> [--region <region>]
       rds-iam policy check --policy-file <file> [--policy-file ...] <the same options>

Prints an IAM policy document that allows "rds-db:connect" as the given database users:

  arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER

The resource id is not the instance name: it is the DbiResourceId of an instance (db-...), the
DbClusterResourceId of an Aurora cluster (cluster-...), or an RDS Proxy's id (prx-...). The partition
follows the region: aws-cn for cn-*, aws-us-gov for us-gov-*, aws elsewhere.

With --instance or --cluster the resource id, account and region are looked up with the RDS API
(DescribeDBInstances / DescribeDBClusters, your AWS credentials), and a warning is printed when IAM
database authentication is not enabled on it.

Options:
${POLICY_TARGET_HELP}
  --json                  the policy as one line of JSON
  --help                  this text

Examples:
  rds-iam policy --region eu-west-1 --account 123456789012 --resource-id db-ABCDEFGHIJKL01234 --user app
  rds-iam policy --region us-east-1 --account 123456789012 --resource-id cluster-ABCDEFGHIJKL0123 \\
    --user app --user reporting
  rds-iam policy --instance orders-db --user app > policy.json
  aws iam put-role-policy --role-name app --policy-name rds-connect --policy-document file://policy.json

rds-iam policy check evaluates identity policies as IAM does for "rds-db:connect" on the dbuser ARN
of each --user: IAM's grammar first (a document IAM would refuse is an error, exit 2), then default
deny, an explicit Deny wins, wildcards, NotAction / NotResource, every Condition operator and policy
variables such as \${aws:username} or \${aws:PrincipalTag/dbuser}, against the request context given
below. It prints the decision and the ARN, and for a deny the statement that came closest and why
(the condition that fails, the variable's value, which part of the ARN differs).
  --policy-file <file>    a policy document; repeat for several; "-" reads standard input
${CONTEXT_HELP}
  --json                  {"decision", "determined", "missingContext", "resource", "statements", ...}
Exit code 0 when every user is allowed, 1 for a deny or an undetermined decision, 2 for bad input.

  rds-iam policy --region eu-west-1 --account 123456789012 --resource-id db-ABC --user app > policy.json
  rds-iam policy check --policy-file policy.json --region eu-west-1 --account 123456789012 \\
    --resource-id db-ABC --user app
  rds-iam policy check --policy-file abac.json --region eu-west-1 --account 123456789012 \\
    --resource-id db-ABC --user alice --principal-arn arn:aws:iam::123456789012:user/alice \\
    --principal-tag dbuser=alice --source-ip 10.0.0.7 --time now

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    if (argv[0] === 'check') return runPolicyCheck(argv.slice(1), io);
    const { values, positionals } = parse(argv, {
      ...COMMON_OPTIONS,
      ...POLICY_TARGET_OPTIONS,
    });
    noExtraPositionals(positionals);
    const { region, account, resourceId, users } = await resolvePolicyTarget(values, io);
    const document = policyDocument(region, account, resourceId, users);
    io.stdout.write(
      values.json ? `${JSON.stringify(document)}\n` : `${JSON.stringify(document, null, 2)}\n`,
    );
    return EXIT.OK;
  },
};
