export * from './probe';
export * from './evaluate';
