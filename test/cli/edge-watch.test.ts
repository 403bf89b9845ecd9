import { test } from 'node:test';
import { fails, runAloft } from './cli-runner.ts';

test('aloft edge watch refuses bad flags, naming the flag, the value and the rule', async () => {
  fails(await runAloft(['edge', 'watch', '--bird-socket', '/nonexistent.ctl', '--proxy', 'nohost'], {}), /'proxy' must be HOST:PORT or \[IPv6\]:PORT of the local proxy: got "nohost"/);
  fails(await runAloft(['edge', 'watch', '--bird-socket', '/nonexistent.ctl', '--probe-interval', 'soon'], {}), /'probe-interval' must be a positive duration such as "200ms" or "1s": got "soon"/);
  fails(await runAloft(['edge', 'watch', '--bird-socket', '/nonexistent.ctl', '--failures', '0'], {}), /'failures' must be an integer from 1 to 100: got "0"/);
  fails(await runAloft(['edge', 'watch', '--bird-socket', '/nonexistent.ctl', '--sessions', ' , '], {}), /'sessions' must be one or more of bird's protocol names/);
});

test('aloft edge watch needs a running bird behind its socket', async () => {
  fails(await runAloft(['edge', 'watch', '--bird-socket', '/nonexistent.ctl', '--proxy', '127.0.0.1:1'], {}), /'bird-socket' must be the control socket of a running bird: got "\/nonexistent.ctl"/);
});
