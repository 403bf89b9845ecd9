import { randomBytes } from 'node:crypto';

/** A Fly-style machine id: 14 lowercase hex characters (56 random bits). */
export function machineId(): string {
  return randomBytes(7).toString('hex');
}

/** True when `id` has the shape of a machine id. */
export function isMachineId(id: string): boolean {
  return /^[0-9a-f]{14}$/.test(id);
}

/** An instance (version) id: sortable by creation time, like Fly's ULID-ish ids. */
export function instanceId(now: number = Date.now()): string {
  return now.toString(36).toUpperCase().padStart(10, '0') + randomBytes(8).toString('hex').toUpperCase();
}

/** A short random id for events, requests and tokens' public parts. */
export function shortId(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** A bearer token: 32 random bytes, url-safe. */
export function token(): string {
  return randomBytes(32).toString('base64url');
}

// 32 × 32 × 10,000 ≈ 10M names. Random names still collide by the birthday bound (even
// odds near ~3,800 live machines in one app), so callers retry a taken generated name.
const ADJECTIVES = [
  'quiet', 'bold', 'misty', 'lively', 'silent', 'ancient', 'young', 'bright', 'calm', 'swift', 'amber', 'autumn',
  'billowing', 'crimson', 'dawn', 'divine', 'falling', 'gentle', 'hidden', 'icy', 'little', 'long', 'morning', 'patient',
  'polished', 'proud', 'red', 'restless', 'rough', 'snowy', 'sparkling', 'wandering',
];
const NOUNS = [
  'river', 'meadow', 'sun', 'forest', 'cloud', 'field', 'wave', 'glade', 'frost', 'dune', 'bird', 'breeze',
  'brook', 'bush', 'dew', 'dust', 'feather', 'fire', 'flower', 'fog', 'grass', 'haze', 'hill', 'lake',
  'leaf', 'moon', 'mountain', 'night', 'paper', 'pine', 'pond', 'rain',
];

/** A friendly generated machine name, e.g. "misty-river-4821". */
export function machineName(): string {
  const bytes = randomBytes(4);
  const adjective = ADJECTIVES[bytes[0]! % ADJECTIVES.length]!;
  const noun = NOUNS[bytes[1]! % NOUNS.length]!;
  return `${adjective}-${noun}-${bytes.readUInt16BE(2) % 10000}`;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `n` random lowercase letters and digits (rejection-free: 256 % 36 bias is negligible here). */
function randomAlnum(n: number): string {
  return [...randomBytes(n)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]!).join('');
}

/** A Fly-style volume id: `vol_` + 16 lowercase letters and digits. */
export function volumeId(): string {
  return `vol_${randomAlnum(16)}`;
}

/** True when `id` has the shape of a volume id. */
export function isVolumeId(id: string): boolean {
  return /^vol_[a-z0-9]{16}$/.test(id);
}

/** A volume snapshot id: `vs_` + 16 lowercase letters and digits. */
export function snapshotId(): string {
  return `vs_${randomAlnum(16)}`;
}
