CREATE TABLE "cli_drizzle_notes" (
	"id" serial PRIMARY KEY NOT NULL,
	"body" varchar(200) NOT NULL
);
