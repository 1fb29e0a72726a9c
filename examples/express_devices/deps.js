// The example runs on the packages clients/node installed (npm ci there):
// resolve them from that package, so the example needs no install of its own.
'use strict';

const { createRequire } = require('node:module');
const path = require('node:path');

const CLIENT = path.resolve(__dirname, '..', '..', 'clients', 'node');
const fromClient = createRequire(path.join(CLIENT, 'package.json'));

module.exports = {
  express: fromClient('express'),
  sessiond: require(path.join(CLIENT, 'lib')),
  sessiondExpress: require(path.join(CLIENT, 'lib', 'express')),
  CLIENT,
};
