/**
 * Runs once before the suite: nothing yet. Services (redis-server) are started by the
 * tests that need them, on a free loopback port (see test/helpers/redis.ts).
 */
export default function setup(): void {}
