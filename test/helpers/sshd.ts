/** The tests' OpenSSH harness: the module `npm run demo:sftp` uses too (scripts/lib/sshd.ts). */
export * from '../../scripts/lib/sshd.ts';
