-- The dates of a backfill: _range_dates turns a range into the fire times of the workflow's
-- enabled schedule, else the midnights of the backfill's zone (whole days for the date form,
-- both ends included); _backfill_order numbers them, latest first unless "order" is "asc",
-- with the business date each has in the zone.
BEGIN;
SELECT plan(12);

SELECT sched.create_workflow('{"name": "sqlt_bf", "timezone": "Asia/Shanghai", "tasks": [{"name": "a", "type": "empty"}]}'::jsonb);
SELECT sched.create_workflow('{"name": "sqlt_bf_utc", "tasks": [{"name": "a", "type": "empty"}]}'::jsonb);

SELECT is(sched._range_dates('postgres', 'sqlt_bf', '2024-03-01 00:00+00', '2024-03-03 00:00+00', true, '{}'),
          '{"2024-02-29 16:00+00","2024-03-01 16:00+00","2024-03-02 16:00+00"}'::timestamptz[],
          'days 1-3 March: the three midnights of the workflow''s zone');
SELECT is(sched._range_dates('postgres', 'sqlt_bf', '2024-03-01 00:00+00', '2024-03-03 00:00+00', false, '{}'),
          '{"2024-03-01 16:00+00","2024-03-02 16:00+00"}'::timestamptz[],
          'the instants 1-3 March 00:00 UTC hold two Shanghai midnights');
SELECT is(sched._range_dates('postgres', 'sqlt_bf', '2024-03-01 00:00+00', '2024-03-03 00:00+00', true, '{"timezone": "UTC"}'),
          '{"2024-03-01 00:00+00","2024-03-02 00:00+00","2024-03-03 00:00+00"}'::timestamptz[],
          'options.timezone overrides the workflow''s');
SELECT sched.schedule('sqlt_bf', '0 0 4 * * ?', '{"timezone": "Asia/Shanghai"}');
SELECT is(sched._range_dates('postgres', 'sqlt_bf', '2024-03-01 00:00+00', '2024-03-03 00:00+00', true, '{}'),
          '{"2024-02-29 20:00+00","2024-03-01 20:00+00","2024-03-02 20:00+00"}'::timestamptz[],
          'with an enabled schedule: its fire times (04:00 Shanghai) in those days');

SELECT throws_ok($$SELECT sched._range_dates('postgres', 'sqlt_bf_utc', '2024-03-03 00:00+00', '2024-03-01 00:00+00', true, '{}')$$,
                 '22023', 'to: must not be before from (from 2024-03-03, to 2024-03-01)', 'a range that ends before it starts');
SELECT is(sched._range_dates('postgres', 'sqlt_bf_utc', '2024-03-01 00:00+00', '2024-03-01 00:00+00', true, '{}'),
          '{"2024-03-01 00:00+00"}'::timestamptz[], 'a workflow without a timezone: midnight UTC');
SELECT throws_ok($$SELECT sched._range_dates('postgres', 'sqlt_bf_utc', '2024-03-01 01:00+00', '2024-03-01 02:00+00', false,
                                             '{"timezone": "UTC"}')$$,
                 '22023', 'from: no date of the days between 2024-03-01 01:00:00+00 and 2024-03-01 02:00:00+00 (UTC)',
                 'a range with no date in it');
SELECT throws_ok($$SELECT sched._range_dates('postgres', 'sqlt_bf_utc', '2000-01-01 00:00+00', '2030-01-01 00:00+00', true, '{}')$$,
                 '54000', 'to: the range holds more than 10000 dates; a backfill runs at most 10000', 'more than 10000 dates');
SELECT throws_ok($$SELECT sched._range_dates('postgres', 'sqlt_nope', '2024-03-01 00:00+00', '2024-03-03 00:00+00', true, '{}')$$,
                 '42704', 'workflow: "sqlt_nope" does not exist', 'a workflow that does not exist');

SELECT results_eq($$SELECT * FROM sched._backfill_order(ARRAY['2024-03-02 00:00+00', '2024-03-01 00:00+00', '2024-03-02 00:00+00',
                                                              '2024-03-03 16:00+00']::timestamptz[], '{}', 'Asia/Shanghai')$$,
                  $$VALUES (1, '2024-03-03 16:00+00'::timestamptz, '2024-03-04'::date, 'Asia/Shanghai'),
                           (2, '2024-03-02 00:00+00', '2024-03-02', 'Asia/Shanghai'),
                           (3, '2024-03-01 00:00+00', '2024-03-01', 'Asia/Shanghai')$$,
                  'latest first by default, duplicates once, each with its business date in the zone');
SELECT results_eq($$SELECT position, schedule_time FROM sched._backfill_order(
                        ARRAY['2024-03-02 00:00+00', '2024-03-01 00:00+00']::timestamptz[], '{"order": "ASC"}', 'UTC')$$,
                  $$VALUES (1, '2024-03-01 00:00+00'::timestamptz), (2, '2024-03-02 00:00+00')$$,
                  'order asc, in any case: earliest first');
SELECT is((SELECT count(*) FROM sched._backfill_order('{}', '{}', 'UTC')), 0::bigint, 'no dates, no rows');

SELECT * FROM finish();
ROLLBACK;
