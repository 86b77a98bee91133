export * from './probe';
export * from './backfill';
