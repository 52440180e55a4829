// The application's database settings, in the one module that the app and each migrations CLI's
// configuration file import: where to log in comes from the environment, as a config schema
// (convict, dotenv, `config`) would give it. Every CLI below logs in with IAM through this module.
//
//   RDS_HOST, RDS_PORT, RDS_USER, RDS_DATABASE   the endpoint and the IAM database user
//   RDS_REGION, RDS_SIGNING_HOST, RDS_SIGNING_PORT   when RDS_HOST is a tunnel or alias (the emulator)
//   RDS_CA_FILE   a CA other than the RDS ones (the emulator's)
//   DB_PASSWORD   unset or empty with IAM: '' is taken as no password
// AWS credentials come from the AWS SDK's default chain.
// --- snippet: migrations-cli-database ---
const env = process.env;

/** Where the app and its migrations log in; `iam` is empty on RDS itself. */
export const database = {
  host: env.RDS_HOST ?? 'mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com',
  port: Number(env.RDS_PORT ?? 5432),
  user: env.RDS_USER ?? 'app',
  database: env.RDS_DATABASE ?? 'app',
  password: env.DB_PASSWORD ?? '', // an unset password, as config schemas spell it: none with IAM
  iam: {
    region: env.RDS_REGION,
    signingHost: env.RDS_SIGNING_HOST,
    signingPort: env.RDS_SIGNING_PORT ? Number(env.RDS_SIGNING_PORT) : undefined,
    ssl: env.RDS_CA_FILE ? { caFile: env.RDS_CA_FILE } : undefined, // default: the RDS CAs
  },
};
// --- end snippet ---
