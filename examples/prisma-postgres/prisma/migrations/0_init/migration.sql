-- The example's schema. `prisma migrate deploy` applies it (prisma.config.ts logs the CLI in with
-- IAM); the example also runs it itself, so every statement is idempotent.
CREATE TABLE IF NOT EXISTS "prisma_users" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "prisma_users_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX IF NOT EXISTS "prisma_users_email_key" ON "prisma_users"("email");

CREATE TABLE IF NOT EXISTS "prisma_posts" (
    "id" SERIAL NOT NULL,
    "title" TEXT NOT NULL,
    "published" BOOLEAN NOT NULL DEFAULT false,
    "author_id" INTEGER NOT NULL,
    CONSTRAINT "prisma_posts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "prisma_posts_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "prisma_users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
