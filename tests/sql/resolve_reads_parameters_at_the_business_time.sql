-- _resolve, behind sched.resolve: a template's ${name} and $[...] resolved as a task would see
-- them at a business time read in a zone: built-ins, DolphinScheduler's date arithmetic,
-- parameters that refer to each other, and an unknown name left as written.
BEGIN;
SELECT plan(8);

SELECT is(sched._resolve('postgres', '${system.biz.curdate} ${system.biz.date}', '{}', '2024-03-01 20:00+00', 'Asia/Shanghai'),
          '20240302 20240301', 'business day and the day before, in the zone: 20:00 UTC is the next day in Shanghai');
SELECT is(sched._resolve('postgres', '${system.biz.curdate} ${system.biz.date}', '{}', '2024-03-01 20:00+00', NULL),
          '20240301 20240229', 'no zone: UTC');
SELECT is(sched._resolve('postgres', '$[yyyyMMdd-7*2] $[HHmmss-1/24] $[yyyy-MM-dd]', '{}', '2024-03-15 02:30+00', 'UTC'),
          '20240301 013000 2024-03-15', 'day and hour arithmetic; a dash before no digit is part of the format');
SELECT is(sched._resolve('postgres', '$[add_months(yyyyMMdd,-1)] $[month_last_day(yyyy-MM-dd,-1)] $[week_first_day(yyyy-MM-dd,0)]',
                         '{}', '2024-03-15 02:30+00', 'UTC'),
          '20240215 2024-02-29 2024-03-11', 'month and week functions');
SELECT is(sched._resolve('postgres', 'dt=${dt}', '{"dt": "$[yyyy-MM-dd-1]"}', '2024-03-15 02:30+00', 'UTC'),
          'dt=2024-03-14', 'a parameter''s value is itself resolved');
SELECT is(sched._resolve('postgres', '${a}/${b}', '{"a": "${b}x", "b": "1"}', '2024-03-15 02:30+00', 'UTC'),
          '1x/1', 'parameters refer to each other');
SELECT is(sched._resolve('postgres', '${missing}', '{}', '2024-03-15 02:30+00', 'UTC'), '${missing}',
          'an unknown name is left as written');
SELECT throws_like($$SELECT sched._resolve('postgres', 'x', '{}', NULL, 'Mars/Base')$$,
                   'timezone: "Mars/Base" is not an IANA time zone name%', 'an unknown zone is refused');

SELECT * FROM finish();
ROLLBACK;
