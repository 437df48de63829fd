-- The cron helpers behind sched.cron_next, cron_prev and cron_describe: Quartz (6-7 fields)
-- and Unix (5 fields) expressions read in an IANA zone, where a time daylight saving skips
-- does not fire and a repeated one fires once, at its first occurrence.
BEGIN;
SELECT plan(11);

SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 0 12 * * ?', 3, '2024-03-15 12:00+00', 'UTC')$$,
                  $$VALUES ('2024-03-16 12:00+00'::timestamptz), ('2024-03-17 12:00+00'), ('2024-03-18 12:00+00')$$,
                  'Quartz, daily at noon: strictly after the given time');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 30 2 ? * MON-FRI', 2, '2024-03-15 12:00+00', 'Asia/Shanghai')$$,
                  $$VALUES ('2024-03-17 18:30+00'::timestamptz), ('2024-03-18 18:30+00')$$,
                  'weekdays at 02:30 in Shanghai: after a Friday evening comes Monday');
SELECT results_eq($$SELECT * FROM sched._cron_prev('postgres', '0 30 2 ? * MON-FRI', 2, '2024-03-15 12:00+00', 'Asia/Shanghai')$$,
                  $$VALUES ('2024-03-14 18:30+00'::timestamptz), ('2024-03-13 18:30+00')$$,
                  'cron_prev: the same fire times before, latest first');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 30 2 * * ?', 3, '2026-03-28 00:00+00', 'Europe/Berlin')$$,
                  $$VALUES ('2026-03-28 01:30+00'::timestamptz), ('2026-03-30 00:30+00'), ('2026-03-31 00:30+00')$$,
                  'a local time the clocks skip (Berlin, 29 March) does not fire');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 30 2 * * ?', 2, '2026-10-24 12:00+00', 'Europe/Berlin')$$,
                  $$VALUES ('2026-10-25 00:30+00'::timestamptz), ('2026-10-26 01:30+00')$$,
                  'a local time the clocks repeat (Berlin, 25 October) fires once, at its first occurrence');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 0 12 L-2W * ?', 2, '2024-06-01 00:00+00', 'UTC')$$,
                  $$VALUES ('2024-06-28 12:00+00'::timestamptz), ('2024-07-29 12:00+00')$$,
                  'L-2W: the weekday nearest two days before the month''s last day');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '0 0 12 ? * 6#3', 2, '2024-06-01 00:00+00', 'UTC')$$,
                  $$VALUES ('2024-06-21 12:00+00'::timestamptz), ('2024-07-19 12:00+00')$$,
                  '6#3: the third Friday (1 = Sunday)');
SELECT results_eq($$SELECT * FROM sched._cron_next('postgres', '*/20 * * * *', 3, '2024-06-01 00:00+00', 'UTC')$$,
                  $$VALUES ('2024-06-01 00:20+00'::timestamptz), ('2024-06-01 00:40+00'), ('2024-06-01 01:00+00')$$,
                  'five fields are a Unix expression, minute first');
SELECT is(ARRAY[sched._cron_describe('postgres', '0 30 2 1 * ?', 'en'), sched._cron_describe('postgres', '0 30 2 1 * ?', 'zh'),
                sched._cron_describe('postgres', '0 0 12 ? * FRI/2', 'en')],
          ARRAY['At 02:30, on day 1 of the month', '在 02:30，每月1日', 'At 12:00, only on Friday'],
          'cron_describe in English and Chinese, a step as the values it lands on');
SELECT throws_ok($$SELECT * FROM sched._cron_next('postgres', '0 0 12 ? * MOX', 1, NULL, 'UTC')$$, '22023',
                 'cron: day-of-week: (field 6) "MOX" is not a day 1-7 (1 = Sunday) or SUN-SAT',
                 'a bad field is refused, named with its position');
SELECT throws_like($$SELECT * FROM sched._cron_next('postgres', '0 0 12 * * ?', 1, NULL, 'Mars/Base')$$,
                   'timezone: "Mars/Base" is not an IANA time zone name%', 'so is an unknown zone');

SELECT * FROM finish();
ROLLBACK;
