import { MemoryRemote } from '../../../src/remote/memory.js';
import { runRemoteContract } from '../../helpers/remote-contract.js';

runRemoteContract('memory', async () => ({ remote: new MemoryRemote() }));
