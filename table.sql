-- The session table of connect-pg-simple, for the default name "session".
-- Run it with: psql mydatabase < node_modules/connect-pg-simple/table.sql
-- Generated from src/schema/ddl.ts by `npm run table-sql`; for other names: npx connect-pg-simple schema --table NAME

CREATE TABLE "session" (
  "sid" text COLLATE "C" NOT NULL,
  "sess" json NOT NULL,
  "expire" timestamptz(6) NOT NULL,
  "created" timestamptz(6) NOT NULL DEFAULT now(),
  "user_id" text COLLATE "C",
  "details" json,
  "touched" timestamptz(6) NOT NULL DEFAULT now(),
  CONSTRAINT "session_pkey" PRIMARY KEY ("sid")
) WITH (fillfactor = 90);

CREATE INDEX "session_expire_idx" ON "session" ("expire");

CREATE INDEX "session_user_idx" ON "session" ("user_id") WHERE "user_id" IS NOT NULL;

COMMENT ON COLUMN "session"."sid" IS 'connect-pg-simple session ids: sha256';

COMMENT ON TABLE "session" IS 'connect-pg-simple schema 3';
