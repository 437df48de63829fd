// UI text in English and Chinese; state names stay as the SQL API spells them, with a
// translated label beside them.
const en = {
  signIn: 'Sign in', user: 'PostgreSQL role', password: 'Password', signOut: 'Sign out',
  workflows: 'Workflows', instances: 'Runs', workers: 'Workers', alerts: 'Alerts', search: 'Search',
  newWorkflow: 'New workflow', edit: 'Edit DAG', start: 'Start', schedule: 'Schedule', backfill: 'Backfill',
  versions: 'Versions', schedules: 'Schedules', lastRuns: 'Last runs', diff: 'Diff', save: 'Save',
  layout: 'Auto-layout', palette: 'Task types', settings: 'Workflow settings', task: 'Task',
  name: 'Name', type: 'Type', state: 'State', attempt: 'Attempt', worker: 'Worker', duration: 'Duration',
  exitCode: 'Exit code', log: 'Log', follow: 'Follow', download: 'Download', kill: 'Kill',
  forceSuccess: 'Force success', pause: 'Pause', resume: 'Resume', stop: 'Stop', recover: 'Recover',
  rerun: 'Rerun', params: 'Parameters (JSON)', scheduleTime: 'Schedule time', startTasks: 'Start tasks',
  scope: 'Scope', options: 'Options (JSON)', cron: 'Cron expression', timezone: 'Time zone',
  nextFires: 'Next fire times', describe: 'Meaning', saveSchedule: 'Save schedule', enable: 'Enable',
  disable: 'Disable', from: 'From', to: 'To', dates: 'Dates (comma-separated)', mode: 'Mode',
  parallelism: 'Parallelism', order: 'Order', run: 'Run', progress: 'Progress', gantt: 'Attempts over time',
  saved: 'Saved', description: 'Description', failureStrategy: 'Failure strategy',
  executionType: 'Execution type', priority: 'Priority', workerGroup: 'Worker group', notify: 'Notify',
  alertGroup: 'Alert group', deleteNode: 'Remove task', slots: 'Slots', running: 'Running', groups: 'Groups',
  event: 'Event', channel: 'Channel', created: 'Created', language: '中文', every: 'every', any: 'any (?)',
  value: 'at', range: 'from–to', interval: 'start/step', advanced: 'advanced: edit the expression',
};
const zh = {
  signIn: '登录', user: 'PostgreSQL 角色', password: '密码', signOut: '退出',
  workflows: '工作流', instances: '运行实例', workers: 'Worker', alerts: '告警', search: '搜索',
  newWorkflow: '新建工作流', edit: '编辑 DAG', start: '运行', schedule: '定时', backfill: '补数',
  versions: '版本', schedules: '定时', lastRuns: '最近运行', diff: '差异', save: '保存',
  layout: '自动布局', palette: '任务类型', settings: '工作流设置', task: '任务',
  name: '名称', type: '类型', state: '状态', attempt: '尝试', worker: 'Worker', duration: '耗时',
  exitCode: '退出码', log: '日志', follow: '跟随', download: '下载', kill: '终止',
  forceSuccess: '强制成功', pause: '暂停', resume: '恢复', stop: '停止', recover: '重跑失败',
  rerun: '重跑', params: '参数 (JSON)', scheduleTime: '调度时间', startTasks: '起始任务',
  scope: '范围', options: '选项 (JSON)', cron: 'Cron 表达式', timezone: '时区',
  nextFires: '未来执行时间', describe: '含义', saveSchedule: '保存定时', enable: '上线',
  disable: '下线', from: '开始', to: '结束', dates: '日期（逗号分隔）', mode: '模式',
  parallelism: '并行度', order: '顺序', run: '执行', progress: '进度', gantt: '甘特图',
  saved: '已保存', description: '描述', failureStrategy: '失败策略',
  executionType: '执行策略', priority: '优先级', workerGroup: 'Worker 分组', notify: '通知',
  alertGroup: '告警组', deleteNode: '删除任务', slots: '槽位', running: '运行中', groups: '分组',
  event: '事件', channel: '渠道', created: '创建时间', language: 'English', every: '每', any: '不指定 (?)',
  value: '指定', range: '区间', interval: '起始/步长', advanced: '高级：直接编辑表达式',
};
export const states = {
  en: {},
  zh: {
    succeeded: '成功', failed: '失败', running: '运行中', queued: '排队', dispatched: '已派发',
    delayed: '延时', killed: '已终止', paused: '暂停', stopped: '停止', skipped: '跳过',
    forbidden: '禁止执行', forced_success: '强制成功', need_fault_tolerance: '需要容错', 'not run': '未运行',
    ready_stop: '准备停止', ready_pause: '准备暂停', serial_wait: '串行等待', waiting_thread: '等待线程',
    submitted: '已提交', cancelled: '已取消', pending: '待发送', sent: '已发送',
  },
};
export const texts = { en, zh };
