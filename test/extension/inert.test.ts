/** Hostile text shown inert (issue #16): src/protocol/inert.ts, and the DAG hover and run messages that use it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inertLine, inertText, markdownText } from '../../src/protocol/inert.ts';
import { dagTooltip } from '../../src/vscode/dags-model.ts';
import { endOfRunMessage, taskInstanceRow } from '../../src/vscode/runs-model.ts';
import type { RunInfo, TaskInstanceInfo } from '../../src/protocol/runtime.ts';

const ANSI =
  '\x1b[31mred\x1b[0m \x1b]8;;javascript:alert(1)\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07\x1b[2J\x1b[Hclear \x9b1mcsi8';
const BIDI = 'user\u202Egnp.exe\u202C \u2066iso\u2069 \u200Fmark';

test('inertText removes ANSI escapes (colours, OSC 8 links, titles, C1 CSI), marks bidi controls and shows other controls as pictures', () => {
  assert.equal(inertText(ANSI), 'red link clear csi8');
  assert.equal(inertText(BIDI), 'user⟦U+202E⟧gnp.exe⟦U+202C⟧ ⟦U+2066⟧iso⟦U+2069⟧ ⟦U+200F⟧mark');
  assert.equal(inertText('a\x00b\x07c\x7fd\te\nf\r\n\x1b'), 'a␀b␇c␡d\te\nf\r\n␛');
  const plain = '<script>alert(1)</script> ünïcödé 日本 עברית';
  assert.equal(
    inertText(plain),
    plain,
    'markup and right-to-left letters are left alone (never parsed; no control to act on)',
  );
});

test('inertLine cuts long text, and a 1 MiB string quickly', () => {
  assert.equal(inertLine('x'.repeat(20), 10), 'xxxxxxxxxx…');
  assert.equal(inertLine(`${'\u202E'.repeat(3)}abc`, 12), '⟦U+202E⟧⟦U+2…');
  assert.equal(inertLine('y'.repeat(1 << 20), 100).length, 101);
});

test('markdownText: Markdown and HTML render as the characters written', () => {
  assert.equal(
    markdownText('[x](javascript:alert(1)) **b** <img src=x onerror=y> a & b'),
    '\\[x\\]\\(javascript:alert\\(1\\)\\) \\*\\*b\\*\\* &lt;img src=x onerror=y&gt; a &amp; b',
  );
});

test('the DAG hover shows a hostile description as text, cut at 1,000 characters; run messages and tooltips show errors inert', () => {
  const d = {
    dagId: 'h',
    file: '/w/dags/h.ts',
    description: `<script>x</script> [l](javascript:a) ${BIDI} ${ANSI} ${'long '.repeat(400)}`,
    schedule: null,
    timezone: 'UTC',
    isPaused: false,
    tags: [],
    position: null,
    tasks: [],
    nextRun: null,
  };
  const md = dagTooltip(d).split('\n\n')[1]!;
  assert.ok(
    md.startsWith(
      '&lt;script&gt;x&lt;/script&gt; \\[l\\]\\(javascript:a\\) user⟦U\\+202E⟧gnp\\.exe⟦U\\+202C⟧',
    ),
    md.slice(0, 120),
  );
  assert.ok(md.endsWith('…') && md.length < 1300, String(md.length));
  assert.doesNotMatch(md, /[\u202A-\u202E\u2066-\u2069\x1b]/);

  const run = {
    dagId: 'h',
    runId: 'r',
    state: 'failed',
    startDate: null,
    endDate: null,
    logicalDate: '2024-01-01T00:00:00Z',
    conf: { note: BIDI },
    runType: 'manual',
  } as unknown as RunInfo;
  const ti = {
    dagId: 'h',
    runId: 'r',
    taskId: 't',
    mapIndex: -1,
    state: 'failed',
    tryNumber: 1,
    maxTries: 1,
    error: `Error: ${BIDI} ${ANSI}\n${'z'.repeat(5000)}`,
    duration: 1,
    startDate: null,
    nextTryAt: null,
  } as unknown as TaskInstanceInfo;
  const msg = endOfRunMessage(run, [ti]).message;
  assert.match(
    msg,
    /task t failed: Error: user⟦U\+202E⟧gnp\.exe⟦U\+202C⟧ ⟦U\+2066⟧iso⟦U\+2069⟧ ⟦U\+200F⟧mark red link clear csi8\./,
  );
  const tip = taskInstanceRow(ti).tooltip;
  assert.doesNotMatch(tip, /[\u202A-\u202E\u2066-\u2069\x1b]/);
  assert.ok(tip.length < 1200, 'the tooltip cuts the 5,000-character error');
});
