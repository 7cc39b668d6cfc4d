// The connection indicator and banner: the shared stream's status (the same
// in every tab of this browser), with when the next attempt is due.
import { $ } from './util.js';

export function createConnection(live) {
  let connection = { status: 'connecting', reason: '', nextAttempt: null };

  function text() {
    const { status, reason, nextAttempt } = connection;
    const inSecs = nextAttempt ? Math.max(0, Math.ceil((nextAttempt - Date.now()) / 1000)) : null;
    switch (status) {
      case 'live': return 'Live';
      case 'connecting': return 'Connecting…';
      case 'reconnecting': return inSecs ? `Reconnecting in ${inSecs} s` : 'Reconnecting…';
      case 'polling': return inSecs ? `Polling · retry in ${inSecs} s` : 'Polling';
      case 'unauthorized': return 'Unauthorized';
      default: return reason ? `Closed (${reason})` : 'Closed';
    }
  }

  function render() {
    const conn = $('conn');
    conn.dataset.status = connection.status;
    conn.title = connection.reason ? `${connection.status}: ${connection.reason}` : connection.status;
    $('conn-text').textContent = text();
    const banner = $('banner');
    if (connection.status === 'unauthorized') {
      banner.textContent = 'Not signed in. Open the dashboard through the link tidings printed when it started '
        + '(http://127.0.0.1:PORT/?token=…); it sets a cookie and brings you back here.';
      banner.hidden = false;
    } else if (connection.status === 'polling') {
      banner.textContent = 'The live stream is down; the list is refreshed periodically until it is back.';
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  live.onStatus((report) => {
    connection = report;
    render();
  });
  render();
  return {
    /** Called every second: the countdown to the next attempt. */
    tick() { if (connection.nextAttempt) $('conn-text').textContent = text(); },
  };
}
