import { memoryStore } from '../../src/stores/memory.js';
import { storeContract } from './contract.js';

let clock = 1_000_000;
storeContract('memory', {
  store: () => memoryStore({ now: () => clock }),
  advance: (ms) => {
    clock += ms;
  },
});
