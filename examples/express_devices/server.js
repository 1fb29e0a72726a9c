#!/usr/bin/env node
// Serves the example on 127.0.0.1:$PORT (8080) against the sessiond at
// $SESSIOND_ENDPOINT (ipc://build/example/data/app.sock, as
// examples/run-example.sh starts it; else the client's default,
// ipc://sessiond-data/app.sock). The demo is plain http: sessiond's [cookie]
// secure must be false for the browser to send the cookie back
// (run-example.sh does that).
'use strict';

const { sessiond } = require('./deps');
const { createApp } = require('./app');

const port = Number(process.env.PORT || 8080);
const client = new sessiond.Client(process.env.SESSIOND_ENDPOINT || sessiond.DEFAULT_ENDPOINT);
const server = createApp({ client }).listen(port, '127.0.0.1', () => {
  console.log(`express_devices: http://127.0.0.1:${port}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
