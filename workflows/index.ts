export * from './probe';
export * from './evaluate';
export * from './backfill';
