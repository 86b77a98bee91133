export * from './probe';
export * from './evaluate';
export * from './backfill';
export * from './features';
export * from './train';
export * from './score';
export * from './housekeeping';
