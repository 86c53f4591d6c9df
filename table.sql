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
    CREATE OR REPLACE FUNCTION "session_changed"() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $cps_notice$DECLARE
      ids text[];
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify(TG_ARGV[0], '*');
        RETURN NULL;
      ELSIF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify(TG_ARGV[0], left(encode(sha256(convert_to(OLD."sid", 'UTF8')), 'hex'), 32));
        RETURN NULL;
      END IF;
      SELECT array_agg(DISTINCT o."sid") INTO ids FROM old_rows o WHERE o."expire" > now();
      IF ids IS NULL THEN
        RETURN NULL;
      ELSIF cardinality(ids) > 1000 THEN
        PERFORM pg_notify(TG_ARGV[0], '*');
        RETURN NULL;
      END IF;
      PERFORM pg_notify(TG_ARGV[0], string_agg(k, ' '))
      FROM (
        SELECT left(encode(sha256(convert_to(id, 'UTF8')), 'hex'), 32) AS k,
               (row_number() OVER () - 1) / 200 AS part
        FROM unnest(ids) AS id
      ) keyed
      GROUP BY part;
      RETURN NULL;
    END$cps_notice$;
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_delete') THEN
      DROP TRIGGER "cps_changed_delete" ON "session";
    END IF;
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_update') THEN
      DROP TRIGGER "cps_changed_update" ON "session";
    END IF;
    IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_truncate') THEN
      DROP TRIGGER "cps_changed_truncate" ON "session";
    END IF;
    CREATE TRIGGER "cps_changed_delete" AFTER DELETE ON "session" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "session_changed"('cps_d4cd9053a12d5c8ed47e7b71');
    CREATE TRIGGER "cps_changed_update" AFTER UPDATE ON "session" FOR EACH ROW WHEN (OLD."expire" > now() AND (OLD."sid" IS DISTINCT FROM NEW."sid" OR OLD."sess"::text IS DISTINCT FROM NEW."sess"::text OR OLD."user_id" IS DISTINCT FROM NEW."user_id" OR OLD."details"::text IS DISTINCT FROM NEW."details"::text OR OLD."created" IS DISTINCT FROM NEW."created" OR NEW."expire" < OLD."expire")) EXECUTE FUNCTION "session_changed"('cps_d4cd9053a12d5c8ed47e7b71');
    CREATE TRIGGER "cps_changed_truncate" AFTER TRUNCATE ON "session" FOR EACH STATEMENT EXECUTE FUNCTION "session_changed"('cps_d4cd9053a12d5c8ed47e7b71');
    ALTER TABLE "session" DISABLE TRIGGER "cps_changed_delete", DISABLE TRIGGER "cps_changed_update", DISABLE TRIGGER "cps_changed_truncate";
    COMMENT ON TABLE "session" IS 'connect-pg-simple schema 4';
  ELSE
    RAISE NOTICE 'table % exists already: nothing was changed (an older version is upgraded with npx connect-pg-simple migrate)', '"session"';
  END IF;
END
$cps$;
