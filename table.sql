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
    IF current_setting('server_version_num')::int >= 130000 THEN
      CREATE UNLOGGED TABLE IF NOT EXISTS "session_changes" ("xid" xid8 NOT NULL DEFAULT pg_current_xact_id(), "key" text COLLATE "C" NOT NULL);
      CREATE INDEX IF NOT EXISTS "session_changes_xid_idx" ON "session_changes" ("xid");
      EXECUTE format('CREATE OR REPLACE FUNCTION "session_changed"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp AS $cps_log$BEGIN
        IF TG_OP = ''TRUNCATE'' THEN
          INSERT INTO "session_changes" ("key") VALUES (''*'');
        ELSIF TG_OP = ''UPDATE'' THEN
          INSERT INTO "session_changes" ("key") VALUES (left(encode(sha256(convert_to(OLD."sid", ''UTF8'')), ''hex''), 32));
        ELSIF (SELECT count(*) FROM (SELECT FROM old_rows o WHERE o."expire" > now() LIMIT 1001) live) > 1000 THEN
          INSERT INTO "session_changes" ("key") VALUES (''*'');
        ELSE
          INSERT INTO "session_changes" ("key") SELECT DISTINCT left(encode(sha256(convert_to(o."sid", ''UTF8'')), ''hex''), 32) FROM old_rows o WHERE o."expire" > now();
        END IF;
        RETURN NULL;
      END$cps_log$', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = '"session"'::regclass));
      IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_delete') THEN
        DROP TRIGGER "cps_changed_delete" ON "session";
      END IF;
      IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_update') THEN
        DROP TRIGGER "cps_changed_update" ON "session";
      END IF;
      IF EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '"session"'::regclass AND tgname = 'cps_changed_truncate') THEN
        DROP TRIGGER "cps_changed_truncate" ON "session";
      END IF;
      CREATE TRIGGER "cps_changed_delete" AFTER DELETE ON "session" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "session_changed"();
      CREATE TRIGGER "cps_changed_update" AFTER UPDATE ON "session" FOR EACH ROW WHEN (OLD."expire" > now() AND (OLD."sid" IS DISTINCT FROM NEW."sid" OR OLD."sess"::text IS DISTINCT FROM NEW."sess"::text OR OLD."user_id" IS DISTINCT FROM NEW."user_id" OR OLD."details"::text IS DISTINCT FROM NEW."details"::text OR OLD."created" IS DISTINCT FROM NEW."created" OR NEW."expire" < OLD."expire")) EXECUTE FUNCTION "session_changed"();
      CREATE TRIGGER "cps_changed_truncate" AFTER TRUNCATE ON "session" FOR EACH STATEMENT EXECUTE FUNCTION "session_changed"();
      ALTER TABLE "session" ENABLE ALWAYS TRIGGER "cps_changed_delete", ENABLE ALWAYS TRIGGER "cps_changed_update", ENABLE ALWAYS TRIGGER "cps_changed_truncate";
    END IF;
    COMMENT ON TABLE "session" IS 'connect-pg-simple schema 4';
  ELSE
    RAISE NOTICE 'table % exists already: nothing was changed (an older version is upgraded with npx connect-pg-simple migrate)', '"session"';
  END IF;
END
$cps$;
