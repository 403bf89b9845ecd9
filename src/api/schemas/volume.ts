import { z } from 'zod';
import { SNAPSHOT_STATUSES, VOLUME_STATES } from '../../model/index.ts';

/** A Volume as the API renders it (src/api/render-volume.ts): Fly's `Volume`. */
export const volumeResponseSchema = z
  .object({
    id: z.string().meta({ description: '`vol_` + 16 lowercase letters and digits' }),
    name: z.string(),
    state: z.enum(VOLUME_STATES),
    region: z.string(),
    zone: z.string().meta({ description: 'The host whose disk holds the volume.' }),
    size_gb: z.number().int(),
    encrypted: z.boolean(),
    fstype: z.literal('ext4'),
    snapshot_retention: z.number().int(),
    auto_backup_enabled: z.boolean(),
    attached_machine_id: z.string().nullable(),
    attached_alloc_id: z.string().nullable(),
    host_status: z.literal('ok'),
    created_at: z.string(),
  })
  .meta({ title: 'Volume' });

/** `PUT …/extend`: Fly's `ExtendVolumeResponse`. */
export const extendVolumeResponseSchema = z
  .object({
    volume: volumeResponseSchema,
    needs_restart: z.boolean().meta({ description: 'True when a Machine has it mounted: it sees the new size after a restart (online resize needs CAP_SYS_RESOURCE on the host).' }),
  })
  .meta({ title: 'ExtendVolumeResponse' });

/** A snapshot: Fly's `VolumeSnapshot`. */
export const volumeSnapshotResponseSchema = z
  .object({
    id: z.string(),
    status: z.enum(SNAPSHOT_STATUSES),
    size: z.number().int().meta({ description: 'Bytes the copy takes on disk (sparse); 0 until taken.' }),
    digest: z.string().meta({ description: '`sha256:` of the image; empty until taken.' }),
    volume_size: z.number().int().meta({ description: "The volume's size_gb when taken." }),
    created_at: z.string(),
  })
  .meta({ title: 'VolumeSnapshot' });
