-- The example's schema. Apply it once with any IAM connection (the example runs it itself; every
-- statement is idempotent). `prisma migrate deploy` cannot log in to RDS MySQL with IAM: Prisma's
-- MySQL schema engine has no mysql_clear_password (see the package README).
CREATE TABLE IF NOT EXISTS `prisma_users` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `email` VARCHAR(191) NOT NULL,
    `name` VARCHAR(191) NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `prisma_users_email_key`(`email`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `prisma_posts` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `title` VARCHAR(191) NOT NULL,
    `published` BOOLEAN NOT NULL DEFAULT false,
    `author_id` INTEGER NOT NULL,

    PRIMARY KEY (`id`),
    CONSTRAINT `prisma_posts_author_id_fkey` FOREIGN KEY (`author_id`) REFERENCES `prisma_users`(`id`) ON DELETE CASCADE ON UPDATE CASCADE
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
