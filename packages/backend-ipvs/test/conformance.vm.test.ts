import { describeConformance } from '@kplane/conformance';
import ipvs from '../src/index.js';

// The backend conformance kit, in the VM's IPVS kernel (scripts/ipvs-vm/run-tests.sh).
describeConformance({ name: 'ipvs', backend: ipvs });
