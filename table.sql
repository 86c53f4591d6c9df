-- The session table of connect-pg-simple, for the default name "session".
-- Run it with: psql mydatabase < node_modules/connect-pg-simple/table.sql
-- It creates the table when it is missing; run again, it changes nothing (upgrades: npx connect-pg-simple migrate).
-- Generated from src/schema/ddl.ts by `npm run table-sql`; for other names: npx connect-pg-simple schema --table NAME

DO $cps$
BEGIN
  PERFORM pg_advisory_xact_lock(6516852, hashtext('"session"'));
  IF to_regclass('"session"') IS NULL THEN
    CREATE TABLE IF NOT EXISTS "session" (
      "sid" text COLLATE "C" NOT NULL,
      "sess" json NOT NULL,
      "expire" timestamptz(6) NOT NULL,
      "created" timestamptz(6) NOT NULL DEFAULT now(),
      "user_id" text COLLATE "C",
      "details" json,
      "touched" timestamptz(6) NOT NULL DEFAULT now(),
      CONSTRAINT "session_pkey" PRIMARY KEY ("sid")
    ) WITH (fillfactor = 90);
    CREATE INDEX IF NOT EXISTS "session_expire_idx" ON "session" ("expire");
    CREATE INDEX IF NOT EXISTS "session_user_idx" ON "session" ("user_id") WHERE "user_id" IS NOT NULL;
    COMMENT ON COLUMN "session"."sid" IS 'connect-pg-simple session ids: sha256';
    COMMENT ON TABLE "session" IS 'connect-pg-simple schema 3';
  ELSE
    RAISE NOTICE 'table % exists already: nothing was changed (an older version is upgraded with npx connect-pg-simple migrate)', '"session"';
  END IF;
END
$cps$;
