/** flycast: apps' private IPv6 addresses served through the proxy (`aloft ips allocate-v6 --private`, `<app>.flycast`). */
export { allocateFlycastIp, FLYCAST_HOST, flycastAddress, isFlycastAddress } from './flycast-address.ts';
export { FlycastDirectory, type FlycastSource } from './flycast-directory.ts';
export { FlycastListeners, type FlycastListenersOptions } from './flycast-listeners.ts';
export { loopbackAssigner, type AddressAssigner } from './loopback-assigner.ts';
