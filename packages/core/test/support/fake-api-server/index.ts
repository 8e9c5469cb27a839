export { FakeApiServer, type FakeApiServerOptions, type RecordedRequest, type Verb } from './fake-api-server.js';
