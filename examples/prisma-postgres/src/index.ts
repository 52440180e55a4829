// Prisma 7 on RDS / Aurora PostgreSQL with IAM auth tokens: the @rds-iam/prisma README's
// quick start. Creates its tables when missing (prisma/migrations/0_init), runs CRUD, relations, both
// kinds of $transaction and raw SQL, and removes what it wrote.
//
// Locally, against the rds-iam emulator in front of the local PostgreSQL:
//   pnpm --filter @rds-iam/example-prisma-postgres start
// Against real RDS / Aurora / RDS Proxy (credentials from the AWS SDK's default chain):
//   RDS_HOST=mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app \
//     pnpm --filter @rds-iam/example-prisma-postgres start
import { readFileSync } from 'node:fs';
import { exampleTarget } from '@rds-iam/example-local-endpoint';

// Where to log in: the RDS_* variables, or the emulator. `iam` carries what only the emulator needs
// (the endpoint name it signs for, its region, its demo credentials and its CA); on RDS it is empty.
const { host, port, user, database, iam, emulated, close } = await exampleTarget('postgres');

// --- snippet: prisma-postgres ---
import { iamPrismaPg } from '@rds-iam/prisma/pg';
import { PrismaClient } from '../generated/prisma/client.js'; // `prisma generate` output

const prisma = new PrismaClient({
  adapter: iamPrismaPg({
    host, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
    port,
    user, // a database user with IAM authentication enabled: GRANT rds_iam TO app
    database,
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
    max: 10, // node-postgres pool options, as usual: every new connection gets a fresh token
  }),
});
// --- end snippet ---

try {
  const migration = readFileSync(
    new URL('../prisma/migrations/0_init/migration.sql', import.meta.url),
    'utf8',
  );
  for (const sql of migration.split(/;\s*$/m).map((s) => s.replace(/^--.*$/gm, '').trim())) {
    if (sql) await prisma.$executeRawUnsafe(sql);
  }

  const email = `ada-${process.pid}-${Date.now()}@example.com`;

  // Create with a nested relation, then read through the relation.
  const ada = await prisma.user.create({
    data: {
      email,
      name: 'Ada',
      posts: {
        create: [{ title: 'Tokens expire' }, { title: 'Connections do not', published: true }],
      },
    },
  });
  const published = await prisma.post.findMany({
    where: { author: { email }, published: true },
    select: { title: true },
  });
  await prisma.user.update({ where: { id: ada.id }, data: { name: 'Ada Lovelace' } });

  // A batch transaction (all or nothing) and an interactive one.
  const [posts, users] = await prisma.$transaction([
    prisma.post.count({ where: { authorId: ada.id } }),
    prisma.user.count({ where: { email } }),
  ]);
  const author = await prisma.$transaction(async (tx) => {
    await tx.post.updateMany({ where: { authorId: ada.id }, data: { published: true } });
    return tx.user.findUniqueOrThrow({ where: { id: ada.id }, include: { posts: true } });
  });

  // Raw SQL: who the token logged us in as.
  const [session] = await prisma.$queryRaw<{ user: string }[]>`SELECT current_user AS "user"`;
  const deleted = await prisma.$executeRaw`DELETE FROM prisma_posts WHERE author_id = ${ada.id}`;
  await prisma.user.delete({ where: { id: ada.id } });
  if (emulated) {
    // The local database is shared by every example: leave nothing behind.
    await prisma.$executeRawUnsafe('DROP TABLE prisma_posts');
    await prisma.$executeRawUnsafe('DROP TABLE prisma_users');
  }

  console.log(`logged in as ${session?.user} with an IAM token`);
  console.log(
    `${author.name} wrote ${posts} posts (${published.length} published), published them all in a transaction; ${deleted} deleted`,
  );
  const summary = {
    posts,
    users,
    published: published.length,
    publishedAfter: author.posts.filter((p) => p.published).length,
    deleted,
  };
  console.log(`summary: ${JSON.stringify(summary)}`);
} finally {
  await prisma.$disconnect();
  await close();
}
