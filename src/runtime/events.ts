import { EventEmitter } from 'node:events';
import type { RunState, TaskState } from './store/records.ts';

/** What the runtime reports as it works. Each is emitted after the change is in the store. */
export interface RuntimeEventMap {
  task: [
    {
      dagId: string;
      runId: string;
      taskId: string;
      mapIndex: number;
      state: TaskState;
      tryNumber: number;
      nextTryAt?: string;
      error?: string;
      duration?: number;
      logPath?: string;
    },
  ];
  run: [{ dagId: string; runId: string; state: RunState; reason?: string }];
  expanded: [{ dagId: string; runId: string; taskId: string; count: number }];
  log: [{ dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number; line: string }];
  warning: [{ dagId?: string; runId?: string; taskId?: string; message: string }];
  'slot-freed': [{}];
}

export type TaskEvent = RuntimeEventMap['task'][0];
export type RunEvent = RuntimeEventMap['run'][0];

export class RuntimeEvents extends EventEmitter<RuntimeEventMap> {
  constructor() {
    super();
    // Every active run listens (for freed slots); a scheduler may run hundreds at once.
    this.setMaxListeners(0);
  }
}
