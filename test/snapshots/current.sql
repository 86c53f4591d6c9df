---- schema 3, sha256 ids

-- get (cps_get)
SELECT sess::text AS sess, date_part('epoch', least(expire, created + make_interval(secs => NULL::float8)) - now()) AS remaining, user_id FROM "app"."session" WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- upsert (cps_upsert)
INSERT INTO "app"."session" AS target (sid, sess, expire, created, touched, user_id, details)
SELECT $1::text, $2::text::json, least(now() + make_interval(secs => $3::float8), now() + make_interval(secs => NULL::float8)), now(), now(), $4::text, $5::text::json FROM (SELECT set_config('synchronous_commit', current_setting('synchronous_commit'), true)) AS commit_wait
ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = least(excluded.expire, CASE WHEN target.expire > now() AND target.created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') THEN target.created ELSE excluded.created END + make_interval(secs => NULL::float8)),
  created = CASE WHEN target.expire > now() AND target.created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') THEN target.created ELSE excluded.created END, touched = excluded.touched, user_id = excluded.user_id, details = excluded.details;

-- update (cps_update)
UPDATE "app"."session" SET sess = $2::text::json, expire = least(now() + make_interval(secs => $3::float8), created + make_interval(secs => NULL::float8)), touched = now() FROM (SELECT set_config('synchronous_commit', current_setting('synchronous_commit'), true)) AS commit_wait WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- updateIfUnchanged (cps_update_if_unchanged)
UPDATE "app"."session" SET sess = $2::text::json, expire = least(now() + make_interval(secs => $3::float8), created + make_interval(secs => NULL::float8)), touched = now() FROM (SELECT set_config('synchronous_commit', current_setting('synchronous_commit'), true)) AS commit_wait WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AND sess::text = $4::text RETURNING CASE WHEN sess::text = $2::text THEN txid_current()::text END AS xid;

-- updateKeys (cps_update_keys)
UPDATE "app"."session" AS target SET sess = (
  SELECT coalesce(json_object_agg(kv.key, kv.value ORDER BY kv.position), '{}'::json) FROM (
    SELECT key, value, position FROM json_each(target.sess) WITH ORDINALITY AS kept(key, value, position)
    WHERE key NOT IN (SELECT json_array_elements_text($3::text::json))
    UNION ALL
    SELECT key, value, 1e9 + position FROM json_each($2::text::json) WITH ORDINALITY AS changed(key, value, position)
  ) kv
), expire = least(now() + make_interval(secs => $4::float8), created + make_interval(secs => NULL::float8)), touched = now() FROM (SELECT set_config('synchronous_commit', current_setting('synchronous_commit'), true)) AS commit_wait WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- touch (cps_touch)
UPDATE "app"."session" SET expire = least(now() + make_interval(secs => $3::float8), created + make_interval(secs => NULL::float8)), touched = now() FROM (SELECT set_config('synchronous_commit', current_setting('synchronous_commit'), true)) AS commit_wait WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AND (expire < least(now() + make_interval(secs => $2::float8), created + make_interval(secs => NULL::float8)) OR expire > least(now() + make_interval(secs => $3::float8), created + make_interval(secs => NULL::float8)) + make_interval(secs => 1));

-- setUser (cps_set_user)
UPDATE "app"."session" SET user_id = $2::text, details = $3::text::json, touched = now() WHERE sid = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- destroy (cps_destroy)
DELETE FROM "app"."session" WHERE sid = $1::text;

-- all (cps_all)
SELECT sid::text COLLATE "C" AS sid, sess::text AS sess FROM "app"."session" WHERE expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- length (cps_length)
SELECT count(*)::float8 AS n FROM "app"."session" WHERE expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity');

-- clear (cps_clear)
DELETE FROM "app"."session";

-- pruneBatch (cps_prune)
WITH lock AS (
  SELECT CASE WHEN $3::bool THEN pg_try_advisory_xact_lock(6516851, to_regclass($2::text)::oid::int) ELSE true END AS held
), doomed AS (
  SELECT ctid, expire FROM "app"."session"
  WHERE (SELECT held FROM lock) AND expire < now() AND expire >= $4::text::timestamptz
  ORDER BY expire LIMIT $1::int FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM "app"."session" WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed)) RETURNING 1
)
SELECT (SELECT held FROM lock)::text AS held, (SELECT count(*) FROM gone)::float8 AS deleted,
  (SELECT max(expire)::timestamptz::text FROM doomed) AS upto;

-- describe (cps_describe)
SELECT (r.oid IS NOT NULL)::text AS exists, obj_description(r.oid, 'pg_class') AS comment,
  (SELECT relkind::text FROM pg_class WHERE oid = r.oid) AS kind,
  (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.oid) AS schema,
  (SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = r.oid AND attname = 'sid' AND attnum > 0 AND NOT attisdropped) AS sid_type,
  (SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = r.oid AND attname = 'sess' AND attnum > 0 AND NOT attisdropped) AS sess_type,
  (SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = r.oid AND attname = 'expire' AND attnum > 0 AND NOT attisdropped) AS expire_type,
  (SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = r.oid AND attname = 'created' AND attnum > 0 AND NOT attisdropped) AS created_type,
  col_description(r.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = r.oid AND attname = 'sid' AND NOT attisdropped)::int) AS sid_comment,
  col_description(r.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = r.oid AND attname = 'created' AND NOT attisdropped)::int) AS created_comment
FROM (SELECT to_regclass($1::text) AS oid) r;

-- list (cps_user_list)
SELECT sid AS handle, (extract(epoch FROM created) * 1000)::float8 AS created_ms, (extract(epoch FROM touched) * 1000)::float8 AS touched_ms,
  (extract(epoch FROM least(expire, created + make_interval(secs => NULL::float8))) * 1000)::float8 AS expires_ms, details::text AS details
FROM "app"."session" WHERE user_id = $1::text AND expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') ORDER BY touched DESC, created DESC;

-- destroyAll (cps_user_destroy)
WITH gone AS (DELETE FROM "app"."session" WHERE user_id = $1::text RETURNING expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone;

-- destroyAllBut (cps_user_destroy_but)
WITH gone AS (DELETE FROM "app"."session" WHERE user_id = $1::text AND sid <> $2::text AND sid <> $3::text RETURNING expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone;

-- destroyHandle (cps_handle_destroy)
WITH gone AS (DELETE FROM "app"."session" WHERE sid = $1::text RETURNING expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone;

-- destroyUserHandle (cps_user_handle_destroy)
WITH gone AS (DELETE FROM "app"."session" WHERE sid = $1::text AND user_id = $2::text RETURNING expire > now() AND created > coalesce(now() - make_interval(secs => NULL::float8), '-infinity') AS live)
SELECT count(*) FILTER (WHERE live)::float8 AS n FROM gone;
