#!/usr/bin/env node
// Serves the example on 127.0.0.1:$PORT (8080) against the sessiond at
// $SESSIOND_ENDPOINT (tcp://127.0.0.1:5601, as examples/run-example.sh
// starts it). The demo is plain http: sessiond's [cookie] secure must be
// false for the browser to send the cookie back (run-example.sh does that).
'use strict';

const { sessiond } = require('./deps');
const { createApp } = require('./app');

const port = Number(process.env.PORT || 8080);
const client = new sessiond.Client(process.env.SESSIOND_ENDPOINT || 'tcp://127.0.0.1:5601');
const server = createApp({ client }).listen(port, '127.0.0.1', () => {
  console.log(`express_devices: http://127.0.0.1:${port}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
