/** The engines an example can run against. */
export type ExampleEngine = 'postgres' | 'mysql';

/** The rds-iam options (next to host, port, user) that log in to the target. Spread into any integration. */
export interface ExampleIamOptions {
  signingHost?: string;
  signingPort?: number;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  ssl?: { ca: string };
}

/** Where an example logs in. */
export interface ExampleTarget {
  /** The host and port to dial: the emulator's loopback address, or RDS_HOST / RDS_PORT. */
  host: string;
  port: number;
  /** A database user with IAM enabled, and its database. */
  user: string;
  database: string;
  iam: ExampleIamOptions;
  /** True when this is the local emulator, false for a real endpoint from RDS_* variables. */
  emulated: boolean;
  /** Stops the emulator (a no-op for a real endpoint). */
  close(): Promise<void>;
}

/** The user and database name of the local target. */
export declare const EXAMPLE_NAME: string;
/** The RDS endpoint name the emulator plays, per engine. */
export declare const EXAMPLE_ENDPOINT: Readonly<Record<ExampleEngine, string>>;

/**
 * A real RDS endpoint from RDS_HOST, RDS_PORT, RDS_USER, RDS_DATABASE, RDS_REGION (optional
 * RDS_SIGNING_HOST, RDS_SIGNING_PORT, RDS_CA_FILE) when RDS_HOST is set; else the rds-iam emulator in
 * front of the local database, with the user and database `rds_iam_example` created there if missing.
 */
export declare function exampleTarget(engine: ExampleEngine): Promise<ExampleTarget>;
