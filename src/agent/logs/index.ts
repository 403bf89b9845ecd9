/** Machine output, line by line: followed from each Machine's log file, kept, logged and streamed. */
export { MachineLogs, type MachineLogsOptions, DEFAULT_KEEP_LINES, DEFAULT_MAX_LINE_BYTES, DEFAULT_ROTATE_BYTES } from './machine-logs.ts';
export type { MachineLogLine, LogReadOptions } from './log-line.ts';
