// The sessiond client for Node.js: Client (app socket), AdminClient (admin
// socket), the error classes and the protocol helpers. The express-session
// integration is 'sessiond/express'; the shared test daemon 'sessiond/testing'.
'use strict';

const errors = require('./errors');
const { Client, AdminClient, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS } = require('./client');
const { CircuitBreaker } = require('./breaker');
const protocol = require('./protocol');

module.exports = {
  Client, AdminClient, CircuitBreaker, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS,
  errors, protocol, ...errors,
};
