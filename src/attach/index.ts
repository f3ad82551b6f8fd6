/** Attaching the focal loss to a user's network (attach.ts). */
export { COLLISION_PREFIX, attachLoss, defaultOpset } from './attach';
export type { AttachContext, AttachOptions, AttachedModel, TensorSig } from './attach';
