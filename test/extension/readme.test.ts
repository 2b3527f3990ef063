/**
 * The README is packaged into the .vsix, and vsce refuses a README with relative links
 * (it cannot know the repository they point into): every e2e suite then fails at packaging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

test('README: no relative links (vsce cannot package them)', () => {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const relative = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((href) => !/^(https?:|mailto:|#)/.test(href));
  assert.deepEqual(relative, [], 'write paths as `code`, or link to an absolute URL');
});
